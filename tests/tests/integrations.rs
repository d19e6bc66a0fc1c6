//! Integrations with a secret each (issue 14): an integrator writes only under its own source,
//! a rotation keeps the previous secret for a day, and the configured secret keeps working as
//! the default integration until it is rotated.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use socialcare_app::api::{self, ApiState};
use socialcare_app::error::json_errors;
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::webhook::{self, WebhookState};
use socialcare_domain::ports::{FixedClock, Queue};
use socialcare_domain::{InboundEvent, QueuedEvent};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::events::{generic_body, signature};
use socialcare_tests::http::call;
use std::sync::Arc;

const CONFIGURED: &str = "whsec_configured_default";
const ADMIN: &str = "sk_admin_for_integration_tests";

struct Deployment {
    api: axum::Router,
    store: SqliteStore,
    queue: SqliteQueue,
}

impl Deployment {
    fn new() -> Self {
        let database = Database::in_memory().unwrap();
        let store = SqliteStore::new(database.clone());
        let queue = SqliteQueue::inbound(database);
        let api = json_errors(api::routes(Arc::new(
            ApiState::new(store.clone(), ADMIN).with_integration_secret(CONFIGURED),
        )));
        Self { api, store, queue }
    }

    /// The webhook as it is at `now`.
    fn webhook(&self, now: DateTime<Utc>) -> axum::Router {
        self.webhook_remembering(now, std::time::Duration::ZERO)
    }

    /// The same, remembering integrations for `ttl` (as on Lambda).
    fn webhook_remembering(&self, now: DateTime<Utc>, ttl: std::time::Duration) -> axum::Router {
        json_errors(webhook::routes(Arc::new(WebhookState {
            // Read again at once when a signature does not fit (5 s apart at most on Lambda).
            integrations: IntegrationDirectory::of(self.store.clone(), ttl)
                .with_min_reread(std::time::Duration::ZERO),
            ..WebhookState::new(
                self.queue.clone(),
                CONFIGURED.as_bytes(),
                Arc::new(FixedClock::new(now)),
            )
        })))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        call(&self.api, request).await
    }

