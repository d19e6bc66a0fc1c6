//! `GET /v1/metrics/response-times` over HTTP: the report of what ingest counted, and clear
//! refusals of a bad query. The figures themselves are checked against a hand-computed day in
//! the reminders contract (both adapters).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use socialcare_app::api::{ApiState, routes};
use socialcare_app::error::json_errors;
use socialcare_domain::ingest::ingest;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::events::x_mention;
use socialcare_tests::http::call;
use std::sync::Arc;

const ADMIN: &str = "sk_api_metrics_tests_admin";
const ACCOUNT: &str = "1100000000000000001";

async fn get(app: &axum::Router, key: &str, query: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(format!("/v1/metrics/response-times?{query}"))
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    call(app, request).await
}

#[tokio::test]
async fn the_report_counts_what_ingest_wrote_and_refuses_bad_queries() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    for (id, customer, minute) in [("m1", "ann", 0), ("m2", "bob", 30)] {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, minute, 0).unwrap();
        ingest(&store, &x_mention(id, customer, "@acme_care help", at))
            .await
            .unwrap();
    }
    let app = json_errors(routes(Arc::new(ApiState::new(store, ADMIN))));

    let (status, body) = get(
        &app,
        ADMIN,
        &format!("from=2026-11-20&to=2026-11-21&account={ACCOUNT}&group_by=channel"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account"], ACCOUNT);
    assert_eq!(body["group_by"], "channel");
    assert_eq!(body["from"], "2026-11-20");
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["group"], "x");
    assert_eq!(groups[0]["tickets"], 2);
    assert_eq!(groups[0]["first_response"]["count"], 0);
    assert_eq!(groups[0]["first_response"]["median_seconds"], Value::Null);
    assert_eq!(groups[0]["answered_within_1h"], Value::Null);

    // Another account, or days without tickets: an empty report, not an error.
    let (status, body) = get(&app, ADMIN, "from=2026-11-20&to=2026-11-20&account=other").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["group_by"], "day");
    assert_eq!(body["groups"], Value::Array(vec![]));

    for (query, code) in [
        ("from=2026-11-20&from=2026-11-21&account=a", "invalid_query"),
        ("from=20-11-2026&to=2026-11-21&account=a", "invalid_date"),
        ("from=2026-11-22&to=2026-11-21&account=a", "invalid_range"),
        ("from=2025-01-01&to=2026-11-21&account=a", "invalid_range"),
        // At chrono's ends the default range would overflow: refused, never a crash.
        ("to=-262143-01-01", "invalid_date"),
        ("from=%2B262142-12-31&to=%2B262142-12-31", "invalid_date"),
        (
            "from=2026-11-20&to=2026-11-21&account=a&group_by=week",
            "invalid_group_by",
        ),
    ] {
        let (status, body) = get(&app, ADMIN, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }
    let (status, _) = get(&app, "sk_wrong", "from=2026-11-20&to=2026-11-20&account=a").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Issue 16: without `from`/`to` the last 30 days, without `account` every account the report
/// counted, and the totals over the whole range.
#[tokio::test]
async fn without_a_range_or_an_account_the_report_covers_the_last_30_days_of_all() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let today = Utc::now();
    let days_ago = |n: i64| today - chrono::Duration::days(n);
    for (id, customer, at, account) in [
        ("m1", "ann", days_ago(1), ACCOUNT),
        ("m2", "bob", days_ago(3), "2200000000000000002"),
        ("m3", "cy", days_ago(3), "2200000000000000002"),
        ("m4", "di", days_ago(45), ACCOUNT),
    ] {
        let mut event = x_mention(id, customer, "@acme_care help", at);
        event.message.account = account.into();
        ingest(&store, &event).await.unwrap();
    }
    let app = json_errors(routes(Arc::new(ApiState::new(store, ADMIN))));
    let (status, body) = get(&app, ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account"], Value::Null);
    assert_eq!(
        body["accounts"],
        serde_json::json!([ACCOUNT, "2200000000000000002"])
    );
    assert_eq!(body["to"], today.date_naive().to_string());
    assert_eq!(body["from"], days_ago(29).date_naive().to_string());
    let groups = body["groups"].as_array().unwrap();
    let days: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    let mut expected = vec![
        days_ago(3).date_naive().to_string(),
        days_ago(1).date_naive().to_string(),
    ];
    expected.dedup();
    assert_eq!(days, expected, "the 45-day-old ticket is outside");
    assert_eq!(body["totals"]["group"], "total");
    assert_eq!(body["totals"]["tickets"], 3);
    // One account of the two, over the same default range.
    let (_, one) = get(&app, ADMIN, &format!("account={ACCOUNT}")).await;
    assert_eq!(one["accounts"], serde_json::json!([ACCOUNT]));
    assert_eq!(one["totals"]["tickets"], 1);
}
