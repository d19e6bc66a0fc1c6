//! `GET /v1/incidents` over HTTP: an incident opened by a spike of complaints, its tickets, and
//! clear refusals. What opens an incident is the incidents contract's job (both adapters).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use socialcare_app::api::{ApiState, routes};
use socialcare_app::error::json_errors;
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_domain::ingest::QueuedEvent;
use socialcare_domain::threading::Rules;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::events::x_mention;
use socialcare_tests::http::call;
use std::sync::Arc;

const ADMIN: &str = "sk_api_incidents_tests_admin";

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    call(app, request).await
}

#[tokio::test]
async fn an_incident_is_listed_with_its_tickets_and_bad_requests_are_refused() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let noon = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    // 20 customers report the same outage within a few minutes: the default floor.
    let records = (0..20)
        .map(|i| {
            let (id, customer) = (format!("m{i}"), format!("c{i}"));
            let text = "@acme_care mobile data outage again, nothing loads";
            let event = x_mention(&id, &customer, text, noon + Duration::seconds(10 * i));
            QueueRecord {
                message_id: id,
                group_id: Some(customer),
                body: serde_json::to_string(&QueuedEvent::Message(event)).unwrap(),
            }
        })
        .collect();
    let failed = ingest_batch(&store, &Rules::default(), None, records).await;
    assert!(failed.is_empty(), "{failed:?}");
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
