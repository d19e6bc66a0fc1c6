//! `GET/PUT /v1/sla-policies` over HTTP: admins replace the document whole, checked before it
//! is stored; other roles may not touch it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use socialcare_app::api::{ApiState, routes};
use socialcare_app::error::json_errors;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::http::call;
use std::sync::Arc;

const ADMIN: &str = "sk_api_sla_tests_admin";

fn app() -> axum::Router {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    json_errors(routes(Arc::new(ApiState::new(store, ADMIN))))
}

async fn send(
    app: &axum::Router,
    method: &str,
    key: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri("/v1/sla-policies")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    call(app, request.body(body).unwrap()).await
}

fn policies() -> Value {
    json!({"policies": {
        "1100000000000000001": {
            "targets": {
                "normal": {"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 1440},
                "urgent": {"first_response_minutes": 15, "next_response_minutes": 30, "resolution_minutes": 240}
            },
            "calendar": {
                "time_zone": "Europe/Paris",
                "hours": {"mon": {"open": "09:00:00", "close": "17:00:00"}, "fri": {"open": "09:00:00", "close": "16:00:00"}},
                "holidays": ["2026-12-25"]
            },
            "warn_at_percent": 75,
            "escalation_url": "https://hooks.slack.com/services/T0/B0/secret",
            "followups": {
                "still_on_it_after_minutes": 240,
                "still_on_it_text": "Still on it!",
                "auto_close_after_minutes": null,
                "survey_after_minutes": 30,
                "survey_text": "How did we do? 1 to 5.",
                "invitation_text": "Thanks! Share it if you like."
            }
        },
        "crm": {
            "targets": {"normal": {"first_response_minutes": 240, "next_response_minutes": 240, "resolution_minutes": 2880}}
        }
    }})
}

#[tokio::test]
async fn an_admin_replaces_the_policies_and_reads_them_back() {
    let app = app();
    let (status, empty) = send(&app, "GET", ADMIN, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!({"policies": {}}));

    let (status, stored) = send(&app, "PUT", ADMIN, Some(&policies())).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let mut expected = policies();
    // defaults are filled in: no calendar, warnings at 80 %, no escalation target, the
    // built-in follow-ups (a day, a week, an hour)
    expected["policies"]["crm"]["calendar"] = Value::Null;
    expected["policies"]["crm"]["warn_at_percent"] = json!(80);
    expected["policies"]["crm"]["escalation_url"] = Value::Null;
    let followups = &mut expected["policies"]["crm"]["followups"];
    *followups = json!({
        "still_on_it_after_minutes": 1440,
        "auto_close_after_minutes": 10080,
        "survey_after_minutes": 60,
    });
    for text in ["still_on_it_text", "survey_text", "invitation_text"] {
        followups[text] = stored["policies"]["crm"]["followups"][text].clone();
        assert!(
            followups[text].as_str().is_some_and(|t| t.len() > 20),
            "{text}"
        );
    }
    assert_eq!(stored, expected);
    let (status, read) = send(&app, "GET", ADMIN, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, expected);
}

#[tokio::test]
async fn a_bad_policy_is_refused_by_name_and_nothing_changes() {
    let app = app();
    let (status, _) = send(&app, "PUT", ADMIN, Some(&policies())).await;
    assert_eq!(status, StatusCode::OK);
    let (_, before) = send(&app, "GET", ADMIN, None).await;
    let zone = {
        let mut p = policies();
        p["policies"]["1100000000000000001"]["calendar"]["time_zone"] = json!("Mars/Olympus");
        p
    };
    let backwards = {
        let mut p = policies();
        p["policies"]["1100000000000000001"]["calendar"]["hours"]["mon"] =
            json!({"open": "18:00:00", "close": "09:00:00"});
        p
    };
    let no_normal = json!({"policies": {"crm": {"targets": {"urgent": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 1}}}}});
    let zero = json!({"policies": {"crm": {"targets": {"normal": {"first_response_minutes": 0, "next_response_minutes": 1, "resolution_minutes": 1}}}}});
    let priority = json!({"policies": {"crm": {"targets": {"normal": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 1}, "critical": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 1}}}}});
    let plain_http = {
        let mut p = policies();
        p["policies"]["1100000000000000001"]["escalation_url"] =
            json!("http://hooks.example.com/x");
        p
    };
    let no_survey_text = {
        let mut p = policies();
        p["policies"]["1100000000000000001"]["followups"]["survey_text"] = json!("  ");
        p
    };
    for (body, says) in [
        (
            zone,
            "policies.1100000000000000001.calendar: unknown time zone \"Mars/Olympus\"",
        ),
        (backwards, "Mon closes before it opens"),
        (no_normal, "policies.crm.targets: `normal` is required"),
        (zero, "at least one minute"),
        (priority, "unknown priority \"critical\""),
        (plain_http, "escalation_url must be an https:// URL"),
        (no_survey_text, "followups: a text is empty"),
    ] {
        let (status, error) = send(&app, "PUT", ADMIN, Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["code"], "invalid_policy", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // a shape error names the field
    let (status, error) = send(
        &app,
        "PUT",
        ADMIN,
        Some(&json!({"policies": {"crm": {"targets": {}, "colour": 1}}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["code"], "invalid_event");
    let (_, after) = send(&app, "GET", ADMIN, None).await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn only_admins_see_or_change_the_policies() {
    let app = app();
    let (status, created) = call(
        &app,
        Request::post("/v1/api-keys")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"name": "sally", "role": "agent"}).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let agent = created["key"].as_str().unwrap();
    for method in ["GET", "PUT"] {
        let (status, error) = send(&app, method, agent, Some(&policies())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {error}");
        assert_eq!(error["error"]["code"], "forbidden");
    }
    let (status, _) = send(&app, "GET", "sk_wrong_key_for_sla_tests", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, read) = send(&app, "GET", ADMIN, None).await;
    assert_eq!(read, json!({"policies": {}}));
}
