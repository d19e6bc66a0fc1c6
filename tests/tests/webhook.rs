//! `POST /webhooks/generic`: what it accepts, what it refuses, and that it answers 2xx only
//! once the event is queued.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_app::error::json_errors;
use socialcare_app::ingest::Consumer;
use socialcare_app::webhook::{WebhookState, routes};
use socialcare_aws::{DynamoStore, SqsQueue};
use socialcare_domain::ports::{FixedClock, Queue, TicketReads};
use socialcare_domain::{QueuedEvent, TicketQuery};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::emulator;
use socialcare_tests::events::{generic_body, signature};
use socialcare_tests::http::call;
use std::sync::Arc;

const SECRET: &str = "whsec_webhook_tests";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn app<Q: Queue + 'static>(queue: Q) -> axum::Router {
    json_errors(routes(Arc::new(WebhookState::new(
        queue,
        SECRET.as_bytes(),
        Arc::new(FixedClock::new(now())),
    ))))
}

fn post(body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut request = Request::post("/webhooks/generic").header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("x-socialcare-signature", signature);
    }
    request.body(Body::from(body)).unwrap()
}

fn signed(body: &Value) -> Request<Body> {
    let bytes = serde_json::to_vec(body).unwrap();
    let signature = signature(SECRET, now(), &bytes);
    post(bytes, Some(signature))
}

fn event() -> Value {
    generic_body(
        "crm-1",
        "c-1",
        "Where is my refund?",
        now() - Duration::minutes(2),
    )
}

fn sqlite_queue() -> SqliteQueue {
    SqliteQueue::inbound(Database::in_memory().unwrap())
}

