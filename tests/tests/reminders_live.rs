//! Service levels live, end to end through `socialcare-local` (SQLite): a ticket under a
//! 1-minute first-response target is warned about half way, and escalates within 2 s of its
//! deadline: one signed notice to the escalation target, the breach and the raised priority
//! on its trail, and nothing sent twice.

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::events::{
    fixture_accounts_without_acknowledgements, signature, x_activity_mention, x_signature,
};
use socialcare_tests::runner::Driver;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const X_SECRET: &str = "x-consumer-secret-for-live-reminders";
const INTEGRATION_SECRET: &str = "whsec_reminders_live";
const ADMIN_KEY: &str = "sk_reminders_live_admin";
const BRAND: &str = "1100000000000000001";
const HOOK: &str = "/hooks/breach";

/// One notice as the escalation target received it.
#[derive(Debug, Clone)]
struct Received {
    /// Taken by the target as the request came in.
    at: DateTime<Utc>,
    raw: Vec<u8>,
    body: Value,
    idempotency_key: Option<String>,
    signature: Option<String>,
}

/// The escalation target: answers 200 and records when each notice came.
#[derive(Clone, Default)]
struct Target {
    received: Arc<Mutex<Vec<Received>>>,
}

impl Respond for Target {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let at = Utc::now();
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        self.received.lock().unwrap().push(Received {
            at,
            raw: request.body.clone(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            idempotency_key: header("idempotency-key"),
            signature: header("x-socialcare-signature"),
        });
        ResponseTemplate::new(200)
    }
}

impl Target {
    fn with_reason(&self, reason: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.body["reason"] == reason)
            .cloned()
            .collect()
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The events of `kind` on a ticket's trail.
fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_minute_first_response_target_escalates_within_two_seconds_of_its_deadline() {
    let hooks = MockServer::start().await;
    let target = Target::default();
    Mock::given(matchers::method("POST"))
        .and(matchers::path(HOOK))
        .respond_with(target.clone())
        .mount(&hooks)
        .await;

    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(&config, fixture_accounts_without_acknowledgements()).unwrap();
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe { std::env::set_var("X_CONSUMER_SECRET", X_SECRET) };
    let driver = Driver::start_with_config(
        data.path(),
        false,
        INTEGRATION_SECRET,
        ADMIN_KEY,
        Some(config),
    )
    .await;

    // The account's service levels: answer within a minute, warn half way, escalate to the
    // local target (tickets without a team use the account's URL).
    let policies = json!({"policies": {BRAND: {
        "targets": {"normal": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 60}},
        "warn_at_percent": 50,
        "escalation_url": format!("{}{HOOK}", hooks.uri()),
    }}});
    let response = reqwest::Client::new()
        .put(format!("{}/v1/sla-policies", driver.base))
        .bearer_auth(&driver.api_key)
        .json(&policies)
        .send()
        .await
        .expect("runner answers");
    let status = response.status();
    let stored: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{stored}");

