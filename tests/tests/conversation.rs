//! The scripted conversation of issue #4, through socialcare-local's webhooks and API: a public
//! complaint, the brand's public reply, the customer's DM, the agent's DM, resolved; the
//! customer back after 2 days (the ticket reopens), and again 5 days later (a new ticket,
//! with the same owner).

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::events::x_signature;
use socialcare_tests::runner::Driver;

const X_SECRET: &str = "x-secret-for-the-story";
const BRAND: &str = "1100000000000000001";
const ANN: &str = "3001969357";

fn user(id: &str) -> Value {
    match id {
        BRAND => json!({"id_str": BRAND, "name": "Acme Care", "screen_name": "acme_care"}),
        _ => {
            json!({"id_str": id, "name": "Ann Lee", "screen_name": "lee_ann", "followers_count": 310})
        }
    }
}

fn tweet(
    id: &str,
    from: &str,
    text: &str,
    at: DateTime<Utc>,
    reply_to: Option<(&str, &str)>,
) -> Value {
    json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "id_str": id,
            "text": text,
            "truncated": false,
            "in_reply_to_status_id_str": reply_to.map(|(status, _)| status),
            "in_reply_to_user_id_str": reply_to.map(|(_, user)| user),
            "user": user(from),
            "timestamp_ms": at.timestamp_millis().to_string(),
        }]
    })
}

fn dm(id: &str, from: &str, to: &str, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "for_user_id": BRAND,
        "direct_message_events": [{
            "type": "message_create",
            "id": id,
            "created_timestamp": at.timestamp_millis().to_string(),
            "message_create": {
                "target": {"recipient_id": to},
                "sender_id": from,
                "message_data": {"text": text}
            }
        }],
        "users": {from: {"id": from, "name": user(from)["name"], "screen_name": user(from)["screen_name"]}}
    })
}

async fn deliver(driver: &Driver, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let signature = x_signature(X_SECRET, &bytes);
    let (status, answer) = driver
        .post_raw(
            "/webhooks/x",
            &[("x-twitter-webhooks-signature", signature)],
            bytes,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["queued"], 1, "{answer}");
}

