//! The tickets API: authentication, listing with filters and cursors, and ticket detail.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use socialcare_app::api::{self, ApiState};
use socialcare_app::error::json_errors;
use socialcare_domain::ingest::ingest;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::events::inbound;
use socialcare_tests::http::call;
use tower::ServiceExt;

const KEY: &str = "sk_api_tests_key_123";

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

/// An API over a store holding three customers' tickets (c0 oldest, c2 newest).
async fn api_with_tickets() -> axum::Router {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    for n in 0..3 {
        ingest(
            &store,
            &inbound(
                &format!("m{n}"),
                &format!("c{n}"),
                &format!("problem {n}"),
                at(n),
            ),
        )
        .await
        .unwrap();
    }
    json_errors(api::routes(std::sync::Arc::new(ApiState::new(store, KEY))))
}

async fn get(app: &axum::Router, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    call(app, request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn every_route_wants_the_key() {
    let app = api_with_tickets().await;
    for path in ["/v1/tickets", "/v1/tickets/tkt_01KAQ5Z0000000000000000000"] {
        for key in [None, Some("wrong"), Some("")] {
            let (status, answer) = get(&app, path, key).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {key:?}");
            assert_eq!(answer["error"]["code"], "unauthorized");
        }
    }
    let response = app
        .clone()
        .oneshot(Request::get("/v1/tickets").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn tickets_come_newest_first_with_their_fields() {
    let app = api_with_tickets().await;
    let (status, answer) = get(&app, "/v1/tickets", Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let tickets = answer["tickets"].as_array().unwrap();
    let subjects: Vec<&str> = tickets
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["problem 2", "problem 1", "problem 0"]);
    let newest = &tickets[0];
    assert_eq!(newest["status"], "open");
    assert_eq!(newest["account"], "crm");
    assert_eq!(newest["source"], "integration");
    assert_eq!(newest["message_count"], 1);
    assert_eq!(newest["created_at"], "2026-11-22T09:02:00Z");
    assert_eq!(newest["last_message_at"], "2026-11-22T09:02:00Z");
    assert!(newest["id"].as_str().unwrap().starts_with("tkt_"));
    assert!(newest["customer_id"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(answer["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_cursor_continues_the_list() {
    let app = api_with_tickets().await;
    let (_, first) = get(&app, "/v1/tickets?limit=2", Some(KEY)).await;
    assert_eq!(first["tickets"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("more to come");
    let (status, second) = get(
        &app,
        &format!("/v1/tickets?limit=2&cursor={cursor}"),
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rest: Vec<&str> = second["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["problem 0"]);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_status_filter_applies() {
    let app = api_with_tickets().await;
    let (_, open) = get(&app, "/v1/tickets?status=open", Some(KEY)).await;
    assert_eq!(open["tickets"].as_array().unwrap().len(), 3);
    let (_, resolved) = get(&app, "/v1/tickets?status=resolved", Some(KEY)).await;
    assert_eq!(resolved["tickets"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_parameters_are_400_and_say_which() {
    let app = api_with_tickets().await;
    for (query, code) in [
        ("status=archived", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=not-ours", "invalid_cursor"),
    ] {
        let (status, answer) = get(&app, &format!("/v1/tickets?{query}"), Some(KEY)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer["error"]["code"], code, "{query}");
    }
}

#[tokio::test]
async fn a_ticket_comes_with_its_customer_and_messages() {
    let app = api_with_tickets().await;
    let (_, list) = get(&app, "/v1/tickets?limit=1", Some(KEY)).await;
    let id = list["tickets"][0]["id"].as_str().unwrap();
    let (status, detail) = get(&app, &format!("/v1/tickets/{id}"), Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["ticket"]["id"], id);
    assert_eq!(detail["customer"]["name"], "Customer c2");
    assert_eq!(detail["customer"]["identities"][0]["user_id"], "c2");
    assert_eq!(detail["messages"][0]["text"], "problem 2");
    assert_eq!(detail["messages"][0]["ticket_id"], id);
    assert_eq!(detail["messages"][0]["source"], "integration");
    assert_eq!(detail["messages"][0]["channel"], "private");
}

/// Issue 14: a ticket's messages and events come in pages (a flooded ticket would pass
/// Lambda's 6 MB answer whole).
#[tokio::test]
async fn a_tickets_messages_and_events_are_paged() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    for n in 0..5 {
        ingest(
            &store,
            &inbound(&format!("q{n}"), "ann", &format!("try {n}"), at(n)),
        )
        .await
        .unwrap();
    }
    let app = json_errors(api::routes(std::sync::Arc::new(ApiState::new(store, KEY))));
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let id = list["tickets"][0]["id"].as_str().unwrap().to_string();
    for (route, field, total) in [("", "messages", 5), ("/events", "events", 5)] {
        let mut seen = Vec::new();
        let mut path = format!("/v1/tickets/{id}{route}?limit=2");
        let mut pages = 0;
        loop {
            let (status, page) = get(&app, &path, Some(KEY)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            let items = page[field].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/tickets/{id}{route}?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), total, "{route}");
        assert_eq!(pages, 3, "{route}");
        if field == "messages" {
            let texts: Vec<&str> = seen.iter().map(|m| m["text"].as_str().unwrap()).collect();
            assert_eq!(texts, ["try 0", "try 1", "try 2", "try 3", "try 4"]);
        }
        for (query, code) in [
            ("limit=0", "invalid_limit"),
            ("limit=201", "invalid_limit"),
            ("cursor=%%%", "invalid_cursor"),
            ("cursor=bm9oYXNo", "invalid_cursor"),
            // "\u{10FFFF}#": above every sort key (DynamoDB would refuse the range)
            ("cursor=9I-_vyM", "invalid_cursor"),
        ] {
            let (status, answer) =
                get(&app, &format!("/v1/tickets/{id}{route}?{query}"), Some(KEY)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route} {query}");
            assert_eq!(answer["error"]["code"], code, "{route} {query}");
        }
    }
    // The default page holds them all, with no cursor.
    let (_, whole) = get(&app, &format!("/v1/tickets/{id}"), Some(KEY)).await;
    assert_eq!(whole["messages"].as_array().unwrap().len(), 5);
    assert_eq!(whole["next_cursor"], Value::Null);
}

/// Review of issue 14: 200 long messages in one page would pass Lambda's 6 MB answer; a page
/// stops before 4 MB and its cursor goes on from there.
#[tokio::test]
async fn a_page_of_long_messages_stops_before_lambdas_answer_limit() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let long = "x".repeat(200 * 1024);
    for n in 0..25 {
        ingest(
            &store,
            &inbound(&format!("l{n}"), "ann", &format!("{n} {long}"), at(n)),
        )
        .await
        .unwrap();
    }
    let app = json_errors(api::routes(std::sync::Arc::new(ApiState::new(store, KEY))));
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let id = list["tickets"][0]["id"].as_str().unwrap().to_string();
    let (status, first) = get(&app, &format!("/v1/tickets/{id}"), Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let shown = first["messages"].as_array().unwrap().len();
    assert!((10..25).contains(&shown), "{shown}");
    assert!(first.to_string().len() < 5 * 1024 * 1024);
    let cursor = first["next_cursor"].as_str().expect("a cursor to go on");
    let (_, rest) = get(
        &app,
        &format!("/v1/tickets/{id}?cursor={cursor}"),
        Some(KEY),
    )
    .await;
    let more = rest["messages"].as_array().unwrap();
    assert_eq!(shown + more.len(), 25);
    assert!(
        more[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{shown} "))
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_ticket_id_is_404() {
    let app = api_with_tickets().await;
    for id in [
        "tkt_01KAQ5Z0000000000000000000",
        "nope",
        "msg_01KAQ5Z0000000000000000000",
    ] {
        let (status, answer) = get(&app, &format!("/v1/tickets/{id}"), Some(KEY)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
}

async fn post(
    app: &axum::Router,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    call(app, request.body(Body::from(body.to_string())).unwrap()).await
}

async fn first_ticket_id(app: &axum::Router) -> String {
    let (_, list) = get(app, "/v1/tickets?limit=1", Some(KEY)).await;
    list["tickets"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_status_change_follows_the_lifecycle_and_lands_in_the_trail() {
    let app = api_with_tickets().await;
    let id = first_ticket_id(&app).await;
    let path = format!("/v1/tickets/{id}/status");
    let (status, answer) = post(&app, &path, Some(KEY), r#"{"status": "resolved"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ticket"]["status"], "resolved");
    assert_eq!(answer["ticket"]["version"], 2);
    assert!(answer["ticket"]["resolved_at"].is_string());
    // asking again is harmless
    let (status, answer) = post(&app, &path, Some(KEY), r#"{"status": "resolved"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["ticket"]["version"], 2);

    let (status, answer) = post(&app, &path, Some(KEY), r#"{"status": "pending_customer"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer["error"]["code"], "invalid_transition");
    assert_eq!(
        answer["error"]["message"],
        "a resolved ticket cannot become pending_customer"
    );

    let (status, events) = get(&app, &format!("/v1/tickets/{id}/events"), Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"], "created");
    assert_eq!(events[0]["actor"]["type"], "customer");
    assert_eq!(events[1]["event"], "status_changed");
    assert_eq!(events[1]["from"], "open");
    assert_eq!(events[1]["to"], "resolved");
    assert_eq!(
        events[1]["actor"],
        serde_json::json!({"type": "agent", "id": "bootstrap"})
    );
}

#[tokio::test]
async fn bad_status_requests_say_what_is_wrong() {
    let app = api_with_tickets().await;
    let id = first_ticket_id(&app).await;
    let path = format!("/v1/tickets/{id}/status");
    for (body, status, code) in [
        (
            r#"{"status": "archived"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_status",
        ),
        (r#"{}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
        (r#"{"status": "#, StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let (got, answer) = post(&app, &path, Some(KEY), body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    let (status, _) = post(
        &app,
        "/v1/tickets/tkt_01KAQ5Z0000000000000000000/status",
        Some(KEY),
        r#"{"status": "resolved"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&app, &path, None, r#"{"status": "resolved"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn notes_are_added_to_the_trail() {
    let app = api_with_tickets().await;
    let id = first_ticket_id(&app).await;
    let path = format!("/v1/tickets/{id}/notes");
    let (status, note) = post(&app, &path, Some(KEY), r#"{"text": "  called her back  "}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["event"], "note");
    assert_eq!(note["text"], "called her back");
    assert_eq!(note["ticket_id"], id);
    assert!(note["id"].as_str().unwrap().starts_with("evt_"));
    let (_, events) = get(&app, &format!("/v1/tickets/{id}/events"), Some(KEY)).await;
    assert_eq!(events["events"][1]["text"], "called her back");

    let (status, answer) = post(&app, &path, Some(KEY), r#"{"text": "   "}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "invalid_note");
    let (status, _) = post(
        &app,
        "/v1/tickets/tkt_01KAQ5Z0000000000000000000/notes",
        Some(KEY),
        r#"{"text": "x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(
        &app,
        "/v1/tickets/tkt_01KAQ5Z0000000000000000000/events",
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&app, &path, Some("wrong"), r#"{"text": "x"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn delete(app: &axum::Router, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::delete(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    call(app, request.body(Body::empty()).unwrap()).await
}

/// Creates a key with the bootstrap admin key; returns (id, secret).
async fn new_key(app: &axum::Router, name: &str, role: &str) -> (String, String) {
    let body = format!(r#"{{"name": "{name}", "role": "{role}"}}"#);
    let (status, answer) = post(app, "/v1/api-keys", Some(KEY), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["name"], name);
    assert_eq!(answer["role"], role);
    assert!(answer.get("hash").is_none(), "{answer}");
    (
        answer["id"].as_str().unwrap().to_string(),
        answer["key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn each_role_may_do_its_part_and_no_more() {
    let app = api_with_tickets().await;
    let id = first_ticket_id(&app).await;
    let (_, integrator) = new_key(&app, "crm-bridge", "integrator").await;
    let (_, agent) = new_key(&app, "sally", "agent").await;
    let (_, admin) = new_key(&app, "ops", "admin").await;

    let status_path = format!("/v1/tickets/{id}/status");
    let notes_path = format!("/v1/tickets/{id}/notes");
    // integrator: reads
    assert_eq!(
        get(&app, "/v1/tickets", Some(&integrator)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &format!("/v1/tickets/{id}"), Some(&integrator))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &format!("/v1/tickets/{id}/events"), Some(&integrator))
            .await
            .0,
        StatusCode::OK
    );
    let (status, answer) = post(
        &app,
        &status_path,
        Some(&integrator),
        r#"{"status": "resolved"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"]["code"], "forbidden");
    assert_eq!(
        answer["error"]["message"],
        "this needs the agent role; the key of crm-bridge has the integrator role"
    );
    assert_eq!(
        post(&app, &notes_path, Some(&integrator), r#"{"text": "x"}"#)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/v1/api-keys", Some(&integrator)).await.0,
        StatusCode::FORBIDDEN
    );
    // agent: also acts on tickets, as itself
    let (status, _) = post(&app, &notes_path, Some(&agent), r#"{"text": "on it"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post(
        &app,
        &status_path,
        Some(&agent),
        r#"{"status": "pending_internal"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, events) = get(&app, &format!("/v1/tickets/{id}/events"), Some(&agent)).await;
    let actors: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["actor"])
        .collect();
    assert_eq!(
        actors[1],
        &serde_json::json!({"type": "agent", "id": "sally"})
    );
    assert_eq!(
        actors[2],
        &serde_json::json!({"type": "agent", "id": "sally"})
    );
    assert_eq!(
        post(
            &app,
            "/v1/api-keys",
            Some(&agent),
            r#"{"name": "x", "role": "admin"}"#
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // admin: manages keys
    let (status, keys) = get(&app, "/v1/api-keys", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crm-bridge", "sally", "ops"]);
    assert!(
        keys["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("hash").is_none() && k.get("key").is_none())
    );
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = api_with_tickets().await;
    let (id, secret) = new_key(&app, "temp", "agent").await;
    assert_eq!(
        get(&app, "/v1/tickets", Some(&secret)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        delete(&app, &format!("/v1/api-keys/{id}"), Some(KEY))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, answer) = get(&app, "/v1/tickets", Some(&secret)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "unauthorized");
    // again, and an unknown id
    assert_eq!(
        delete(&app, &format!("/v1/api-keys/{id}"), Some(KEY))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&app, "/v1/api-keys/key_0000000000000000", Some(KEY))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &format!("/v1/api-keys/{id}"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, keys) = get(&app, "/v1/api-keys", Some(KEY)).await;
    assert!(keys["api_keys"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn a_key_request_must_name_a_role_and_a_name() {
    let app = api_with_tickets().await;
    for (body, status, code) in [
        (
            r#"{"name": "x", "role": "owner"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            r#"{"role": "agent"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            r#"{"name": " ", "role": "agent"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_key",
        ),
        (r#"{"name": "#, StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let (got, answer) = post(&app, "/v1/api-keys", Some(KEY), body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
}

#[tokio::test]
async fn a_customer_comes_with_every_identity_and_ticket() {
    let app = api_with_tickets().await;
    let (_, list) = get(&app, "/v1/tickets?limit=1", Some(KEY)).await;
    let customer = list["tickets"][0]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, integrator) = new_key(&app, "crm-bridge", "integrator").await;

    let path = format!("/v1/customers/{customer}/identities");
    let body = r#"{"source": "x", "account": "1100000000000000001", "user_id": "3001969357", "handle": "furiouscamper"}"#;
    let (status, linked) = post(&app, &path, Some(&integrator), body).await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["customer"]["identities"][1]["source"], "x");
    assert_eq!(linked["customer"]["identities"][1]["user_id"], "3001969357");

    let (status, history) = get(
        &app,
        &format!("/v1/customers/{customer}"),
        Some(&integrator),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["customer"]["id"], customer);
    assert_eq!(history["customer"]["name"], "Customer c2");
    assert_eq!(
        history["customer"]["identities"].as_array().unwrap().len(),
        2
    );
    assert_eq!(history["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(history["tickets"][0]["subject"], "problem 2");
    assert_eq!(history["next_cursor"], Value::Null);
}

#[tokio::test]
async fn customer_routes_refuse_what_they_cannot_do() {
    let app = api_with_tickets().await;
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let ann = list["tickets"][0]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = list["tickets"][1]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let crm = |user: &str| {
        format!(r#"{{"source": "integration", "account": "crm", "user_id": "{user}"}}"#)
    };
    // bob's own identity cannot be given to ann
    let (status, answer) = post(
        &app,
        &format!("/v1/customers/{ann}/identities"),
        Some(KEY),
        &crm("c1"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "identity_taken");
    assert!(answer["error"]["message"].as_str().unwrap().contains(&bob));
    for (body, code) in [
        (
            r#"{"source": "myspace", "account": "a", "user_id": "u"}"#,
            "invalid_event",
        ),
        (
            r#"{"source": "x", "account": " ", "user_id": "u"}"#,
            "invalid_identity",
        ),
        (r#"{"source": "x"}"#, "invalid_event"),
    ] {
        let (status, answer) = post(
            &app,
            &format!("/v1/customers/{ann}/identities"),
            Some(KEY),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    for path in [
        "/v1/customers/cus_01KAQ5Z0000000000000000000",
        "/v1/customers/nope",
    ] {
        assert_eq!(
            get(&app, path, Some(KEY)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = post(
        &app,
        "/v1/customers/cus_01KAQ5Z0000000000000000000/identities",
        Some(KEY),
        &crm("zz"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, &format!("/v1/customers/{ann}"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_agent_merges_two_customers_into_one_and_asking_again_is_the_same() {
    let app = api_with_tickets().await;
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let ann = list["tickets"][0]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = list["tickets"][1]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bobs_ticket = list["tickets"][1]["id"].as_str().unwrap().to_string();
    let (_, integrator) = new_key(&app, "crm-bridge", "integrator").await;
    let (_, agent) = new_key(&app, "sally", "agent").await;
    let path = format!("/v1/customers/{ann}/merge");
    let body = format!(r#"{{"customer_id": "{bob}"}}"#);

    let (status, answer) = post(&app, &path, Some(&integrator), &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, merged) = post(&app, &path, Some(&agent), &body).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["merge"]["customer_id"], bob);
    assert_eq!(merged["merge"]["into"], ann);
    assert_eq!(merged["merge"]["merged_by"], "sally");
    assert_eq!(merged["merge"]["tickets"], 1);
    assert_eq!(merged["merge"]["identities"], 1);
    assert!(merged["merge"]["completed_at"].is_string());
    assert_eq!(merged["customer"]["id"], ann);
    assert_eq!(
        merged["customer"]["identities"].as_array().unwrap().len(),
        2
    );

    let (status, history) = get(&app, &format!("/v1/customers/{ann}"), Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&app, &format!("/v1/customers/{bob}"), Some(&agent))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, events) = get(
        &app,
        &format!("/v1/tickets/{bobs_ticket}/events"),
        Some(&agent),
    )
    .await;
    let merges: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "customer_merged")
        .collect();
    assert_eq!(merges.len(), 1, "{events}");
    assert_eq!(merges[0]["from"], bob);
    assert_eq!(merges[0]["into"], ann);
    assert_eq!(merges[0]["actor"]["id"], "sally");

    let (status, again) = post(&app, &path, Some(&agent), &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["merge"], merged["merge"]);

    let nobody = "cus_01KAQ5Z0000000000000000000";
    for (path, body, status, code) in [
        (
            format!("/v1/customers/{bob}/merge"),
            format!(r#"{{"customer_id": "{ann}"}}"#),
            StatusCode::CONFLICT,
            "merged_elsewhere",
        ),
        (
            path.clone(),
            format!(r#"{{"customer_id": "{ann}"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_customer",
        ),
        (
            path.clone(),
            format!(r#"{{"customer_id": "{nobody}"}}"#),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            path.clone(),
            r#"{"customer_id": "nope"}"#.to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            path.clone(),
            r#"{"id": 1}"#.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            path.clone(),
            "{".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ] {
        let (got, answer) = post(&app, &path, Some(&agent), &body).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{path} {body}");
    }
}

#[tokio::test]
async fn an_admin_exports_then_erases_a_customer_and_the_log_keeps_who_asked() {
    let app = api_with_tickets().await;
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let c2 = list["tickets"][0]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ticket = list["tickets"][0]["id"].as_str().unwrap().to_string();
    let (_, agent) = new_key(&app, "sally", "agent").await;
    let (_, admin) = new_key(&app, "ops", "admin").await;
    let export_path = format!("/v1/customers/{c2}/export");
    let customer_path = format!("/v1/customers/{c2}");

    // Only an admin exports or erases.
    assert_eq!(
        get(&app, &export_path, Some(&agent)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &customer_path, Some(&agent)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/v1/erasures", Some(&agent)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &customer_path, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, export) = get(&app, &export_path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["customer"]["id"], c2);
    assert_eq!(export["customer"]["email"], "c2@example.com");
    assert_eq!(export["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(export["tickets"][0]["ticket"]["subject"], "problem 2");
    assert_eq!(export["tickets"][0]["messages"][0]["text"], "problem 2");
    assert_eq!(export["tickets"][0]["events"][0]["event"], "created");

    let (status, erased) = delete(&app, &customer_path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let erasure = &erased["erasure"];
    assert_eq!(erasure["customer_id"], c2);
    assert_eq!(erasure["account"], "crm");
    assert_eq!(erasure["requested_by"], "ops");
    assert_eq!(erasure["tickets"], 1);
    assert_eq!(erasure["messages"], 1);
    assert!(erasure["completed_at"].is_string(), "{erasure}");
    assert!(!erased.to_string().contains("problem 2"), "{erased}");

    // Gone from the customer's routes; the ticket stays, closed, saying nothing of them.
    assert_eq!(
        get(&app, &customer_path, Some(&admin)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &export_path, Some(&admin)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, detail) = get(&app, &format!("/v1/tickets/{ticket}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["ticket"]["status"], "closed");
    assert_eq!(detail["customer"], Value::Null);
    let text = detail.to_string();
    for personal in ["problem 2", "Customer c2", "c2@example.com"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // Asked again: the same record. The log lists it.
    let (status, again) = delete(&app, &customer_path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, erased);
    let (status, log) = get(&app, "/v1/erasures", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["erasures"], serde_json::json!([erasure]));

    for path in [
        "/v1/customers/cus_01KAQ5Z0000000000000000000",
        "/v1/customers/nope",
    ] {
        assert_eq!(
            delete(&app, path, Some(&admin)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        let export = format!("{path}/export");
        assert_eq!(
            get(&app, &export, Some(&admin)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

const TEAMS: &str = r#"
[[teams]]
name = "support"
members = ["sally", "tim"]
lead = "sally"

[[teams]]
name = "nightshift"
members = ["ghost"]
"#;

async fn api_with_teams() -> axum::Router {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    for n in 0..3 {
        ingest(
            &store,
            &inbound(
                &format!("m{n}"),
                &format!("c{n}"),
                &format!("problem {n}"),
                at(n),
            ),
        )
        .await
        .unwrap();
    }
    let configuration = socialcare_app::accounts::Configuration::parse(TEAMS).unwrap();
    let configuration = socialcare_app::configuration::ConfigurationCache::fixed(configuration);
    json_errors(api::routes(std::sync::Arc::new(
        ApiState::new(store, KEY).with_configuration(configuration),
    )))
}

#[tokio::test]
async fn a_team_hands_tickets_round_robin_and_an_agent_takes_one_by_name() {
    let app = api_with_teams().await;
    let (_, sally) = new_key(&app, "sally", "agent").await;
    new_key(&app, "tim", "agent").await;
    let (_, list) = get(&app, "/v1/tickets", Some(KEY)).await;
    let ids: Vec<String> = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();

    let mut owners = Vec::new();
    for id in &ids {
        let (status, answer) = post(
            &app,
            &format!("/v1/tickets/{id}/assign"),
            Some(&sally),
            r#"{"team": "support"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["ticket"]["team"], "support");
        owners.push(answer["ticket"]["owner"].as_str().unwrap().to_string());
    }
    assert_eq!(owners, ["sally", "tim", "sally"]);

    let (status, answer) = post(
        &app,
        &format!("/v1/tickets/{}/assign", ids[0]),
        Some(&sally),
        r#"{"agent": "tim"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ticket"]["owner"], "tim");
    assert_eq!(answer["ticket"]["team"], "support");
    let (_, events) = get(&app, &format!("/v1/tickets/{}/events", ids[0]), Some(KEY)).await;
    let events = events["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["event"], "assigned");
    assert_eq!(last["owner"], "tim");
    assert_eq!(last["team"], "support");
    assert_eq!(last["actor"]["id"], "sally");
}

#[tokio::test]
async fn an_assignment_that_cannot_be_made_says_why() {
    let app = api_with_teams().await;
    let (_, list) = get(&app, "/v1/tickets?limit=1", Some(KEY)).await;
    let path = format!(
        "/v1/tickets/{}/assign",
        list["tickets"][0]["id"].as_str().unwrap()
    );
    let (_, integrator) = new_key(&app, "crm", "integrator").await;
    for (body, status, code) in [
        (
            r#"{"agent": "nobody"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_agent",
        ),
        (
            r#"{"team": "marketing"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_team",
        ),
        (
            r#"{}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignment",
        ),
        (
            r#"{"team": "nightshift"}"#,
            StatusCode::CONFLICT,
            "nobody_active",
        ),
        // an integrator key's holder is no agent
        (
            r#"{"agent": "crm"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_agent",
        ),
    ] {
        let (got, answer) = post(&app, &path, Some(KEY), body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    assert_eq!(
        post(&app, &path, Some(&integrator), r#"{"team": "support"}"#)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let unknown = "/v1/tickets/tkt_01KAQ5Z0000000000000000000/assign";
    let (status, answer) = post(&app, unknown, Some(KEY), r#"{"team": "support"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, _) = post(&app, &path, None, r#"{"team": "support"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn put(app: &axum::Router, path: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut request = Request::put(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    call(app, request.body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn templates_are_checked_when_saved_and_kept_by_admins() {
    let app = api_with_tickets().await;
    let (_, agent) = new_key(&app, "sally", "agent").await;
    let body = r#"{"id": "sorry", "text": "Sorry {{customer.name}}, {{agent.name}} here.", "language": "en"}"#;
    let (status, created) = post(&app, "/v1/templates", Some(KEY), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "sorry");
    assert_eq!(
        created["text"],
        "Sorry {{customer.name}}, {{agent.name}} here."
    );
    assert_eq!(created["language"], "en");
    assert_eq!(
        post(&app, "/v1/templates", Some(KEY), body).await.1["error"]["code"],
        "template_exists"
    );

    let (status, answer) = post(
        &app,
        "/v1/templates",
        Some(KEY),
        r#"{"id": "typo", "text": "Hi {{customer.nmae}}"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "invalid_template");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("{{customer.nmae}}"),
        "{answer}"
    );

    // agents read, admins write
    let (status, list) = get(&app, "/v1/templates", Some(&agent)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["templates"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(&app, "/v1/templates/sorry", Some(&agent)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post(
            &app,
            "/v1/templates",
            Some(&agent),
            r#"{"id": "x", "text": "x"}"#
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(
            &app,
            "/v1/templates/sorry",
            Some(&agent),
            r#"{"text": "x"}"#
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, "/v1/templates/sorry", Some(&agent)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/v1/templates", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, replaced) = put(
        &app,
        "/v1/templates/sorry",
        Some(KEY),
        r#"{"text": "So sorry {{customer.handle}}"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["text"], "So sorry {{customer.handle}}");
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        put(
            &app,
            "/v1/templates/sorry",
            Some(KEY),
            r#"{"text": "{{ticket.owner}}"}"#
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(&app, "/v1/templates/nothing", Some(KEY), r#"{"text": "x"}"#)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, "/v1/templates/sorry", Some(KEY)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&app, "/v1/templates/sorry", Some(KEY)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/v1/templates/sorry", Some(KEY)).await.0,
        StatusCode::NOT_FOUND
    );
}