    // The customer writes now (platform time in whole seconds, as X's `created_at` gives it).
    let created_at = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let due_at = created_at + Span::seconds(60);
    let warn_at = created_at + Span::seconds(30);
    let bytes = serde_json::to_vec(&x_activity_mention(
        1992600000000000101,
        "@acme_care my order never arrived, can someone help?",
        created_at,
    ))
    .unwrap();
    let (status, answer) = driver
        .post_raw(
            "/webhooks/x",
            &[(
                "x-twitter-webhooks-signature",
                x_signature(X_SECRET, &bytes),
            )],
            bytes,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let ticket_id = tickets[0]["id"].as_str().unwrap().to_string();
    let (status, detail) = driver.get(&format!("/v1/tickets/{ticket_id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let ticket = &detail["ticket"];
    assert_eq!(ticket["priority"], "normal", "{ticket}");
    let response_timer = &ticket["timers"]["response"];
    assert_eq!(response_timer["measure"], "first_response", "{ticket}");
    assert_eq!(instant(&response_timer["due_at"]), due_at, "{ticket}");
    // Checked last, with the warning notice, so that a wrong warning time still lets the
    // breach be measured.
    let shown_warn_at = instant(&response_timer["warn_at"]);

    // Wait for the breach notice.
    let give_up = Utc::now() + Span::seconds(90);
    let (seen_at, breach) = loop {
        if let Some(breach) = target.with_reason("sla_breach").into_iter().next() {
            break (Utc::now(), breach);
        }
        assert!(
            Utc::now() < give_up,
            "no breach notice 90 s after the message; received: {:?}",
            target.received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let late = (breach.at - due_at).num_milliseconds();
    eprintln!(
        "breach notice {late} ms after the deadline (seen by the test {} ms after it)",
        (seen_at - due_at).num_milliseconds()
    );
    assert!(
        breach.at >= due_at,
        "the breach notice came {} ms before the deadline",
        -late
    );
    assert!(late <= 2000, "the breach notice came {late} ms late");

    // The breach notice itself.
    let body = &breach.body;
    assert_eq!(body["type"], "escalation", "{body}");
    assert_eq!(body["reason"], "sla_breach", "{body}");
    assert_eq!(body["measure"], "first_response", "{body}");
    assert_eq!(body["ticket_id"], ticket_id.as_str(), "{body}");
    assert_eq!(body["account"], BRAND, "{body}");
    assert_eq!(
        body["due_at"],
        due_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "{body}"
    );
    assert_eq!(instant(&body["due_at"]), due_at, "{body}");
    let notice_id = body["id"].as_str().expect("a notice id").to_string();
    assert_eq!(
        breach.idempotency_key.as_deref(),
        Some(notice_id.as_str()),
        "{breach:?}"
    );
    // Signed with the integration secret over the exact bytes, checked here independently.
    let header = breach.signature.as_deref().expect("a signed notice");
    let signed_at = header
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(|| panic!("{header}"));
    assert_eq!(
        header,
        signature(INTEGRATION_SECRET, signed_at, &breach.raw),
        "the signature covers the body"
    );

    // The ticket's trail: breached once, raised to high, the target told.
    let mut events = Vec::new();
    for _ in 0..50 {
        let (status, body) = driver.get(&format!("/v1/tickets/{ticket_id}/events")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        events = body["events"].as_array().cloned().unwrap_or_default();
        let notified = of_kind(&events, "notified");
        if notified.iter().any(|e| e["reason"] == "sla_breach") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trail = serde_json::to_string_pretty(&events).unwrap();
    let breached = of_kind(&events, "sla_breached");
    assert_eq!(breached.len(), 1, "{trail}");
    assert_eq!(breached[0]["measure"], "first_response", "{trail}");
    assert_eq!(instant(&breached[0]["due_at"]), due_at, "{trail}");
    let raised = of_kind(&events, "priority_changed");
    assert_eq!(raised.len(), 1, "{trail}");
    assert_eq!(raised[0]["from"], "normal", "{trail}");
    assert_eq!(raised[0]["to"], "high", "{trail}");
    let told: Vec<_> = of_kind(&events, "notified")
        .into_iter()
        .filter(|e| e["reason"] == "sla_breach")
        .collect();
    assert_eq!(told.len(), 1, "{trail}");
    assert_eq!(told[0]["notice_id"], notice_id.as_str(), "{trail}");
    assert_eq!(told[0]["target"], "account", "{trail}");
    assert!(
        of_kind(&events, "notification_failed").is_empty(),
        "{trail}"
    );
    let (_, detail) = driver.get(&format!("/v1/tickets/{ticket_id}")).await;
    assert_eq!(detail["ticket"]["priority"], "high", "{detail}");

    // Nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(target.with_reason("sla_breach").len(), 1);
    assert_eq!(target.with_reason("sla_warning").len(), 1);
    // Warned once, half way, before the breach.
    let warnings = target.with_reason("sla_warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    eprintln!(
        "warning notice {} ms after the expected warn_at {warn_at} (the ticket showed {shown_warn_at})",
        (warning.at - warn_at).num_milliseconds()
    );
    assert_eq!(
        shown_warn_at, warn_at,
        "50 % of a 1-minute target is 30 s after the first message"
    );
    assert!(warning.at >= warn_at, "{warning:?}");
    assert!(warning.at <= breach.at, "{warning:?}");
    assert_eq!(warning.body["measure"], "first_response");
    assert_eq!(warning.body["ticket_id"], ticket_id.as_str());
    assert_eq!(instant(&warning.body["due_at"]), due_at);

    driver.running.stop().await.unwrap();
}
