//! End-to-end stories through `socialcare-local`: a signed webhook becomes a ticket that the
//! API shows, on the embedded store and on DynamoDB + SQS in the emulator.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use socialcare_tests::emulator;
use socialcare_tests::events::generic_body;
use socialcare_tests::runner::Driver;

async fn an_event_posted_three_times_becomes_one_message_on_one_ticket(driver: &Driver) {
    let now = Utc::now();
    let created = now - Duration::minutes(3);
    let body = generic_body("crm-1001", "c-42", "My order never arrived", created);
    for _ in 0..3 {
        let (status, answer) = driver.post_generic(&body, now).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["status"], "queued");
        assert!(answer["message_id"].as_str().unwrap().starts_with("msg_"));
    }
    let tickets = driver.tickets_when(|t| !t.is_empty()).await;
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["account"], "crm");
    assert_eq!(ticket["source"], "integration");
    assert_eq!(ticket["subject"], "My order never arrived");
    assert_eq!(ticket["message_count"], 1);

    let id = ticket["id"].as_str().unwrap();
    let (status, detail) = driver.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["ticket"]["id"], id);
    assert_eq!(detail["customer"]["name"], "Customer c-42");
    assert_eq!(detail["customer"]["email"], "c-42@example.com");
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["external_id"], "crm-1001");
    assert_eq!(messages[0]["text"], "My order never arrived");
    assert_eq!(messages[0]["author"]["id"], "c-42");
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(messages[0]["created_at"].as_str().unwrap()).unwrap(),
        created
    );

    // More from the same customer joins the same ticket.
    let more = generic_body(
        "crm-1002",
        "c-42",
        "Any news?",
        created + Duration::minutes(1),
    );
    assert_eq!(
        driver.post_generic(&more, now).await.0,
        StatusCode::ACCEPTED
    );
    let tickets = driver
        .tickets_when(|t| t.first().is_some_and(|t| t["message_count"] == 2))
        .await;
    assert_eq!(tickets.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_embedded_store() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), false, "whsec_local_e2e", "sk_local_e2e_key").await;
    an_event_posted_three_times_becomes_one_message_on_one_ticket(&driver).await;
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn on_dynamodb_and_sqs() {
    let stack = emulator::deploy().await;
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe {
        std::env::set_var("TABLE_NAME", &stack.table);
        std::env::set_var("INBOUND_QUEUE_URL", &stack.inbound_queue_url);
        std::env::set_var("OUTBOX_QUEUE_URL", &stack.outbox_queue_url);
        std::env::set_var("REMINDERS_QUEUE_URL", &stack.reminders_queue_url);
    }
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), true, "whsec_aws_e2e", "sk_aws_e2e_key_1").await;
    an_event_posted_three_times_becomes_one_message_on_one_ticket(&driver).await;
    driver.running.stop().await.unwrap();
}

/// The newcomer's path: the command the runner prints, pasted into a shell, makes a ticket.
#[tokio::test(flavor = "multi_thread")]
async fn the_printed_sample_command_works() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), false, "whsec_sample_cmd", "sk_sample_cmd_key").await;
    let command = driver
        .running
        .banner
        .lines()
        .find(|line| line.contains("/webhooks/generic"))
        .expect("the banner has a sample command")
        .trim()
        .to_string();
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&command)
        .env("SOCIALCARE_INTEGRATION_SECRET", "whsec_sample_cmd")
        .output()
        .await
        .expect("bash runs");
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(answer["status"], "queued", "{answer}");
    let tickets = driver.tickets_when(|t| !t.is_empty()).await;
    assert_eq!(tickets[0]["account"], "demo");
    assert_eq!(
        tickets[0]["subject"],
        "My internet has been down since this morning. Can you help?"
    );
    driver.running.stop().await.unwrap();
}
