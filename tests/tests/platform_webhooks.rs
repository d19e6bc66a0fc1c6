//! `/webhooks/x` and `/webhooks/meta`: verification, what gets queued, what is dropped, and
//! every fixture delivered three times, interleaved, through socialcare-local.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_app::accounts::Configuration;
use socialcare_app::configuration::ConfigurationCache;
use socialcare_app::error::json_errors;
use socialcare_app::webhook::{WebhookState, routes};
use socialcare_domain::QueuedEvent;
use socialcare_domain::ports::{FixedClock, Queue};
use socialcare_sqlite::{Database, SqliteQueue};
use socialcare_tests::events::{
    FIXTURE_ACCOUNTS, fixture_accounts_without_acknowledgements, meta_signature, x_signature,
};
use socialcare_tests::http::call;
use socialcare_tests::runner::Driver;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const X_SECRET: &str = "x-consumer-secret-for-tests";
const META_SECRET: &str = "meta-app-secret-for-tests";
const VERIFY_TOKEN: &str = "meta-verify-token";

fn fixture_bytes(relative: &str) -> Vec<u8> {
    socialcare_tests::fixture(relative).into_bytes()
}

fn fixture_names(dir: &str) -> Vec<String> {
    let path = socialcare_tests::repo_root()
        .join("tests/fixtures")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

fn app(queue: SqliteQueue, accounts: &str) -> axum::Router {
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
    ));
    json_errors(routes(Arc::new(WebhookState {
        x_consumer_secret: Some(X_SECRET.as_bytes().to_vec()),
        meta_app_secret: Some(META_SECRET.as_bytes().to_vec()),
        meta_verify_token: Some(VERIFY_TOKEN.into()),
        configuration: ConfigurationCache::fixed(Configuration::parse(accounts).unwrap()),
        ..WebhookState::new(queue, b"integration-secret", clock)
    })))
}

fn queue() -> SqliteQueue {
    SqliteQueue::inbound(Database::in_memory().unwrap())
}

fn x_post(body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut request = Request::post("/webhooks/x");
    if let Some(signature) = signature {
        request = request.header("x-twitter-webhooks-signature", signature);
    }
    request.body(Body::from(body)).unwrap()
}

fn meta_post(body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut request = Request::post("/webhooks/meta");
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.body(Body::from(body)).unwrap()
}

fn signed_x(body: Vec<u8>) -> Request<Body> {
    let signature = x_signature(X_SECRET, &body);
    x_post(body, Some(signature))
}

fn signed_meta(body: Vec<u8>) -> Request<Body> {
    let signature = meta_signature(META_SECRET, &body);
    meta_post(body, Some(signature))
}

async fn queued(queue: &SqliteQueue) -> Vec<QueuedEvent> {
    queue
        .receive(10, Duration::ZERO)
        .await
        .unwrap()
        .iter()
        .map(|d| serde_json::from_str(&d.body).unwrap())
        .collect()
}

// ---------------------------------------------------------------- X

#[tokio::test]
async fn the_x_crc_challenge_is_answered_with_the_known_vector() {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = json_errors(routes(Arc::new(WebhookState {
        x_consumer_secret: Some(b"z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu".to_vec()),
        ..WebhookState::new(queue(), b"s", clock)
    })));
    let request = Request::get("/webhooks/x?crc_token=9b4507b3-9040-4669-9ca3-6b94edb50553")
        .body(Body::empty())
        .unwrap();
    let (status, answer) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"response_token": "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="})
    );
    let (status, answer) = call(
        &app,
        Request::get("/webhooks/x").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "missing_crc_token");
}