    async fn register(&self, source: &str) -> (String, String) {
        let (status, answer) = self
            .admin(
                "POST",
                "/v1/integrations",
                Some(json!({ "source": source })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        (
            answer["secret"].as_str().unwrap().to_string(),
            answer["outbound_secret"].as_str().unwrap().to_string(),
        )
    }

    async fn queued(&self) -> Vec<InboundEvent> {
        let mut events = Vec::new();
        for delivery in self
            .queue
            .receive(10, std::time::Duration::ZERO)
            .await
            .unwrap()
        {
            let QueuedEvent::Message(event) = serde_json::from_str(&delivery.body).unwrap() else {
                panic!("a message")
            };
            self.queue.delete(&delivery.receipt).await.unwrap();
            events.push(event);
        }
        events
    }
}

fn event(id: &str, source: Option<&str>, now: DateTime<Utc>) -> Value {
    let mut body = generic_body(id, "c-1", "Where is my refund?", now - Duration::minutes(1));
    match source {
        Some(source) => body["source"] = json!(source),
        None => {
            body.as_object_mut().unwrap().remove("source");
        }
    }
    body
}

async fn post(
    webhook: &axum::Router,
    path: &str,
    body: &Value,
    secret: &str,
    now: DateTime<Utc>,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let request = Request::post(path)
        .header("content-type", "application/json")
        .header("x-socialcare-signature", signature(secret, now, &bytes))
        .body(Body::from(bytes))
        .unwrap();
    call(webhook, request).await
}

#[tokio::test]
async fn an_integrator_writes_only_under_its_own_source() {
    let deployment = Deployment::new();
    let (crm, crm_outbound) = deployment.register("crm").await;
    let (erp, _) = deployment.register("erp").await;
    assert_ne!(crm, erp);
    assert_ne!(crm, crm_outbound, "the outbound secret is a separate one");
    let now = Utc::now();
    let webhook = deployment.webhook(now);

    // Its own source, named or not: queued under it.
    for (id, source) in [("e-1", Some("crm")), ("e-2", None)] {
        let (status, answer) = post(
            &webhook,
            "/webhooks/generic/crm",
            &event(id, source, now),
            &crm,
            now,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let queued = deployment.queued().await;
    assert_eq!(queued.len(), 2);
    assert!(
        queued.iter().all(|e| e.message.account == "crm"),
        "{queued:?}"
    );

    // Signed by crm, naming erp: refused, nothing queued.
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("e-3", Some("erp"), now),
        &crm,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "source_mismatch");
    // Signed by crm, posted as erp: not erp's signature.
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/erp",
        &event("e-4", Some("erp"), now),
        &crm,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_signature");
    // The configured secret cannot name a registered source either.
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic",
        &event("e-5", Some("erp"), now),
        CONFIGURED,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "source_registered");
    // An unknown integration is 404, before any signature is looked at.
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/nobody",
        &event("e-6", None, now),
        &crm,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(deployment.queued().await.is_empty());

    // The configured secret still serves sources nobody registered (existing setups).
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic",
        &event("e-7", Some("legacy"), now),
        CONFIGURED,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(deployment.queued().await[0].message.account, "legacy");
}

#[tokio::test]
async fn a_rotation_keeps_the_previous_secret_for_a_day() {
    let deployment = Deployment::new();
    let (old, _) = deployment.register("crm").await;
    let (status, rotated) = deployment
        .admin("POST", "/v1/integrations/crm/rotate", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let now = Utc::now();
    for (id, secret) in [("r-1", &old), ("r-2", &new)] {
        let (status, answer) = post(
            &deployment.webhook(now),
            "/webhooks/generic/crm",
            &event(id, None, now),
            secret,
            now,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let later = now + Duration::hours(25);
    let (status, _) = post(
        &deployment.webhook(later),
        "/webhooks/generic/crm",
        &event("r-3", None, later),
        &old,
        later,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        &deployment.webhook(later),
        "/webhooks/generic/crm",
        &event("r-4", None, later),
        &new,
        later,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Listing shows no secret, and until when the previous one works.
    let (status, list) = deployment.admin("GET", "/v1/integrations", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["integrations"][0];
    assert_eq!(listed["source"], "crm");
    assert_eq!(listed["webhook_path"], "/webhooks/generic/crm");
    assert_eq!(listed.get("secret"), None);
    assert_eq!(listed.get("outbound_secret"), None);
    assert!(listed["previous_valid_until"].is_string(), "{listed}");
    assert!(!list.to_string().contains(&new) && !list.to_string().contains(&old));

    // Registering it again is a conflict; bad names and the reserved one are refused.
    let (status, answer) = deployment
        .admin("POST", "/v1/integrations", Some(json!({"source": "crm"})))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("integration_exists"))
    );
    for source in ["default", "has space", ""] {
        let (status, answer) = deployment
            .admin(
                "POST",
                "/v1/integrations",
                Some(json!({ "source": source })),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{source}: {answer}"
        );
    }
    let (status, _) = deployment
        .admin("POST", "/v1/integrations/ghost/rotate", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_configured_secret_is_the_default_integration_until_rotated() {
    let deployment = Deployment::new();
    let (status, rotated) = deployment
        .admin("POST", "/v1/integrations/default/rotate", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["webhook_path"], "/webhooks/generic");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated["outbound_secret"], rotated["secret"]);
    let now = Utc::now();
    for (id, secret) in [("d-1", CONFIGURED), ("d-2", new.as_str())] {
        let (status, answer) = post(
            &deployment.webhook(now),
            "/webhooks/generic",
            &event(id, Some("legacy"), now),
            secret,
            now,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let later = now + Duration::hours(25);
    let (status, _) = post(
        &deployment.webhook(later),
        "/webhooks/generic",
        &event("d-3", None, later),
        CONFIGURED,
        later,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Non-admins manage no integration.
    let request = Request::get("/v1/integrations")
        .header("authorization", "Bearer not-a-key")
        .body(Body::empty())
        .unwrap();
    let (status, _) = call(&deployment.api, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// On Lambda the webhook remembers integrations for a minute; an integration created or
/// rotated meanwhile is read again at once rather than refused.
#[tokio::test]
async fn a_remembered_integration_is_read_again_when_it_does_not_match() {
    let deployment = Deployment::new();
    let now = Utc::now();
    let webhook = deployment.webhook_remembering(now, std::time::Duration::from_secs(60));
    // Not registered yet: the configured secret may write as crm, and crm is remembered free.
    let body = event("m-0", Some("crm"), now);
    let (status, _) = post(&webhook, "/webhooks/generic", &body, CONFIGURED, now).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(deployment.queued().await.len(), 1);
    // Not registered yet: 404, and remembered as unknown.
    let (status, _) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("m-1", None, now),
        "x",
        now,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (old, _) = deployment.register("crm").await;
    // Registered now: the configured secret no longer writes as crm, whatever was remembered.
    let body = event("m-9", Some("crm"), now);
    let (status, answer) = post(&webhook, "/webhooks/generic", &body, CONFIGURED, now).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("m-2", None, now),
        &old,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (_, rotated) = deployment
        .admin("POST", "/v1/integrations/crm/rotate", None)
        .await;
    let new = rotated["secret"].as_str().unwrap();
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("m-3", None, now),
        new,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // A wrong secret is still wrong after reading again.
    let (status, answer) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("m-4", None, now),
        "whsec_wrong",
        now,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(deployment.queued().await.len(), 2);
}

/// After a leak, a rotation can end the previous secret at once.
#[tokio::test]
async fn a_rotation_can_end_the_previous_secret_at_once() {
    let deployment = Deployment::new();
    let (old, _) = deployment.register("crm").await;
    let (status, rotated) = deployment
        .admin(
            "POST",
            "/v1/integrations/crm/rotate?expire_previous=true",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["previous_valid_until"], Value::Null);
    let new = rotated["secret"].as_str().unwrap().to_string();
    let now = Utc::now();
    let webhook = deployment.webhook(now);
    let (status, _) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("x-1", None, now),
        &old,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        &webhook,
        "/webhooks/generic/crm",
        &event("x-2", None, now),
        &new,
        now,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, answer) = deployment
        .admin(
            "POST",
            "/v1/integrations/crm/rotate?expire_previous=maybe",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}
