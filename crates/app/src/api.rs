//! The HTTP API for agents and integrators: `/v1/...`, behind a bearer key.

use crate::bootstrap::BootstrapKeys;
use crate::configuration::ConfigurationCache;
use crate::error::ApiError;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use socialcare_domain::access::{ApiKey, Role, key_hash, key_id};
use socialcare_domain::customers::LinkError;
use socialcare_domain::lifecycle::{self, CommandError};
use socialcare_domain::ownership::{self, AssignError, Assignment, Teams};
use socialcare_domain::ports::{CommitError, CustomerStore};
use socialcare_domain::templates::{Template, TemplateError};
use socialcare_domain::{
    Actor, Cursor, Customer, CustomerId, Identity, Source, Ticket, TicketEvent, TicketId,
    TicketQuery, TicketStatus,
};
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

pub(crate) mod accounts;
mod customers;
mod incidents;
mod integrations;
mod keys;
mod metrics;
mod replies;
mod sla;
mod templates;
mod tickets;
mod webhooks;

pub use crate::connect::{delete_token_by, health_by, set_token_by};
pub use accounts::{
    create_account_by, delete_account_by, delete_team_by, put_account_by, put_team_by, searches_by,
    stored_document,
};
use customers::*;
pub use customers::{
    NewIdentity, erase_customer_by, export_customer_by, link_identity_by, marks_by,
    merge_customer_by, suggestions_by,
};
pub use incidents::{NewUpdate, post_update_by};
use keys::*;
pub use keys::{KeyView, NewKey, create_key_by, revoke_key_by};
pub use metrics::{ReportParams, ResponseTimes, response_times_by};
pub use replies::{NewReply, idempotent_key, reply_by, template_text};
pub use sla::put_policies_by;
use templates::*;
pub use templates::{NewTemplate, create_template_by, delete_template_by, replace_template_by};
use tickets::*;
pub use tickets::{add_note_by, assign_by, change_priority_by, change_status_by, unassign_by};
pub use webhooks::{
    NewSubscription, SubscriptionChange, SubscriptionView, TYPES as EVENT_TYPES,
    change_subscription_by, create_subscription_by, delete_subscription_by, list_deliveries_by,
    list_subscriptions_by, redeliver_by, rotate_secret_by,
};

/// What the API needs of the store.
pub use socialcare_domain::ports::TicketStore as Store;

pub struct ApiState<S> {
    pub store: S,
    /// The accounts and teams in force: the teams tickets can be assigned to, how fast
    /// incident updates may post per account. Changed through `/v1/accounts` and `/v1/teams`.
    pub configuration: ConfigurationCache,
    /// Where replies are queued for the sender.
    pub outbox: Option<crate::outbox::Outbox>,
    /// Where deliveries to webhook subscribers are queued again (the reminders queue).
    pub jobs: Option<crate::outbox::Outbox>,
    /// Which URLs a webhook subscription may name.
    pub guard: socialcare_platforms::OutboundGuard,
    /// The configured secret of the default integration, which its first rotation replaces.
    pub integration_secret: Option<String>,
    /// The bootstrap admin key(s), kept as SHA-256 digests.
    bootstrap: BootstrapKeys,
    /// The platforms' apps, the public URL and the sealer the connect flows need.
    pub connectors: Arc<crate::connect::Connectors>,
}

impl<S: Store> ApiState<S> {
    /// The holder of `presented`, when it is a valid key (a bootstrap key or a stored one).
    pub async fn caller_of_key(&self, presented: &str) -> Result<Option<Caller>, ApiError> {
        if self.bootstrap.admits(presented).await {
            return Ok(Some(Caller::bootstrap()));
        }
        match self.store.get_key(&key_id(&key_hash(presented))).await {
            Ok(Some(key)) if key.admits(presented) => Ok(Some(Caller::of(&key))),
            Ok(_) => Ok(None),
            Err(e) => Err(ApiError::store(e)),
        }
    }

    /// The holder of the key with this hash while it is still valid (a console session's
    /// key: revoking it ends the session).
    pub async fn caller_of_key_hash(&self, hash: &str) -> Result<Option<Caller>, ApiError> {
        if self.bootstrap.admits_hash(hash).await {
            return Ok(Some(Caller::bootstrap()));
        }
        match self.store.get_key(&key_id(hash)).await {
            Ok(Some(key)) if key.hash == hash && key.revoked_at.is_none() => {
                Ok(Some(Caller::of(&key)))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(ApiError::store(e)),
        }
    }
}

impl<S> ApiState<S> {
    /// The same, with the configuration (accounts, teams, paces) from `configuration`.
    pub fn with_configuration(self, configuration: ConfigurationCache) -> Self {
        Self {
            configuration,
            ..self
        }
    }

    /// The same, connecting accounts with `connectors`.
    pub fn with_connectors(self, connectors: crate::connect::Connectors) -> Self {
        Self {
            connectors: Arc::new(connectors),
            ..self
        }
    }

    /// The teams in force.
    pub async fn teams(&self) -> Teams {
        self.configuration.current().await.rules.teams.clone()
    }