/// Waits until the API shows `count` messages in all, then returns the tickets, newest first.
async fn tickets_with(driver: &Driver, count: u64) -> Vec<Value> {
    driver
        .tickets_when(|tickets| {
            tickets
                .iter()
                .map(|t| t["message_count"].as_u64().unwrap())
                .sum::<u64>()
                == count
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_story_of_one_customer() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(
        &config,
        // Acknowledgements off: this story counts the customer's and the agents' messages.
        format!("[[accounts]]\nplatform = \"x\"\nid = \"{BRAND}\"\n[accounts.acknowledgement]\nenabled = false\n\n[[teams]]\nname = \"support\"\nmembers = [\"sally\", \"tim\"]\n"),
    )
    .unwrap();
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe { std::env::set_var("X_CONSUMER_SECRET", X_SECRET) };
    let driver = Driver::start_with_config(
        data.path(),
        false,
        "whsec_story",
        "sk_story_admin_key",
        Some(config),
    )
    .await;
    for name in ["sally", "tim"] {
        let (status, _) = driver
            .post_api("/v1/api-keys", &json!({"name": name, "role": "agent"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    // Platforms give milliseconds.
    let t0 = DateTime::from_timestamp_millis((Utc::now() - Duration::hours(1)).timestamp_millis())
        .unwrap();
    // 1. the public complaint
    deliver(
        &driver,
        &tweet(
            "9001",
            ANN,
            "@acme_care no internet since 6am, again",
            t0,
            None,
        ),
    )
    .await;
    // 2. the brand answers in public, natively on X, 20 minutes later
    deliver(
        &driver,
        &tweet(
            "9002",
            BRAND,
            "@lee_ann Sorry Ann! Can you DM us?",
            t0 + Duration::minutes(20),
            Some(("9001", ANN)),
        ),
    )
    .await;
    // 3. the customer's DM
    deliver(
        &driver,
        &dm(
            "7001",
            ANN,
            BRAND,
            "Account 55-1234-9",
            t0 + Duration::minutes(30),
        ),
    )
    .await;
    let tickets = tickets_with(&driver, 3).await;
    assert_eq!(
        tickets.len(),
        1,
        "public complaint, reply and DM are one ticket"
    );
    let ticket_id = tickets[0]["id"].as_str().unwrap().to_string();

    // 4. an agent takes it, answers by DM, resolves it
    let (status, assigned) = driver
        .post_api(
            &format!("/v1/tickets/{ticket_id}/assign"),
            &json!({"team": "support"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    let owner = assigned["ticket"]["owner"].as_str().unwrap().to_string();
    assert_eq!(owner, "sally");
    deliver(
        &driver,
        &dm(
            "7002",
            BRAND,
            ANN,
            "An engineer comes at 2pm",
            t0 + Duration::minutes(45),
        ),
    )
    .await;
    tickets_with(&driver, 4).await;
    let (status, _) = driver
        .post_api(
            &format!("/v1/tickets/{ticket_id}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, detail) = driver.get(&format!("/v1/tickets/{ticket_id}")).await;
    let first_response =
        DateTime::parse_from_rfc3339(detail["ticket"]["first_response_at"].as_str().unwrap())
            .unwrap();
    assert_eq!(
        first_response,
        t0 + Duration::minutes(20),
        "the public reply is the first response"
    );
    let created =
        DateTime::parse_from_rfc3339(detail["ticket"]["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(created, t0);
    assert_eq!(detail["customer"]["name"], "Ann Lee");

    // 5. two days later Ann writes again: within 72 h of the resolution, the ticket reopens
    deliver(
        &driver,
        &dm(
            "7003",
            ANN,
            BRAND,
            "It dropped again tonight",
            Utc::now() + Duration::days(2),
        ),
    )
    .await;
    let tickets = tickets_with(&driver, 5).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["status"], "open");
    let (status, _) = driver
        .post_api(
            &format!("/v1/tickets/{ticket_id}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // 6. five days after that: a new ticket, and Sally, who knows the story, gets it
    deliver(
        &driver,
        &dm(
            "7004",
            ANN,
            BRAND,
            "New problem: the bill",
            Utc::now() + Duration::days(7),
        ),
    )
    .await;
    let tickets = tickets_with(&driver, 6).await;
    assert_eq!(tickets.len(), 2);
    let newest = &tickets[0];
    assert_ne!(newest["id"], ticket_id);
    assert_eq!(newest["status"], "open");
    assert_eq!(newest["owner"], "sally");
    assert_eq!(newest["team"], "support");
    assert_eq!(newest["first_response_at"], Value::Null);
    assert_eq!(newest["customer_id"], tickets[1]["customer_id"]);

    // The customer's history has both, newest first; the trail tells what happened.
    let customer = newest["customer_id"].as_str().unwrap();
    let (_, history) = driver.get(&format!("/v1/customers/{customer}")).await;
    let ids: Vec<&str> = history["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newest["id"].as_str().unwrap(), ticket_id.as_str()]);
    // The trail is in time order: platform times for messages (the return is dated two days
    // ahead), the server's for the agents' actions.
    let (_, events) = driver.get(&format!("/v1/tickets/{ticket_id}/events")).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",        // t0, the complaint
            "message_added",  // t0+20m, the public reply
            "message_added",  // t0+30m, the DM
            "message_added",  // t0+45m, the agent's DM
            "assigned",       // now, to sally
            "status_changed", // now, resolved
            "status_changed", // now, resolved again after the reopening
            "message_added",  // now+2d, Ann is back
            "status_changed", // now+2d, reopened by her message
        ]
    );
    driver.running.stop().await.unwrap();
}
