//! The seed's story, end to end through `socialcare-local` with the fake X: a public complaint
//! on X that does not mention the brand is found by search; the brand answers it in public and
//! asks for a DM; the DM gives an e-mail address, which the agent links to the customer; the
//! e-mail from that address joins the same ticket. One customer, one ticket, one owner, the
//! report's first response measured from the first tweet, and the agent's answer goes by
//! e-mail in the customer's thread.

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::events::signature;
use socialcare_tests::fake_x::FakeX;
use socialcare_tests::runner::Driver;

const KEY: &str = "sk_story_key_0001";
const X_SECRET: &str = "cs-story";
const BRAND: &str = "1100000000000000001";
const CUSTOMER: &str = "3001969357";
const MAILBOX: &str = "care@acme.example";

const ACCOUNTS: &str = r#"
[[accounts]]
platform = "x"
id = "1100000000000000001"
handle = "acme_care"

[accounts.listening]
queries = ["acme internet -from:acme_care -is:retweet"]

[[accounts]]
platform = "email"
id = "care@acme.example"
"#;

fn tweet_time(minutes_ago: i64) -> chrono::DateTime<Utc> {
    // Whole seconds: the webhook's created_at has no fractions.
    let at = Utc::now() - Duration::minutes(minutes_ago);
    chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_embedded_store() {
    story(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_dynamodb_and_sqs() {
    let stack = socialcare_tests::emulator::deploy().await;
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe {
        std::env::set_var("TABLE_NAME", &stack.table);
        std::env::set_var("INBOUND_QUEUE_URL", &stack.inbound_queue_url);
        std::env::set_var("OUTBOX_QUEUE_URL", &stack.outbox_queue_url);
        std::env::set_var("REMINDERS_QUEUE_URL", &stack.reminders_queue_url);
    }
    story(true).await;
}

/// A complaint found by search, followed by a DM and an e-mail: one customer, one ticket.
async fn story(aws: bool) {
    let x = FakeX::start_with("ck-story", X_SECRET).await;
    let first_at = tweet_time(40);
    x.add_post(
        json!({ "id": "1870000000000000001", "author_id": CUSTOMER,
                "text": "Three days without acme internet. Nobody answers the phone.",
                "created_at": first_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "edit_history_tweet_ids": ["1870000000000000001"] }),
        json!({ "id": CUSTOMER, "name": "Jordan Brinks", "username": "furiouscamper",
                "public_metrics": { "followers_count": 22 } }),
    );
    let (data, driver) =
        Driver::start_with_fake_x_on(aws, "story", KEY, ACCOUNTS, &x.url(), X_SECRET).await;

    // 1. Found by search: the ticket opens with the customer's tweet.
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let id = tickets[0]["id"].as_str().unwrap().to_string();
    // The agent who takes it keeps it to the end.
    let (status, body) = driver
        .post_api("/v1/api-keys", &json!({ "name": "sally", "role": "agent" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = driver
        .post_api(
            &format!("/v1/tickets/{id}/assign"),
            &json!({ "agent": "sally" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 2. The brand answers in public and asks for a DM (its reply comes by webhook).
    let answered_at = tweet_time(30);
    let answer = json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "id_str": "1870000000000000002",
            "created_at": answered_at.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "timestamp_ms": answered_at.timestamp_millis().to_string(),
            "text": "@furiouscamper We're sorry, Jordan. Please send us a DM with your e-mail address.",
            "in_reply_to_status_id_str": "1870000000000000001",
            "in_reply_to_user_id_str": CUSTOMER,
            "user": {"id_str": BRAND, "name": "Acme Care", "screen_name": "acme_care"}
        }]
    });
    driver.post_x(&answer, X_SECRET).await;

    // 3. The DM with the address.
    let dm_at = tweet_time(20);
    let dm = json!({
        "for_user_id": BRAND,
        "direct_message_events": [{
            "type": "message_create",
            "id": "1870000000000000003",
            "created_timestamp": dm_at.timestamp_millis().to_string(),
            "message_create": {
                "target": {"recipient_id": BRAND},
                "sender_id": CUSTOMER,
                "message_data": {"text": "It's jordan.brinks@example.com, account 4471."}
            }
        }],
        "users": {
            CUSTOMER: {"id": CUSTOMER, "name": "Jordan Brinks", "screen_name": "furiouscamper"},
            BRAND: {"id": BRAND, "name": "Acme Care", "screen_name": "acme_care"}
        }
    });
    driver.post_x(&dm, X_SECRET).await;
    driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 3)
        .await;

    // 4. The agent links the address to the customer.
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    let customer = detail["customer"]["id"].as_str().unwrap().to_string();
    let (status, linked) = driver
        .post_api(
            &format!("/v1/customers/{customer}/identities"),
            &json!({ "source": "email", "account": MAILBOX, "user_id": "Jordan.Brinks@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");

    // 5. The e-mail from that address.
    let mail = format!(
        "From: Jordan Brinks <jordan.brinks@example.com>\r\nTo: {MAILBOX}\r\n\
         Subject: My internet, again\r\nDate: {}\r\nMessage-ID: <jb-1@example.com>\r\n\r\n\
         As asked on X: still no internet. Screenshots of our conversation attached.\r\n",
        tweet_time(10).to_rfc2822()
    );
    let (status, body) = driver
        .post_raw(
            "/webhooks/email",
            &[
                ("content-type", "message/rfc822".to_string()),
                (
                    "x-socialcare-signature",
                    signature("whsec_story", Utc::now(), mail.as_bytes()),
                ),
            ],
            mail.clone().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let tickets = driver
        .tickets_when(|t| t.len() == 1 && t[0]["message_count"] == 4)
        .await;
    assert_eq!(tickets.len(), 1, "one ticket");
    let (_, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    let sources: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["x", "x", "x", "email"]);
    assert_eq!(detail["customer"]["id"], customer.as_str(), "one customer");
    let identities: Vec<&str> = detail["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(identities, ["x", "email"]);
    assert_eq!(detail["ticket"]["owner"], "sally", "one owner, kept");
    assert_eq!(detail["ticket"].get("opened_by_brand"), None);

    // The report: the first response measured from the first tweet (10 minutes).
    let (status, report) = driver
        .get(&format!("/v1/metrics/response-times?account={BRAND}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let totals = &report["totals"];
    assert_eq!(totals["tickets"], 1, "{report}");
    assert_eq!(totals["first_response"]["count"], 1, "{report}");
    assert_eq!(
        totals["first_response"]["mean_seconds"],
        json!((answered_at - first_at).num_seconds() as f64),
        "{report}"
    );

    // 6. The agent answers: the customer wrote last by e-mail, so the answer is an e-mail in
    // that thread, from the mailbox.
    // Sent twice with one Idempotency-Key (a retried request): one reply, one e-mail.
    let reply = serde_json::to_vec(
        &json!({ "text": "Jordan, an engineer comes tomorrow between 8 and 10." }),
    )
    .unwrap();
    for _ in 0..2 {
        let (status, body) = driver
            .post_raw(
                &format!("/v1/tickets/{id}/replies"),
                &[
                    ("authorization", format!("Bearer {KEY}")),
                    ("content-type", "application/json".to_string()),
                    ("idempotency-key", "story-answer-1".to_string()),
                ],
                reply.clone(),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }
    let folder = data.path().join("sent-email");
    let mut sent = Vec::new();
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(&folder) {
            sent = entries
                .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect();
        }
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sent.len(), 1, "one e-mail");
    let reply = &sent[0];
    assert!(reply.contains(&format!("From: <{MAILBOX}>\r\n")), "{reply}");
    assert!(
        reply.contains("To: <jordan.brinks@example.com>\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains("In-Reply-To: <jb-1@example.com>\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains("Subject: Re: My internet, again\r\n"),
        "{reply}"
    );
    // The file is written before the reply is recorded as sent: wait for the record.
    let mut detail = Value::Null;
    for _ in 0..100 {
        detail = driver.get(&format!("/v1/tickets/{id}")).await.1;
        let last = detail["messages"]
            .as_array()
            .and_then(|m| m.last().cloned());
        if last.is_some_and(|m| m["delivery"]["state"] == "sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5, "one reply for the two requests");
    let last: &Value = messages.last().unwrap();
    // The ticket's reply, sent as an e-mail from the mailbox.
    let target = last["delivery"]["target"].to_string();
    assert!(target.contains(MAILBOX), "{target}");
    assert!(target.contains("jordan.brinks@example.com"), "{target}");
    assert_eq!(last["delivery"]["state"], "sent", "{last}");
    // An e-mail is no tweet: it may be longer than X's 280 characters.
    let long = "We checked the line from the exchange to your street. ".repeat(10);
    assert!(long.chars().count() > 280);
    let (status, body) = driver
        .post_api(
            &format!("/v1/tickets/{id}/replies"),
            &json!({ "text": long }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    driver.running.stop().await.unwrap();
}