/// The CRC oracle (issue 14): the challenge's answer is the HMAC of the token, which is exactly
/// the signature of a body equal to the token, so the "CRC" of a delivery body must not be
/// answered.
#[tokio::test]
async fn the_crc_challenge_never_signs_a_delivery_body() {
    let queue = queue();
    let app = app(queue.clone(), FIXTURE_ACCOUNTS);
    let body = fixture_bytes("x/tweet-mention.json");
    let token: String = url_encode(std::str::from_utf8(&body).unwrap());
    let (status, answer) = call(
        &app,
        Request::get(format!("/webhooks/x?crc_token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_crc_token");
    assert_eq!(answer.get("response_token"), None);
    assert!(queued(&queue).await.is_empty());
}

/// Percent-encodes every byte outside the unreserved set, as a browser would in a query.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn x_and_meta_are_404_until_configured() {
    let app = json_errors(routes(Arc::new(WebhookState::new(
        queue(),
        b"s",
        Arc::new(FixedClock::new(Utc::now())),
    ))));
    for request in [
        Request::get("/webhooks/x?crc_token=t")
            .body(Body::empty())
            .unwrap(),
        Request::post("/webhooks/x").body(Body::from("{}")).unwrap(),
        Request::get("/webhooks/meta?hub.mode=subscribe")
            .body(Body::empty())
            .unwrap(),
        Request::post("/webhooks/meta")
            .body(Body::from("{}"))
            .unwrap(),
    ] {
        let (status, answer) = call(&app, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not configured")
        );
    }
}

#[tokio::test]
async fn a_signed_x_delivery_is_queued_and_answered_200() {
    let queue = queue();
    let app = app(queue.clone(), FIXTURE_ACCOUNTS);
    let (status, answer) = call(&app, signed_x(fixture_bytes("x/tweet-mention.json"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"queued": 1, "dropped": 0, "ignored": 0}));
    let events = queued(&queue).await;
    assert_eq!(events.len(), 1);
    let QueuedEvent::Message(event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(event.message.external_id, "1992500000000000001");
    assert_eq!(event.message.account, "1100000000000000001");
    assert_eq!(
        event.received_at,
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn x_activity_that_is_not_a_message_is_accepted_and_not_queued() {
    let queue = queue();
    let (status, answer) = call(
        &app(queue.clone(), FIXTURE_ACCOUNTS),
        signed_x(fixture_bytes("x/ignored.json")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"queued": 0, "dropped": 0, "ignored": 5}));
    assert_eq!(queue.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn an_event_for_an_unknown_account_is_answered_200_and_dropped() {
    let queue = queue();
    let (status, answer) = call(
        &app(queue.clone(), ""),
        signed_x(fixture_bytes("x/dm.json")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"queued": 0, "dropped": 1, "ignored": 0}));
    assert_eq!(queue.depth().await.unwrap(), 0);
}

async fn refused(request: Request<Body>, status: StatusCode, code: &str) {
    let queue = queue();
    let (got, answer) = call(&app(queue.clone(), FIXTURE_ACCOUNTS), request).await;
    assert_eq!(got, status, "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert_eq!(
        queue.depth().await.unwrap(),
        0,
        "{code}: something was queued"
    );
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_deliveries_are_401() {
    let body = fixture_bytes("x/tweet-mention.json");
    refused(
        x_post(body.clone(), None),
        StatusCode::UNAUTHORIZED,
        "missing_signature",
    )
    .await;
    refused(
        x_post(body.clone(), Some(x_signature("wrong", &body))),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    )
    .await;
    refused(
        x_post(body.clone(), Some("sha256=%%%".into())),
        StatusCode::UNAUTHORIZED,
        "malformed_signature",
    )
    .await;
    let body = fixture_bytes("meta/meta_page_restfb_feed-post-add-25.json");
    refused(
        meta_post(body.clone(), None),
        StatusCode::UNAUTHORIZED,
        "missing_signature",
    )
    .await;
    refused(
        meta_post(body.clone(), Some(meta_signature("wrong", &body))),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    )
    .await;
    // a signature of other bytes
    refused(
        meta_post(body, Some(meta_signature(META_SECRET, b"{}"))),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn bad_bodies_are_4xx_with_a_named_problem_and_queue_nothing() {
    let truncated = fixture_bytes("x/dm.json")[..120].to_vec();
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes();
    let huge = format!(
        r#"{{"for_user_id":"1","pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    )
    .into_bytes();
    for (body, status, code) in [
        (truncated, StatusCode::BAD_REQUEST, "invalid_json"),
        (
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            b"{\"for_user_id\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            b"{\"tweet_create_events\": []}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            b"{\"for_user_id\": 7}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            deep.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            huge.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ] {
        refused(signed_x(body), status, code).await;
    }
    for (body, status, code) in [
        (br#"{"object": "whatsapp_business_account", "entry": []}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
        (br#"{"object": "page", "entry": [{"id": "1234567890321", "messaging": [{"sender": {}}]}]}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
        (b"{\"object\": \"page\"".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (deep, StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
        (huge, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ] {
        refused(signed_meta(body), status, code).await;
    }
}

// ---------------------------------------------------------------- Meta

#[tokio::test]
async fn the_meta_handshake_echoes_the_challenge_only_for_our_token() {
    let app = app(queue(), FIXTURE_ACCOUNTS);
    let ok = format!(
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    );
    let response =
        tower::ServiceExt::oneshot(app.clone(), Request::get(ok).body(Body::empty()).unwrap())
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"1158201444");
    for path in [
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "/webhooks/meta?hub.mode=unsubscribe&hub.verify_token=meta-verify-token&hub.challenge=1",
        "/webhooks/meta",
    ] {
        let (status, answer) = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
}

#[tokio::test]
async fn a_signed_meta_delivery_queues_messages_and_changes() {
    let queue = queue();
    let app = app(queue.clone(), FIXTURE_ACCOUNTS);
    let (status, answer) = call(
        &app,
        signed_meta(fixture_bytes("meta/meta_page_restfb_feed-post-add-25.json")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"queued": 1, "dropped": 0, "ignored": 0}));
    let (_, answer) = call(
        &app,
        signed_meta(fixture_bytes(
            "meta/meta_page_restfb_feed-comment-hide.json",
        )),
    )
    .await;
    assert_eq!(answer, json!({"queued": 1, "dropped": 0, "ignored": 0}));
    let events = queued(&queue).await;
    assert!(
        matches!(&events[0], QueuedEvent::Message(e) if e.message.external_id == "1234567890321_7293787835232")
    );
    assert!(
        matches!(&events[1], QueuedEvent::Change(e) if e.change.external_id == "900728623356296_900744590021366")
    );
}

// ---------------------------------------------------------------- through the runner

/// The dedupe keys of the messages every fixture holds, by the parsers themselves: what must
/// end up stored, once each.
fn expected_message_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for name in fixture_names("x") {
        let delivery = socialcare_webhooks::x::account_activity::parse_delivery(&fixture_bytes(
            &format!("x/{name}"),
        ))
        .unwrap();
        keys.extend(delivery.messages.iter().map(|m| m.dedupe_key()));
    }
    for name in fixture_names("meta") {
        let delivery =
            socialcare_webhooks::meta::parse_delivery(&fixture_bytes(&format!("meta/{name}")))
                .unwrap();
        keys.extend(delivery.messages.iter().map(|m| m.dedupe_key()));
    }
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_three_times_interleaved_is_stored_once_on_sqlite() {
    every_fixture_three_times_interleaved_is_stored_once(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_three_times_interleaved_is_stored_once_on_aws() {
    let stack = socialcare_tests::emulator::deploy().await;
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe {
        std::env::set_var("TABLE_NAME", &stack.table);
        std::env::set_var("INBOUND_QUEUE_URL", &stack.inbound_queue_url);
        std::env::set_var("OUTBOX_QUEUE_URL", &stack.outbox_queue_url);
        std::env::set_var("REMINDERS_QUEUE_URL", &stack.reminders_queue_url);
    }
    every_fixture_three_times_interleaved_is_stored_once(true).await;
}

async fn every_fixture_three_times_interleaved_is_stored_once(aws: bool) {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(&config, fixture_accounts_without_acknowledgements()).unwrap();
    // SAFETY: set before the runner reads the environment; this test process runs one test.
    unsafe {
        std::env::set_var("X_CONSUMER_SECRET", X_SECRET);
        std::env::set_var("META_APP_SECRET", META_SECRET);
        std::env::set_var("META_VERIFY_TOKEN", VERIFY_TOKEN);
    }
    let driver = Driver::start_with_config(
        data.path(),
        aws,
        "whsec_fixtures",
        "sk_fixtures_key",
        Some(config),
    )
    .await;

    let mut deliveries: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for name in fixture_names("x") {
        let body = fixture_bytes(&format!("x/{name}"));
        deliveries.push(("/webhooks/x", x_signature(X_SECRET, &body), body));
    }
    for name in fixture_names("meta") {
        let body = fixture_bytes(&format!("meta/{name}"));
        deliveries.push(("/webhooks/meta", meta_signature(META_SECRET, &body), body));
    }
    // Three rounds over all fixtures: every delivery repeats, interleaved with the others.
    for round in 0..3 {
        for (path, signature, body) in &deliveries {
            let header = if *path == "/webhooks/x" {
                "x-twitter-webhooks-signature"
            } else {
                "x-hub-signature-256"
            };
            let (status, answer) = driver
                .post_raw(path, &[(header, signature.clone())], body.clone())
                .await;
            assert_eq!(status, StatusCode::OK, "round {round} {path}: {answer}");
            assert_eq!(answer["dropped"], 0, "{answer}");
        }
    }

    let expected = expected_message_keys();
    assert!(expected.len() >= 15, "{}", expected.len());
    let total = |tickets: &[Value]| {
        tickets
            .iter()
            .map(|t| t["message_count"].as_u64().unwrap())
            .sum::<u64>()
    };
    let tickets = driver
        .tickets_when(|t| total(t) as usize >= expected.len())
        .await;
    // Let the consumer drain anything left, then count what is stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, page) = driver.get("/v1/tickets?limit=200").await;
    let tickets_now = page["tickets"].as_array().unwrap();
    assert_eq!(total(tickets_now), total(&tickets));
    let mut stored = BTreeSet::new();
    for ticket in tickets_now {
        let (_, detail) = driver
            .get(&format!("/v1/tickets/{}", ticket["id"].as_str().unwrap()))
            .await;
        for message in detail["messages"].as_array().unwrap() {
            let key = format!(
                "{}:{}:{}",
                message["source"].as_str().unwrap(),
                message["account"].as_str().unwrap(),
                message["external_id"].as_str().unwrap()
            );
            assert!(stored.insert(key.clone()), "{key} is stored twice");
        }
    }
    assert_eq!(stored, expected);
    driver.running.stop().await.unwrap();
}