#[tokio::test]
async fn a_signed_event_is_queued_then_answered_202() {
    let queue = sqlite_queue();
    let (status, answer) = call(&app(queue.clone()), signed(&event())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["status"], "queued");

    let queued = queue.receive(10, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(queued.len(), 1);
    let QueuedEvent::Message(event) = serde_json::from_str(&queued[0].body).unwrap() else {
        panic!("a message event")
    };
    assert_eq!(answer["message_id"], event.message.message_id().to_string());
    assert_eq!(event.received_at, now());
    assert_eq!(event.message.external_id, "crm-1");
    assert_eq!(event.message.account, "crm");
    assert_eq!(event.message.text, "Where is my refund?");
    assert_eq!(event.message.created_at, now() - Duration::minutes(2));
    assert_eq!(
        queued[0].group_id.as_deref(),
        Some(socialcare_domain::ids::key_digest("integration:crm:c-1").as_str())
    );
}

async fn refused_and_nothing_queued(
    request: Request<Body>,
    status: StatusCode,
    code: &str,
) -> Value {
    let queue = sqlite_queue();
    let (got, answer) = call(&app(queue.clone()), request).await;
    assert_eq!(got, status, "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        queue.depth().await.unwrap(),
        0,
        "{code}: something was queued"
    );
    answer
}

#[tokio::test]
async fn a_wrong_signature_is_401_and_queues_nothing() {
    let bytes = serde_json::to_vec(&event()).unwrap();
    let forged = signature("another secret", now(), &bytes);
    refused_and_nothing_queued(
        post(bytes, Some(forged)),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn a_signature_of_another_body_is_401() {
    let bytes = serde_json::to_vec(&event()).unwrap();
    let other = signature(SECRET, now(), b"{}");
    refused_and_nothing_queued(
        post(bytes, Some(other)),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn a_missing_or_garbled_signature_is_401() {
    let bytes = serde_json::to_vec(&event()).unwrap();
    refused_and_nothing_queued(
        post(bytes.clone(), None),
        StatusCode::UNAUTHORIZED,
        "missing_signature",
    )
    .await;
    refused_and_nothing_queued(
        post(bytes, Some("sha256=abc".into())),
        StatusCode::UNAUTHORIZED,
        "malformed_signature",
    )
    .await;
}

/// Issue 14: `t=now` and 2,000 empty `v1=` entries cost an HMAC of the body each.
#[tokio::test]
async fn a_header_of_many_or_empty_entries_is_401_malformed() {
    let bytes = serde_json::to_vec(&event()).unwrap();
    let t = now().timestamp();
    let good = signature(SECRET, now(), &bytes);
    let v1 = good.split_once(",v1=").unwrap().1.to_string();
    for header in [
        format!("t={t}{}", ",v1=".repeat(2000)),
        format!("t={t}{}", format!(",v1={v1}").repeat(5)),
        format!("t={t},v1=,v1={v1}"),
    ] {
        refused_and_nothing_queued(
            post(bytes.clone(), Some(header)),
            StatusCode::UNAUTHORIZED,
            "malformed_signature",
        )
        .await;
    }
}

/// Issue 14: a callback URL on this machine or its network (on Lambda, the runtime API on
/// 127.0.0.1:9001) is refused at intake, before anything is queued.
#[tokio::test]
async fn a_callback_url_that_can_never_be_called_is_422() {
    for (url, says) in [
        (
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "callback_url: must use https",
        ),
        (
            "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "callback_url: points at a private",
        ),
        (
            "https://169.254.169.254/latest/",
            "callback_url: points at a private",
        ),
        (
            "https://[fd00::1]/replies",
            "callback_url: points at a private",
        ),
        (
            "https://localhost/replies",
            "callback_url: names a host of this machine",
        ),
    ] {
        let mut body = event();
        body["callback_url"] = json!(url);
        let answer = refused_and_nothing_queued(
            signed(&body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        )
        .await;
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(says), "{url}: {message}");
    }
    let mut body = event();
    body["callback_url"] = json!("https://crm.example.com/replies");
    let (status, answer) = call(&app(sqlite_queue()), signed(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn a_stale_timestamp_is_401() {
    let bytes = serde_json::to_vec(&event()).unwrap();
    let old = signature(SECRET, now() - Duration::seconds(301), &bytes);
    refused_and_nothing_queued(
        post(bytes, Some(old)),
        StatusCode::UNAUTHORIZED,
        "stale_signature",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_256_kib_is_413() {
    let mut body = event();
    body["text"] = json!("x".repeat(256 * 1024));
    refused_and_nothing_queued(
        signed(&body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_accepted() {
    let mut body = event();
    let room = 256 * 1024 - serde_json::to_vec(&body).unwrap().len() - 8;
    body["text"] = json!("x".repeat(room));
    let queue = sqlite_queue();
    let (status, answer) = call(&app(queue.clone()), signed(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(queue.depth().await.unwrap(), 1);
}

#[tokio::test]
async fn invalid_json_is_400() {
    let bytes = b"{\"id\": \"crm-1\", ".to_vec();
    let signature = signature(SECRET, now(), &bytes);
    refused_and_nothing_queued(
        post(bytes, Some(signature)),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
}

#[tokio::test]
async fn a_missing_required_field_is_422_and_named() {
    for field in ["id", "customer", "text", "created_at"] {
        let mut body = event();
        body.as_object_mut().unwrap().remove(field);
        let answer = refused_and_nothing_queued(
            signed(&body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        )
        .await;
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    let mut body = event();
    body["customer"].as_object_mut().unwrap().remove("name");
    let answer = refused_and_nothing_queued(
        signed(&body),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_event",
    )
    .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("customer"),
        "{answer}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = app(sqlite_queue());
    let (status, answer) = call(
        &app,
        Request::get("/webhooks/nowhere")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "not_found");
    let (status, answer) = call(
        &app,
        Request::get("/webhooks/generic")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_unreachable_queue_is_503_so_the_sender_retries() {
    let stack = emulator::deploy().await;
    // The same queue URL, through an endpoint where nothing listens.
    let unreachable = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&stack.config)
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let app = app(SqsQueue::new(unreachable, stack.inbound_queue_url.clone()));
    let (status, answer) = call(&app, signed(&event())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "queue_unavailable");
    // Nothing reached the real queue.
    let real = SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone());
    assert!(
        real.receive(10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Posts the same event three times, runs the consumer until the queue is drained, and checks
/// that exactly one message sits on one ticket.
async fn posted_three_times_is_one_message<Q, S>(queue: Q, store: S)
where
    Q: Queue + Clone + 'static,
    S: socialcare_domain::ingest::IngestDeps + TicketReads,
{
    let app = app(queue.clone());
    for _ in 0..3 {
        let (status, answer) = call(&app, signed(&event())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let consumer = Consumer {
        wait: std::time::Duration::from_millis(200),
        ..Consumer::default()
    };
    while consumer.once(&queue, &store).await.unwrap() > 0 {}
    let page = store.list_tickets(&TicketQuery::newest(10)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let detail = store
        .ticket_detail(&page.items[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].body.external_id, "crm-1");
    assert_eq!(detail.ticket.message_count, 1);
}

#[tokio::test]
async fn posted_three_times_is_one_message_on_sqlite() {
    let db = Database::in_memory().unwrap();
    posted_three_times_is_one_message(SqliteQueue::inbound(db.clone()), SqliteStore::new(db)).await;
}

#[tokio::test]
async fn posted_three_times_is_one_message_on_aws() {
    let stack = emulator::deploy().await;
    posted_three_times_is_one_message(
        SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone()),
        DynamoStore::connect(&stack.config, stack.table.clone()),
    )
    .await;
}
