//! The OpenAPI document: served at /v1/openapi.json, generated from the code, and committed as
//! openapi.json. When the API changes, regenerate it with
//! `UPDATE_OPENAPI=1 cargo test -p socialcare-tests --test openapi` and commit the result.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use socialcare_app::api::{self, ApiState, openapi_json};
use socialcare_app::error::json_errors;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::http::call;

#[test]
fn the_committed_document_is_the_generated_one() {
    let path = socialcare_tests::repo_root().join("openapi.json");
    let generated = openapi_json();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json differs from the API in the code: run `UPDATE_OPENAPI=1 cargo test -p socialcare-tests --test openapi` and commit it"
    );
}

#[tokio::test]
async fn the_document_is_served_without_a_key_and_describes_every_route() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let app = json_errors(api::routes(std::sync::Arc::new(ApiState::new(
        store,
        "sk_openapi_key",
    ))));
    let (status, document) = call(
        &app,
        Request::get("/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let paths = document["paths"].as_object().unwrap();
    let mut described: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{method} {path}"))
        })
        .collect();
    described.sort();
    assert_eq!(
        described,
        [
            "delete /v1/accounts/{platform}/{id}",
            "delete /v1/accounts/{platform}/{id}/token",
            "delete /v1/api-keys/{id}",
            "delete /v1/customers/{id}",
            "delete /v1/teams/{name}",
            "delete /v1/templates/{id}",
            "delete /v1/webhook-subscriptions/{id}",
            "get /v1/accounts",
            "get /v1/accounts/{platform}/{id}",
            "get /v1/accounts/{platform}/{id}/health",
            "get /v1/accounts/{platform}/{id}/searches",
            "get /v1/api-keys",
            "get /v1/configuration/changes",
            "get /v1/customers/{id}",
            "get /v1/customers/{id}/export",
            "get /v1/customers/{id}/suggestions",
            "get /v1/erasures",
            "get /v1/incidents",
            "get /v1/incidents/{id}",
            "get /v1/incidents/{id}/tickets",
            "get /v1/incidents/{id}/updates",
            "get /v1/integrations",
            "get /v1/metrics/response-times",
            "get /v1/sla-policies",
            "get /v1/teams",
            "get /v1/teams/{name}",
            "get /v1/templates",
            "get /v1/templates/{id}",
            "get /v1/tickets",
            "get /v1/tickets/{id}",
            "get /v1/tickets/{id}/events",
            "get /v1/webhook-subscriptions",
            "get /v1/webhook-subscriptions/{id}",
            "get /v1/webhook-subscriptions/{id}/deliveries",
            "patch /v1/webhook-subscriptions/{id}",
            "post /v1/accounts",
            "post /v1/api-keys",
            "post /v1/customers/{id}/identities",
            "post /v1/customers/{id}/merge",
            "post /v1/incidents/{id}/updates",
            "post /v1/integrations",
            "post /v1/integrations/{source}/rotate",
            "post /v1/templates",
            "post /v1/tickets/{id}/assign",
            "post /v1/tickets/{id}/notes",
            "post /v1/tickets/{id}/priority",
            "post /v1/tickets/{id}/replies",
            "post /v1/tickets/{id}/status",
            "post /v1/tickets/{id}/unassign",
            "post /v1/webhook-subscriptions",
            "post /v1/webhook-subscriptions/{id}/deliveries/{event_id}/redeliver",
            "post /v1/webhook-subscriptions/{id}/rotate",
            "put /v1/accounts/{platform}/{id}",
            "put /v1/accounts/{platform}/{id}/token",
            "put /v1/sla-policies",
            "put /v1/teams/{name}",
            "put /v1/templates/{id}",
        ]
    );
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Ticket",
        "TicketStatus",
        "Message",
        "Customer",
        "TicketEvent",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema} is described");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The events a webhook subscription receives, each type a signed POST of a DomainEvent.
    let webhooks = document["webhooks"].as_object().unwrap();
    let mut types: Vec<&str> = webhooks.keys().map(String::as_str).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "customer.erased",
            "customer.merged",
            "incident.opened",
            "incident.resolved",
            "incident.updated",
            "message.received",
            "reply.failed",
            "reply.sent",
            "satisfaction.rated",
            "sla.breached",
            "sla.warning",
            "ticket.assigned",
            "ticket.created",
            "ticket.status_changed",
        ]
    );
    for (kind, hook) in webhooks {
        let post = &hook["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/DomainEvent",
            "{kind}"
        );
        let headers: Vec<&str> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            headers,
            ["X-Socialcare-Signature", "Idempotency-Key"],
            "{kind}"
        );
    }
    let event_types = schemas["EventBody"].to_string();
    for kind in &types {
        assert!(
            event_types.contains(&format!("\"{kind}\"")),
            "{kind} has a schema"
        );
    }
}
