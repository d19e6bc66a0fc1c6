//! The handlers behind the Lambda entry points, fed the real event shapes from
//! `../shared/fixtures/lambda-events/`: API Gateway HTTP API (v2) requests and SQS batches.

use aws_lambda_events::event::sqs::SqsEvent;
use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_app::api::{self, ApiState};
use socialcare_app::error::json_errors;
use socialcare_app::ingest::handle_sqs_event;
use socialcare_app::webhook::{self, WebhookState};
use socialcare_domain::ports::{FixedClock, Queue, TicketLists};
use socialcare_domain::threading::Rules;
use socialcare_domain::{QueuedEvent, TicketQuery};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::events::{generic_body, inbound, signature};
use socialcare_tests::fixture;
use socialcare_tests::http::call;
use std::sync::Arc;

const SECRET: &str = "whsec_lambda_events";
const API_KEY: &str = "sk_lambda_events_key";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn webhook_app(queue: SqliteQueue) -> axum::Router {
    json_errors(webhook::routes(Arc::new(WebhookState::new(
        queue,
        SECRET.as_bytes(),
        Arc::new(FixedClock::new(now())),
    ))))
}

fn api_app(store: SqliteStore) -> axum::Router {
    json_errors(api::routes(Arc::new(ApiState::new(store, API_KEY))))
}

/// Runs an API Gateway v2 event through a router the way `lambda_http::run` does.
async fn invoke(app: &axum::Router, event: &Value) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    call(app, request).await
}

/// The fixture's POST request, aimed at our route with a signed integrator event.
fn signed_webhook_event(base64: bool) -> Value {
    let mut event: Value = serde_json::from_str(&fixture(
        "lambda-events/lambda-http_apigw_v2_proxy_request.json",
    ))
    .unwrap();
    let body = generic_body(
        "crm-7",
        "c-7",
        "Billing charged me twice",
        now() - Duration::minutes(1),
    )
    .to_string();
    event["rawPath"] = json!("/webhooks/generic");
    event["requestContext"]["http"]["path"] = json!("/webhooks/generic");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"]["content-type"] = json!("application/json");
    event["headers"]["x-socialcare-signature"] = json!(signature(SECRET, now(), body.as_bytes()));
    if base64 {
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
        event["isBase64Encoded"] = json!(true);
    } else {
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
    }
    event
}

/// The fixture's SQS batch with one record per body, in the given message groups.
fn sqs_event(records: &[(&str, &str, String)]) -> SqsEvent {
    let mut event: Value =
        serde_json::from_str(&fixture("lambda-events/example-sqs-event-obj.json")).unwrap();
    let template = event["Records"][0].clone();
    event["Records"] = records
        .iter()
        .map(|(id, group, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(id);
            record["body"] = json!(body);
            record["attributes"]["MessageGroupId"] = json!(group);
            record
        })
        .collect();
    serde_json::from_value(event).expect("an SQS event")
}

#[tokio::test]
async fn the_webhook_fixture_as_it_is_gets_a_json_404() {
    let event: Value = serde_json::from_str(&fixture(
        "lambda-events/example-apigw-v2-request-no-authorizer.json",
    ))
    .unwrap();
    let (status, answer) = invoke(
        &webhook_app(SqliteQueue::inbound(Database::in_memory().unwrap())),
        &event,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_signed_post_through_api_gateway_then_sqs_becomes_a_ticket() {
    for base64 in [false, true] {
        let db = Database::in_memory().unwrap();
        let queue = SqliteQueue::inbound(db.clone());
        let (status, answer) =
            invoke(&webhook_app(queue.clone()), &signed_webhook_event(base64)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "base64 {base64}: {answer}");

        let queued = queue.receive(10, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(queued.len(), 1);
        let group = queued[0].group_id.clone().unwrap();
        let store = SqliteStore::new(db);
        let response = handle_sqs_event(
            &store,
            &Rules::default(),
            None,
            None,
            sqs_event(&[("m-1", &group, queued[0].body.clone())]),
        )
        .await;
        assert!(response.batch_item_failures.is_empty());

        let page = store.list_tickets(&TicketQuery::newest(10)).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].subject, "Billing charged me twice");
        assert_eq!(page.items[0].created_at, now() - Duration::minutes(1));
    }
}

#[tokio::test]
async fn the_sqs_fixtures_as_they_are_are_reported_as_failed() {
    for name in ["example-sqs-event.json", "example-sqs-event-obj.json"] {
        let event: SqsEvent =
            serde_json::from_str(&fixture(&format!("lambda-events/{name}"))).unwrap();
        let store = SqliteStore::new(Database::in_memory().unwrap());
        let response = handle_sqs_event(&store, &Rules::default(), None, None, event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["MessageID_1"], "{name}");
    }
}

#[tokio::test]
async fn a_poison_record_fails_alone_and_holds_back_only_its_own_group() {
    let body = |id: &str, customer: &str, minute: i64| -> String {
        let event = QueuedEvent::Message(inbound(
            id,
            customer,
            "help",
            now() + Duration::minutes(minute),
        ));
        serde_json::to_string(&event).unwrap()
    };
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let response = handle_sqs_event(
        &store,
        &Rules::default(),
        None,
        None,
        sqs_event(&[
            ("a-1", "ann", body("a1", "ann", 0)),
            ("a-2", "ann", "not an event".into()),
            ("a-3", "ann", body("a3", "ann", 2)),
            ("b-1", "bob", body("b1", "bob", 1)),
        ]),
    )
    .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // a-3 comes after the poison in ann's group: it waits to keep her messages in order.
    assert_eq!(failed, ["a-2", "a-3"]);
    let page = store.list_tickets(&TicketQuery::newest(10)).await.unwrap();
    assert_eq!(
        page.items.len(),
        2,
        "ann's first message and bob's message are in"
    );
    assert!(page.items.iter().all(|t| t.message_count == 1));
}

#[tokio::test]
async fn the_api_answers_api_gateway_events() {
    let db = Database::in_memory().unwrap();
    let store = SqliteStore::new(db);
    let ticket = socialcare_domain::ingest::ingest(&store, &inbound("m1", "ann", "hi", now()))
        .await
        .unwrap();
    let socialcare_domain::ingest::IngestOutcome::Opened { ticket_id, .. } = ticket else {
        panic!()
    };

    let mut event: Value = serde_json::from_str(&fixture(
        "lambda-events/example-apigw-v2-request-no-authorizer.json",
    ))
    .unwrap();
    event["rawPath"] = json!("/v1/tickets");
    event["requestContext"]["http"]["path"] = json!("/v1/tickets");
    event["rawQueryString"] = json!("status=open&limit=5");
    let (status, answer) = invoke(&api_app(store.clone()), &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "unauthorized");

    event["headers"]["authorization"] = json!(format!("Bearer {API_KEY}"));
    let (status, answer) = invoke(&api_app(store.clone()), &event).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["tickets"][0]["id"], ticket_id.to_string());
    assert_eq!(answer["next_cursor"], Value::Null);

    event["rawPath"] = json!(format!("/v1/tickets/{ticket_id}"));
    event["requestContext"]["http"]["path"] = event["rawPath"].clone();
    event["rawQueryString"] = json!("");
    let (status, answer) = invoke(&api_app(store), &event).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["messages"][0]["text"], "hi");
}
