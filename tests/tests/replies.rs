//! Replies end to end through `socialcare-local` (SQLite), with X faked by a local HTTP server:
//! a burst of complaints is acknowledged once, an agent's reply waits out a 429 until the
//! reset and is posted once, and X's echo of the post joins the reply.

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::events::{FIXTURE_ACCOUNTS, x_activity_mention};
use socialcare_tests::runner::Driver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const X_SECRET: &str = "x-consumer-secret-for-replies";
const BRAND: &str = "1100000000000000001";
const CUSTOMER: &str = "3001969357";

/// Fake `POST /2/tweets`: accepts, except the second post, which is over the rate limit
/// until two seconds later. Records when each request came.
#[derive(Clone, Default)]
struct FakeTweets {
    calls: Arc<Mutex<Vec<(SystemTime, Value)>>>,
    reset: Arc<Mutex<Option<u64>>>,
}

impl Respond for FakeTweets {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut calls = self.calls.lock().unwrap();
        calls.push((SystemTime::now(), body.clone()));
        if calls.len() == 2 {
            let reset = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 2;
            *self.reset.lock().unwrap() = Some(reset);
            return ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "100")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(json!({"title": "Too Many Requests", "status": 429, "detail": "Too Many Requests"}));
        }
        let id = format!("19925000000000009{:02}", calls.len());
        ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": body["text"]}}))
    }
}

/// X sending the brand's own reply back through the webhook.
fn echo(id: &str, parent: u64, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "created_at": at.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "id_str": id,
            "text": format!("@furiouscamper {text}"),
            "in_reply_to_status_id_str": parent.to_string(),
            "in_reply_to_user_id_str": CUSTOMER,
            "user": {"id_str": BRAND, "name": "Acme Care", "screen_name": "acme_care"},
            "entities": {"hashtags": [], "urls": [], "user_mentions": []},
            "timestamp_ms": at.timestamp_millis().to_string()
        }]
    })
}

async fn post_x(driver: &Driver, body: &Value) {
    driver.post_x(body, X_SECRET).await;
}

/// Polls the ticket until `done` holds (at most ~15 s).
async fn ticket_when(driver: &Driver, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let (status, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        if done(&detail) {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ticket {id} never got there");
}

fn delivery_states(detail: &Value) -> Vec<String> {
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["delivery"]["state"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn acknowledged_once_answered_after_the_rate_limit_and_joined_by_the_echo() {
    let x = MockServer::start().await;
    let tweets = FakeTweets::default();
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/2/tweets"))
        .respond_with(tweets.clone())
        .mount(&x)
        .await;

    let (_data, driver) = Driver::start_with_fake_x(
        "replies",
        "sk_replies_key_0001",
        FIXTURE_ACCOUNTS,
        &x.uri(),
        X_SECRET,
    )
    .await;

    // A burst: five angry tweets in two minutes.
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 14, 0).unwrap();
    let first_id = 1992500000000000101u64;
    for n in 0..5u64 {
        let text = format!("@acme_care still no internet, day {n}!!");
        post_x(
            &driver,
            &x_activity_mention(first_id + n, &text, start + Span::seconds(20 * n as i64)),
        )
        .await;
    }
    let tickets = driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 6)
        .await;
    let ticket_id = tickets[0]["id"].as_str().unwrap().to_string();
    let detail = ticket_when(&driver, &ticket_id, |d| delivery_states(d) == ["sent"]).await;
    // Give the sender time to (wrongly) post a second acknowledgement.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = tweets.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one acknowledgement for the burst");
    assert_eq!(
        calls[0].1,
        json!({
            "text": "Thanks for reaching out, Jordan Brinks. We've seen this and a person from our team will answer you shortly.",
            "reply": {"in_reply_to_tweet_id": first_id.to_string()}
        })
    );
    let requests = x.received_requests().await.unwrap();
    let authorization = requests[0].headers["authorization"].to_str().unwrap();
    assert!(authorization.starts_with("OAuth "), "{authorization}");
    assert!(
        authorization.contains("oauth_consumer_key=\"ck-replies\""),
        "{authorization}"
    );
    assert!(
        authorization.contains(&format!("oauth_token=\"{BRAND}-at\"")),
        "{authorization}"
    );
    let ack = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["delivery"].is_object())
        .unwrap();
    assert_eq!(ack["delivery"]["automatic"], true);
    assert_eq!(ack["delivery"]["platform_id"], "1992500000000000901");
    assert_eq!(detail["ticket"]["first_response_at"], Value::Null);

    // The agent answers in public; X says 429 until two seconds later.
    let text = "Sorry Jordan, we can see an outage in Boulder. Can you DM us your account number?";
    let (status, accepted) = driver
        .post_api(
            &format!("/v1/tickets/{ticket_id}/replies"),
            &json!({"text": text, "channel": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["message"]["delivery"]["state"], "pending");
    let reply_id = accepted["message"]["id"].as_str().unwrap().to_string();
    let detail = ticket_when(&driver, &ticket_id, |d| {
        delivery_states(d) == ["sent", "sent"]
    })
    .await;
    let calls = tweets.calls.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        3,
        "the limited attempt and the one after the reset"
    );
    let reset = tweets.reset.lock().unwrap().expect("a 429 was answered");
    let retried_at = calls[2].0.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(
        retried_at >= reset,
        "retried at {retried_at}, reset at {reset}"
    );
    for (_, body) in &calls[1..] {
        assert_eq!(
            *body,
            json!({"text": text, "reply": {"in_reply_to_tweet_id": (first_id + 4).to_string()}})
        );
    }
    let reply = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == reply_id.as_str())
        .unwrap();
    assert_eq!(reply["delivery"]["platform_id"], "1992500000000000903");
    assert_eq!(reply["delivery"]["attempts"], 2);
    assert!(detail["ticket"]["first_response_at"].is_string());

    // X's echo of the agent's post is the same message; the customer's next tweet, in the
    // same ordered group behind the echo, shows when the echo has been ingested.
    post_x(
        &driver,
        &echo("1992500000000000903", first_id + 4, text, Utc::now()),
    )
    .await;
    post_x(
        &driver,
        &x_activity_mention(first_id + 5, "@acme_care ok, sent you a DM", Utc::now()),
    )
    .await;
    driver.tickets_when(|t| t[0]["message_count"] == 8).await;
    let (_, detail) = driver.get(&format!("/v1/tickets/{ticket_id}")).await;
    let external_ids: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(external_ids.len(), 8, "{external_ids:?}");
    assert!(
        !external_ids.contains(&"1992500000000000903"),
        "{external_ids:?}"
    );
    assert_eq!(tweets.calls.lock().unwrap().len(), 3);
    driver.running.stop().await.unwrap();
}
