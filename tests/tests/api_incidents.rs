//! `GET /v1/incidents` over HTTP: an incident opened by a spike of complaints, its tickets, and
//! clear refusals. What opens an incident is the incidents contract's job (both adapters).
//! `POST /v1/incidents/{id}/updates`: one answer for all, taken to its end by the local runner's
//! sender on a rate-limited fake platform.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use socialcare_app::api::{ApiState, routes};
use socialcare_app::configuration::ConfigurationCache;
use socialcare_app::error::json_errors;
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_app::outbox::Outbox;
use socialcare_app::sender::Sender;
use socialcare_domain::ingest::QueuedEvent;
use socialcare_domain::ports::{Clock, FixedClock};
use socialcare_domain::threading::Rules;
use socialcare_domain::updates::{Pace, Paces};
use socialcare_sqlite::{Database, QueueOptions, SqliteQueue, SqliteStore};
use socialcare_tests::contract::incidents::LimitedPlatform;
use socialcare_tests::events::x_mention;
use socialcare_tests::http::call;
use std::collections::BTreeSet;
use std::sync::Arc;

const ADMIN: &str = "sk_api_incidents_tests_admin";
const ACCOUNT: &str = "1100000000000000001";

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    call(app, request).await
}

async fn send(
    app: &axum::Router,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    call(app, request.body(Body::from(body.to_string())).unwrap()).await
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// 20 customers report the same outage within a few minutes (the default floor): one incident.
async fn outage(store: &SqliteStore) {
    let records = (0..20)
        .map(|i| {
            let (id, customer) = (format!("m{i}"), format!("c{i}"));
            let text = "@acme_care mobile data outage again, nothing loads";
            let event = x_mention(&id, &customer, text, noon() + Duration::seconds(10 * i));
            QueueRecord {
                message_id: id,
                group_id: Some(customer),
                body: serde_json::to_string(&QueuedEvent::Message(event)).unwrap(),
            }
        })
        .collect();
    let failed = ingest_batch(store, &Rules::default(), None, None, records).await;
    assert!(failed.is_empty(), "{failed:?}");
}

#[tokio::test]
async fn one_update_answers_every_ticket_once_within_the_platforms_limit() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    outage(&store).await;
    let start = noon() + Duration::minutes(30);
    let clock = Arc::new(FixedClock::new(start));
    let outbox = SqliteQueue::with_clock(
        Database::in_memory().unwrap(),
        "outbox",
        QueueOptions {
            fifo: false,
            visibility_timeout: std::time::Duration::from_secs(30),
            max_receive_count: 10,
            dead_letter: None,
        },
        clock.clone(),
    );
    // X's kind of limit, small: 24 posts in any minute.
    let pace = Pace {
        posts: 24,
        per_seconds: 60,
    };
    let platform = LimitedPlatform::new(clock.clone(), 24, Duration::seconds(60));
    let state = ApiState::new(store.clone(), ADMIN)
        .with_outbox(Outbox::new(outbox.clone()))
        .with_configuration(ConfigurationCache::of_rules(Rules {
            paces: Paces([(ACCOUNT.to_string(), pace)].into()),
            ..Rules::default()
        }));
    let app = json_errors(routes(Arc::new(state)));
    let (_, list) = get(&app, "/v1/incidents").await;
    let id = list["incidents"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/incidents/{id}/updates");
    let text = "We know about the mobile data outage in the north; engineers are on it.";
    let body = serde_json::json!({ "text": text }).to_string();

    let (status, update) = send(&app, &path, Some("status-1"), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{update}");
    assert!(
        update["id"].as_str().unwrap().starts_with("upd_"),
        "{update}"
    );
    assert_eq!(update["incident_id"], id.as_str());
    assert_eq!(update["text"], text);
    assert_eq!(update["author"], "bootstrap");
    assert_eq!(update["resolves"], false);
    assert_eq!(
        update["pace"],
        serde_json::json!({ "posts": 24, "per_seconds": 60 })
    );
    assert_eq!(update["public_post"]["state"], "pending");
    assert_eq!(update["answered"], 0);
    assert_eq!(update["finished_at"], Value::Null);
    // The same key again is the same update.
    let (status, again) = send(&app, &path, Some("status-1"), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["id"], update["id"]);

    // The runner's sender takes it from the queue to its end.
    let sender = Sender {
        wait: std::time::Duration::ZERO,
        ..Sender::default()
    };
    let mut seconds = 0;
    loop {
        let handled = sender
            .once(&outbox, &store, &platform, clock.as_ref())
            .await
            .unwrap();
        let (_, updates) = get(&app, &path).await;
        if updates["updates"][0]["finished_at"].is_string() && handled == 0 {
            break;
        }
        if handled == 0 {
            seconds += 1;
            assert!(seconds < 600, "not finished after 10 minutes: {updates}");
            clock.set(clock.now() + Duration::seconds(1));
        }
    }

    assert_eq!(platform.refused(), 0);
    let log = platform.log();
    for post in &log {
        let minute = log
            .iter()
            .filter(|p| p.at >= post.at && p.at < post.at + Duration::seconds(60))
            .count();
        assert!(
            minute <= 24,
            "{minute} posts in the minute from {}",
            post.at
        );
    }
    assert_eq!(log.len(), 21, "{log:#?}");
    assert!(log.iter().all(|p| p.text == text));
    assert_eq!(log.iter().filter(|p| p.ticket_id.is_none()).count(), 1);
    let answered: BTreeSet<_> = log.iter().filter_map(|p| p.ticket_id.clone()).collect();
    assert_eq!(answered.len(), 20);
    // Two posts per six seconds: 21 posts take a minute at least.
    assert!(log[20].at - log[0].at >= Duration::seconds(60), "{log:#?}");
    let (_, updates) = get(&app, &path).await;
    let done = &updates["updates"].as_array().unwrap()[..];
    assert_eq!(done.len(), 1, "{updates}");
    assert_eq!(done[0]["answered"], 20);
    assert_eq!(done[0]["skipped"], 0);
    assert_eq!(done[0]["public_post"]["state"], "sent");
    assert_eq!(done[0]["public_post"]["platform_id"], "post-1");

    // A resolving update resolves the incident at once (and its tickets as it answers them).
    let closing = serde_json::json!({ "text": "Fixed, sorry for the wait.", "resolve": true, "post_publicly": false });
    let (status, last) = send(&app, &path, None, &closing.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{last}");
    assert_eq!(last["public_post"], Value::Null);
    let (_, incident) = get(&app, &format!("/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "resolved");
    // Resolved when the update was written.
    assert_eq!(incident["resolved_at"], last["created_at"]);

    for (body, status, code) in [
        (
            r#"{"text": "  "}"#.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_update",
        ),
        (
            serde_json::json!({ "text": "x".repeat(281) }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_update",
        ),
        (
            r#"{"text": "hi", "resolved": true}"#.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            "not json".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ] {
        let (got, answer) = send(&app, &path, None, &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    let (got, answer) = send(
        &app,
        "/v1/incidents/inc_01M7WEYRA01VS6TTGRY8QCZ2SM/updates",
        None,
        &body,
    )
    .await;
    assert_eq!(
        (got, &answer["error"]["code"]),
        (StatusCode::NOT_FOUND, &Value::from("not_found"))
    );
    let (_, updates) = get(&app, &path).await;
    assert_eq!(updates["updates"].as_array().unwrap().len(), 2, "{updates}");
}

#[tokio::test]
async fn without_an_outbox_queue_an_update_is_refused_and_nothing_changes() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    outage(&store).await;
    let app = json_errors(routes(Arc::new(ApiState::new(store.clone(), ADMIN))));
    let (_, list) = get(&app, "/v1/incidents").await;
    let id = list["incidents"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/incidents/{id}/updates");
    let (status, answer) = send(&app, &path, None, r#"{"text": "Fixed.", "resolve": true}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "queue_unavailable");
    let (_, incident) = get(&app, &format!("/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "active");
    let (_, updates) = get(&app, &path).await;
    assert_eq!(updates["updates"], serde_json::json!([]));
}

#[tokio::test]
async fn an_incident_is_listed_with_its_tickets_and_bad_requests_are_refused() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    outage(&store).await;
    let app = json_errors(routes(Arc::new(ApiState::new(store, ADMIN))));

    let (status, body) = get(&app, "/v1/incidents").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let incidents = body["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{body}");
    let incident = &incidents[0];
    let id = incident["id"].as_str().unwrap();
    assert!(id.starts_with("inc_"), "{id}");
    assert_eq!(incident["account"], "1100000000000000001");
    assert_eq!(incident["status"], "active");
    assert_eq!(incident["spike"]["count"], 20);
    assert_eq!(incident["spike"]["baseline"], 0.0);
    assert_eq!(incident["spike"]["window_start"], "2026-11-20T12:00:00Z");
    assert_eq!(incident["spike"]["window_minutes"], 10);

    let (status, one) = get(&app, &format!("/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(&one, incident);

    let (status, page) = get(&app, &format!("/v1/incidents/{id}/tickets?limit=15")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["tickets"].as_array().unwrap().len(), 15);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = get(
        &app,
        &format!("/v1/incidents/{id}/tickets?limit=15&cursor={cursor}"),
    )
    .await;
    let rest = rest["tickets"].as_array().unwrap();
    assert_eq!(rest.len(), 5);
    assert_eq!(rest[0]["incident_id"], id);
    assert_eq!(rest[0]["triage"]["intent"], "complaint");
    assert_eq!(rest[0]["priority"], "high");

    for (path, status, code) in [
        (
            "/v1/incidents?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/v1/incidents?limit=x",
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        ("/v1/incidents/inc_nope", StatusCode::NOT_FOUND, "not_found"),
        (
            "/v1/incidents/inc_01M7WEYRA01VS6TTGRY8QCZ2SM",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/v1/incidents/inc_01M7WEYRA01VS6TTGRY8QCZ2SM/tickets",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &format!("/v1/incidents/{id}/tickets?cursor=abc"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
    ] {
        let (got, body) = get(&app, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
}