    /// The same, knowing the configured secret of the default integration.
    pub fn with_integration_secret(self, secret: &str) -> Self {
        Self {
            integration_secret: Some(secret.to_string()),
            ..self
        }
    }

    /// The same, with bootstrap keys that are read again (a rotation without a redeploy).
    pub fn with_bootstrap_keys(self, bootstrap: BootstrapKeys) -> Self {
        Self { bootstrap, ..self }
    }

    /// The same, with the outbox queue replies go through.
    pub fn with_outbox(self, outbox: crate::outbox::Outbox) -> Self {
        Self {
            outbox: Some(outbox),
            ..self
        }
    }

    /// The guard of the URLs subscriptions name (the process's own, which its deliveries pass).
    pub fn with_guard(self, guard: socialcare_platforms::OutboundGuard) -> Self {
        Self { guard, ..self }
    }

    /// Where redelivered events go (the reminders queue, whose worker delivers them).
    pub fn with_jobs(self, jobs: crate::outbox::Outbox) -> Self {
        Self {
            jobs: Some(jobs),
            ..self
        }
    }

    pub fn new(store: S, api_key: &str) -> Self {
        Self {
            store,
            configuration: ConfigurationCache::default(),
            outbox: None,
            jobs: None,
            guard: socialcare_platforms::OutboundGuard::from_env(),
            integration_secret: None,
            bootstrap: BootstrapKeys::fixed(api_key),
            connectors: Arc::default(),
        }
    }
}

/// The API routes; finish with [`crate::error::json_errors`] before serving.
pub fn routes<S: Store + 'static>(state: Arc<ApiState<S>>) -> Router {
    Router::new()
        .route("/v1/tickets", get(list_tickets::<S>))
        .route("/v1/tickets/{id}", get(ticket_detail::<S>))
        .route("/v1/tickets/{id}/status", post(change_status::<S>))
        .route("/v1/tickets/{id}/priority", post(change_priority::<S>))
        .route("/v1/tickets/{id}/notes", post(add_note::<S>))
        .route("/v1/tickets/{id}/replies", post(replies::add_reply::<S>))
        .route(
            "/v1/sla-policies",
            get(sla::get_policies::<S>).put(sla::put_policies::<S>),
        )
        .route(
            "/v1/metrics/response-times",
            get(metrics::response_times::<S>),
        )
        .route("/v1/incidents", get(incidents::list_incidents::<S>))
        .route("/v1/incidents/{id}", get(incidents::get_incident::<S>))
        .route(
            "/v1/incidents/{id}/updates",
            get(incidents::list_updates::<S>).post(incidents::post_update::<S>),
        )
        .route(
            "/v1/incidents/{id}/tickets",
            get(incidents::incident_tickets::<S>),
        )
        .route("/v1/tickets/{id}/assign", post(assign::<S>))
        .route("/v1/tickets/{id}/unassign", post(unassign::<S>))
        .route("/v1/tickets/{id}/events", get(ticket_events::<S>))
        .route(
            "/v1/customers/{id}",
            get(customer_history::<S>).delete(erase_customer::<S>),
        )
        .route("/v1/customers/{id}/export", get(export_customer::<S>))
        .route("/v1/erasures", get(list_erasures::<S>))
        .route("/v1/customers/{id}/identities", post(link_identity::<S>))
        .route("/v1/customers/{id}/merge", post(merge_customer::<S>))
        .route(
            "/v1/customers/{id}/suggestions",
            get(customer_suggestions::<S>),
        )
        .route(
            "/v1/templates",
            get(list_templates::<S>).post(create_template::<S>),
        )
        .route(
            "/v1/templates/{id}",
            get(get_template::<S>)
                .put(replace_template::<S>)
                .delete(delete_template::<S>),
        )
        .route("/v1/api-keys", get(list_keys::<S>).post(create_key::<S>))
        .route(
            "/v1/accounts",
            get(accounts::list_accounts::<S>).post(accounts::create_account::<S>),
        )
        .route(
            "/v1/accounts/{platform}/{id}",
            get(accounts::get_account::<S>)
                .put(accounts::put_account::<S>)
                .delete(accounts::delete_account::<S>),
        )
        .route(
            "/v1/accounts/{platform}/{id}/token",
            put(accounts::put_token::<S>).delete(accounts::delete_token::<S>),
        )
        .route(
            "/v1/accounts/{platform}/{id}/health",
            get(accounts::get_health::<S>),
        )
        .route(
            "/v1/accounts/{platform}/{id}/searches",
            get(accounts::get_searches::<S>),
        )
        .route("/v1/teams", get(accounts::list_teams::<S>))
        .route(
            "/v1/teams/{name}",
            get(accounts::get_team::<S>)
                .put(accounts::put_team::<S>)
                .delete(accounts::delete_team::<S>),
        )
        .route(
            "/v1/configuration/changes",
            get(accounts::list_changes::<S>),
        )
        .route(
            "/v1/integrations",
            get(integrations::list_integrations::<S>).post(integrations::create_integration::<S>),
        )
        .route(
            "/v1/integrations/{source}/rotate",
            post(integrations::rotate_integration::<S>),
        )
        .route("/v1/api-keys/{id}", delete(revoke_key::<S>))
        .route(
            "/v1/webhook-subscriptions",
            get(webhooks::list_subscriptions::<S>).post(webhooks::create_subscription::<S>),
        )
        .route(
            "/v1/webhook-subscriptions/{id}",
            get(webhooks::get_subscription::<S>)
                .patch(webhooks::change_subscription::<S>)
                .delete(webhooks::delete_subscription::<S>),
        )
        .route(
            "/v1/webhook-subscriptions/{id}/rotate",
            post(webhooks::rotate_secret::<S>),
        )
        .route(
            "/v1/webhook-subscriptions/{id}/deliveries",
            get(webhooks::list_deliveries::<S>),
        )
        .route(
            "/v1/webhook-subscriptions/{id}/deliveries/{event_id}/redeliver",
            post(webhooks::redeliver::<S>),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            authorize::<S>,
        ))
        // The description of the API is public (added after the key check's layer).
        .route("/v1/openapi.json", get(openapi_document))
        .with_state(state)
}

/// The holder of the key a request came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    fn bootstrap() -> Self {
        Caller {
            name: "bootstrap".into(),
            role: Role::Admin,
        }
    }

    fn of(key: &ApiKey) -> Self {
        Caller {
            name: key.name.clone(),
            role: key.role,
        }
    }

    /// Refuses (403) a caller whose role is below `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {} role; the key of {} has the {} role",
                needed.as_str(),
                self.name,
                self.role.as_str()
            ),
        ))
    }

    pub fn actor(&self) -> Actor {
        Actor::Agent {
            id: self.name.clone(),
        }
    }
}

fn unauthorized() -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send a valid API key as Authorization: Bearer <key>",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Resolves the key to a [`Caller`] (401 when there is none); each handler checks the role.
async fn authorize<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(presented) = presented else {
        return unauthorized();
    };
    let caller = match state.caller_of_key(&presented).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return unauthorized(),
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The error shape of every route.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable.
    pub code: String,
    /// For people.
    pub message: String,
}

struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI description of `/v1`, generated from the handlers above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "socialcare API", description = "Tickets, customers and keys of socialcare."),
    paths(
        list_tickets, ticket_detail, change_status, change_priority, add_note, replies::add_reply, ticket_events, assign, unassign,
        customer_history, link_identity, merge_customer, customer_suggestions, export_customer, erase_customer, list_erasures, create_key, list_keys, revoke_key,
        list_templates, get_template, create_template, replace_template, delete_template,
        sla::get_policies, sla::put_policies, metrics::response_times,
        incidents::list_incidents, incidents::get_incident, incidents::incident_tickets,
        incidents::post_update, incidents::list_updates,
        integrations::create_integration, integrations::list_integrations,
        integrations::rotate_integration,
        accounts::list_accounts, accounts::create_account, accounts::get_account, accounts::put_account,
        accounts::delete_account, accounts::list_teams, accounts::get_team, accounts::put_team,
        accounts::delete_team, accounts::list_changes, accounts::put_token, accounts::delete_token,
        accounts::get_health,
        accounts::get_searches,
        webhooks::create_subscription, webhooks::list_subscriptions, webhooks::get_subscription,
        webhooks::change_subscription, webhooks::delete_subscription, webhooks::rotate_secret,
        webhooks::list_deliveries, webhooks::redeliver,
    ),
    // The events integrators hear (EventBridge's detail; docs/events.md).
    components(schemas(ErrorBody, ErrorDetail, socialcare_domain::domain_events::DomainEvent)),
    modifiers(&BearerKey),
)]
pub struct ApiDoc;

/// The webhooks a subscription receives (OpenAPI 3.1's `webhooks`): one per event type, each
/// a signed `POST` of a [`DomainEvent`](socialcare_domain::domain_events::DomainEvent).
fn event_webhooks() -> utoipa::openapi::Paths {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{
        ContentBuilder, HttpMethod, ObjectBuilder, PathItem, PathsBuilder, Ref, Required, Response,
        Type,
    };
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let mut paths = PathsBuilder::new();
    for kind in webhooks::TYPES {
        let operation = OperationBuilder::new()
            .summary(Some(format!(
                "A `{kind}` event, to a subscription that names it"
            )))
            .description(Some(
                "Signed with the subscription's secret; retried with backoff for 24 hours \
                 until the subscriber answers 2xx (docs/events.md).",
            ))
            .parameter(header(
                "X-Socialcare-Signature",
                "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the secret>",
            ))
            .parameter(header(
                "Idempotency-Key",
                "The event's id: the same on every attempt",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("DomainEvent")))
                            .build(),
                    )
                    .required(Some(Required::True))
                    .build(),
            ))
            .response("2XX", Response::new("Accepted: not sent again"));
        paths = paths.path(kind, PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

/// The document as served and committed (`openapi.json` at the top of the repository).
pub fn openapi_json() -> String {
    let mut document = <ApiDoc as utoipa::OpenApi>::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document.webhooks = Some(event_webhooks());
    document.to_pretty_json().expect("the document serializes") + "\n"
}

async fn openapi_document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
