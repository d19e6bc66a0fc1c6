//! The HTTP API for agents and integrators: `/v1/...`, behind a bearer key.

use crate::bootstrap::BootstrapKeys;
use crate::error::ApiError;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use socialcare_domain::access::{ApiKey, Role, key_hash, key_id};
use socialcare_domain::customers::{self, LinkError};
use socialcare_domain::lifecycle::{self, CommandError};
use socialcare_domain::ownership::{self, AssignError, Assignment, Teams};
use socialcare_domain::ports::{CommitError, CustomerStore};
use socialcare_domain::templates::{self, Template, TemplateError};
use socialcare_domain::{
    Actor, Cursor, Customer, CustomerId, Identity, Source, Ticket, TicketEvent, TicketId,
    TicketQuery, TicketStatus,
};
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

mod incidents;
mod integrations;
mod metrics;
mod replies;
mod sla;

/// What the API needs of the store.
pub use socialcare_domain::ports::TicketStore as Store;

pub struct ApiState<S> {
    pub store: S,
    /// The teams tickets can be assigned to.
    pub teams: Teams,
    /// Where replies are queued for the sender.
    pub outbox: Option<crate::outbox::Outbox>,
    /// How fast incident updates may post, per brand account.
    pub paces: socialcare_domain::updates::Paces,
    /// The configured secret of the default integration, which its first rotation replaces.
    pub integration_secret: Option<String>,
    /// The bootstrap admin key(s), kept as SHA-256 digests.
    bootstrap: BootstrapKeys,
}

impl<S> ApiState<S> {
    /// The same, with teams to assign tickets to.
    pub fn with_teams(self, teams: Teams) -> Self {
        Self { teams, ..self }
    }

    /// The same, with the accounts' paces for incident updates.
    pub fn with_paces(self, paces: socialcare_domain::updates::Paces) -> Self {
        Self { paces, ..self }
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

    pub fn new(store: S, api_key: &str) -> Self {
        Self {
            store,
            teams: Teams::default(),
            outbox: None,
            paces: Default::default(),
            integration_secret: None,
            bootstrap: BootstrapKeys::fixed(api_key),
        }
    }
}

/// The API routes; finish with [`crate::error::json_errors`] before serving.
pub fn routes<S: Store + 'static>(state: Arc<ApiState<S>>) -> Router {
    Router::new()
        .route("/v1/tickets", get(list_tickets::<S>))
        .route("/v1/tickets/{id}", get(ticket_detail::<S>))
        .route("/v1/tickets/{id}/status", post(change_status::<S>))
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
        .route("/v1/tickets/{id}/events", get(ticket_events::<S>))
        .route("/v1/customers/{id}", get(customer_history::<S>))
        .route("/v1/customers/{id}/identities", post(link_identity::<S>))
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
            "/v1/integrations",
            get(integrations::list_integrations::<S>).post(integrations::create_integration::<S>),
        )
        .route(
            "/v1/integrations/{source}/rotate",
            post(integrations::rotate_integration::<S>),
        )
        .route("/v1/api-keys/{id}", delete(revoke_key::<S>))
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
    /// Refuses (403) a caller whose role is below `needed`.
    fn require(&self, needed: Role) -> Result<(), ApiError> {
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

    fn actor(&self) -> Actor {
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
    let caller = if state.bootstrap.admits(&presented).await {
        Caller {
            name: "bootstrap".into(),
            role: Role::Admin,
        }
    } else {
        match state.store.get_key(&key_id(&key_hash(&presented))).await {
            Ok(Some(key)) if key.admits(&presented) => Caller {
                name: key.name,
                role: key.role,
            },
            Ok(_) => return unauthorized(),
            Err(e) => return ApiError::store(e).into_response(),
        }
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<String>,
    owner: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl ListParams {
    fn into_query(self) -> Result<TicketQuery, ApiError> {
        let status = self
            .status
            .map(|raw| raw.parse::<TicketStatus>())
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))?;
        let limit = match self.limit {
            None => TicketQuery::DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=TicketQuery::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!(
                            "limit must be a number from 1 to {}",
                            TicketQuery::MAX_LIMIT
                        ),
                    )
                })?,
        };
        let after = self
            .cursor
            .map(|raw| Cursor::decode(&raw))
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))?;
        let owner = self.owner.filter(|owner| !owner.trim().is_empty());
        Ok(TicketQuery {
            status,
            owner,
            limit,
            after,
        })
    }
}

/// A page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketEnvelope {
    pub ticket: Ticket,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// Oldest first.
    pub events: Vec<TicketEvent>,
    /// Continues the events; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerHistory {
    pub customer: Customer,
    /// The customer's tickets, newest first.
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerEnvelope {
    pub customer: Customer,
}

/// What the API shows of a key: never its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<Utc>,
    pub revoked_at: Option<chrono::DateTime<Utc>>,
    /// The key itself: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyView {
    fn of(key: &ApiKey) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            role: key.role,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
            key: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub api_keys: Vec<KeyView>,
}

fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    TicketId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no ticket {raw}")))
}

fn command_failed(e: CommandError) -> ApiError {
    match e {
        CommandError::NotFound(id) => ApiError::not_found(format!("no ticket {id}")),
        CommandError::Invalid(refused) => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_transition",
            refused.to_string(),
        ),
        CommandError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        CommandError::Store(e) => ApiError::store(e),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// open, pending_customer, pending_internal, resolved or closed
    status: String,
}

/// `POST /v1/tickets/{id}/status` `{"status": "resolved"}`: the lifecycle's transitions only.
#[utoipa::path(post, path = "/v1/tickets/{id}/status", tag = "tickets",
    params(("id" = String, Path)), request_body = StatusChange,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 400, description = "invalid_status", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_transition", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn change_status<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TicketEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(&id)?;
    let request: StatusChange = parse(&body)?;
    let next = request
        .status
        .parse::<TicketStatus>()
        .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))?;
    let changed = lifecycle::change_status(&state.store, &id, next, caller.actor(), Utc::now())
        .await
        .map_err(command_failed)?;
    crate::metrics::report(&changed.samples);
    Ok(Json(TicketEnvelope {
        ticket: changed.ticket,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewNote {
    text: String,
}

const MAX_NOTE_CHARS: usize = 10_000;

/// `POST /v1/tickets/{id}/notes` `{"text": "..."}`: an internal note on the ticket's trail.
#[utoipa::path(post, path = "/v1/tickets/{id}/notes", tag = "tickets",
    params(("id" = String, Path)), request_body = NewNote,
    responses(
        (status = 201, body = TicketEvent),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_note", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn add_note<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TicketEvent>), ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(&id)?;
    let note: NewNote = parse(&body)?;
    let text = note.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_note",
            "text: must be 1 to 10000 characters",
        ));
    }
    let event = lifecycle::add_note(&state.store, &id, text, caller.actor(), Utc::now())
        .await
        .map_err(command_failed)?;
    Ok((StatusCode::CREATED, Json(event)))
}

/// `GET /v1/tickets/{id}/events?limit=&cursor=`: a page of the audit trail, oldest first.
#[utoipa::path(get, path = "/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path), PageParams),
    responses(
        (status = 200, body = EventList),
        (status = 400, description = "invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ticket_events<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = ticket_id(&id)?;
    let (limit, after) = PageParams::read(params)?;
    if state
        .store
        .get_ticket(&id)
        .await
        .map_err(ApiError::store)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no ticket {id}")));
    }
    let events = state
        .store
        .ticket_events_page(&id, after.as_deref(), limit)
        .await
        .map_err(ApiError::store)?;
    let next_cursor = next_cursor(
        events.len() == limit as usize,
        events.last().map(TicketEvent::sort_key),
    );
    Ok(Json(EventList {
        events,
        next_cursor,
    }))
}

/// `GET /v1/tickets?status=&owner=&limit=&cursor=`: newest first.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets",
    params(
        ("status" = Option<String>, Query, description = "open, pending_customer, pending_internal, resolved or closed"),
        ("owner" = Option<String>, Query, description = "an agent's name"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = TicketList),
        (status = 400, description = "invalid_status, invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_tickets<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketList>, ApiError> {
    caller.require(Role::Integrator)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = params.into_query()?;
    let page = state
        .store
        .list_tickets(&query)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(TicketList {
        tickets: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// A page of a ticket's messages or events: `limit` 1 to 200 (default 100), `cursor` the
/// `next_cursor` of the page before.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 200;

impl PageParams {
    /// The limit and the sort key to continue after.
    fn read(
        params: Result<Query<Self>, QueryRejection>,
    ) -> Result<(u32, Option<String>), ApiError> {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        let limit = match params.limit {
            None => PAGE_DEFAULT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!("limit must be a number from 1 to {PAGE_MAX}"),
                    )
                })?,
        };
        let bad = || {
            ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this API handed out",
            )
        };
        let after = params
            .cursor
            .map(|raw| {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(raw)
                    .map_err(|_| bad())?;
                // A sort key this API handed out: a time, then ids.
                String::from_utf8(bytes)
                    .ok()
                    .filter(|key| {
                        key.len() <= 200
                            && key.split_once('#').is_some_and(|(time, rest)| {
                                !rest.is_empty()
                                    && chrono::DateTime::parse_from_rfc3339(time).is_ok()
                            })
                    })
                    .ok_or_else(bad)
            })
            .transpose()?;
        Ok((limit, after))
    }
}

/// Lambda answers at most 6 MB; a page stops before its messages pass this many bytes of JSON.
const PAGE_BUDGET_BYTES: usize = 4 * 1024 * 1024;

/// How many of `messages` fit in [`PAGE_BUDGET_BYTES`]; at least one, so a page always moves on.
fn within_budget(messages: &[socialcare_domain::Message]) -> usize {
    let mut used = 0;
    for (index, message) in messages.iter().enumerate() {
        used += serde_json::to_vec(message)
            .map(|json| json.len())
            .unwrap_or(0);
        if used > PAGE_BUDGET_BYTES && index > 0 {
            return index;
        }
    }
    messages.len()
}

/// The cursor that continues after `sort_key`, when the page was full.
fn next_cursor(full: bool, sort_key: Option<String>) -> Option<String> {
    use base64::Engine;
    sort_key
        .filter(|_| full)
        .map(|key| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key))
}

/// A ticket with its customer and a page of its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub ticket: Ticket,
    pub customer: Option<Customer>,
    /// Oldest first, by platform time.
    pub messages: Vec<socialcare_domain::Message>,
    /// Continues the messages; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/tickets/{id}?limit=&cursor=`: the ticket with its customer and a page of its
/// messages, oldest first.
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path), PageParams),
    responses(
        (status = 200, body = TicketPage),
        (status = 400, description = "invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ticket_detail<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    caller.require(Role::Integrator)?;
    let ticket_id = ticket_id(&id)?;
    let (limit, after) = PageParams::read(params)?;
    let ticket = state
        .store
        .get_ticket(&ticket_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no ticket {id}")))?;
    let customer = state
        .store
        .get_customer(&ticket.customer_id)
        .await
        .map_err(ApiError::store)?;
    let mut messages = state
        .store
        .ticket_messages(&ticket_id, after.as_deref(), limit)
        .await
        .map_err(ApiError::store)?;
    let cut = within_budget(&messages);
    let full = messages.len() == limit as usize || cut < messages.len();
    messages.truncate(cut);
    let next_cursor = next_cursor(
        full,
        messages.last().map(socialcare_domain::Message::sort_key),
    );
    Ok(Json(TicketPage {
        ticket,
        customer,
        messages,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    name: String,
    role: Role,
}

/// `POST /v1/api-keys` `{"name": "sally", "role": "agent"}` (admin): the key is in the answer,
/// once; only its hash is stored.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api keys", request_body = NewKey,
    responses(
        (status = 201, body = KeyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_key<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    caller.require(Role::Admin)?;
    let request: NewKey = parse(&body)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_key",
            "name: must be 1 to 100 characters",
        ));
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| ApiError::unavailable("no_randomness", e))?;
    let secret = format!("sc_{}", hex::encode(random));
    let key = ApiKey::new(&secret, name, request.role, Utc::now());
    state.store.create_key(&key).await.map_err(|e| match e {
        CommitError::Store(e) => ApiError::store(e),
        other => ApiError::unavailable("key_not_created", other),
    })?;
    let view = KeyView {
        key: Some(secret),
        ..KeyView::of(&key)
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/api-keys` (admin).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api keys",
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_keys<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<KeyList>, ApiError> {
    caller.require(Role::Admin)?;
    let keys = state.store.list_keys().await.map_err(ApiError::store)?;
    Ok(Json(KeyList {
        api_keys: keys.iter().map(KeyView::of).collect(),
    }))
}

/// `DELETE /v1/api-keys/{id}` (admin): the key stops working at once; its record stays.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn revoke_key<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let key = state
        .store
        .get_key(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no API key {id}")))?;
    if key.revoked_at.is_none() {
        let revoked = ApiKey {
            revoked_at: Some(Utc::now()),
            ..key
        };
        state
            .store
            .put_key(&revoked)
            .await
            .map_err(ApiError::store)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no customer {raw}")))
}

/// `GET /v1/customers/{id}?limit=&cursor=`: the profile with every identity, and the
/// customer's tickets, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(
        ("id" = String, Path),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = CustomerHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn customer_history<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<CustomerHistory>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(&id)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = TicketQuery {
        status: None,
        owner: None,
        ..params.into_query()?
    };
    let customer = CustomerStore::get_customer(&state.store, &id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    let page = state
        .store
        .customer_tickets(&id, &query)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(CustomerHistory {
        customer,
        tickets: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewIdentity {
    source: Source,
    account: String,
    user_id: String,
    handle: Option<String>,
}

/// `POST /v1/customers/{id}/identities`: links another identity (an X account, a page-scoped
/// id, an e-mail or CRM id) to the customer.
#[utoipa::path(post, path = "/v1/customers/{id}/identities", tag = "customers",
    params(("id" = String, Path)), request_body = NewIdentity,
    responses(
        (status = 200, body = CustomerEnvelope),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "identity_taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn link_identity<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CustomerEnvelope>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(&id)?;
    let request: NewIdentity = parse(&body)?;
    if request.account.trim().is_empty() || request.user_id.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_identity",
            "account and user_id must not be empty",
        ));
    }
    let identity = Identity {
        source: request.source,
        account: request.account,
        user_id: request.user_id,
        handle: request.handle,
    };
    let customer = customers::link_identity(&state.store, &id, identity, Utc::now())
        .await
        .map_err(|e| match e {
            LinkError::NotFound(_) => ApiError::not_found(e.to_string()),
            LinkError::Taken(_) => {
                ApiError::new(StatusCode::CONFLICT, "identity_taken", e.to_string())
            }
            LinkError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
            LinkError::Store(e) => ApiError::store(e),
        })?;
    Ok(Json(CustomerEnvelope { customer }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    agent: Option<String>,
    team: Option<String>,
}

/// `POST /v1/tickets/{id}/assign` `{"agent": "tim"}`, `{"team": "support"}` or both (agent):
/// a team alone gives the ticket to its next active member, round-robin.
#[utoipa::path(post, path = "/v1/tickets/{id}/assign", tag = "tickets",
    params(("id" = String, Path)), request_body = AssignRequest,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "nobody_active", body = ErrorBody),
        (status = 422, description = "unknown_agent, unknown_team, invalid_assignment", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn assign<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TicketEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(&id)?;
    let request: AssignRequest = parse(&body)?;
    let assignment = Assignment {
        agent: request.agent,
        team: request.team,
    };
    let ticket = ownership::assign(
        &state.store,
        &id,
        &assignment,
        &state.teams,
        caller.actor(),
        Utc::now(),
    )
    .await
    .map_err(|e| match e {
        AssignError::UnknownAgent(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_agent",
            e.to_string(),
        ),
        AssignError::UnknownTeam(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_team",
            e.to_string(),
        ),
        AssignError::Empty => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignment",
            e.to_string(),
        ),
        AssignError::NobodyActive(_) => {
            ApiError::new(StatusCode::CONFLICT, "nobody_active", e.to_string())
        }
        AssignError::Command(e) => command_failed(e),
    })?;
    Ok(Json(TicketEnvelope { ticket }))
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
        list_tickets, ticket_detail, change_status, add_note, replies::add_reply, ticket_events, assign,
        customer_history, link_identity, create_key, list_keys, revoke_key,
        list_templates, get_template, create_template, replace_template, delete_template,
        sla::get_policies, sla::put_policies, metrics::response_times,
        incidents::list_incidents, incidents::get_incident, incidents::incident_tickets,
        incidents::post_update, incidents::list_updates,
        integrations::create_integration, integrations::list_integrations,
        integrations::rotate_integration,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerKey),
)]
pub struct ApiDoc;

/// The document as served and committed (`openapi.json` at the top of the repository).
pub fn openapi_json() -> String {
    let mut document = <ApiDoc as utoipa::OpenApi>::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document.to_pretty_json().expect("the document serializes") + "\n"
}

async fn openapi_document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<Template>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTemplate {
    /// letters, digits, '-' and '_'
    id: String,
    /// with {{customer.name}}, {{customer.handle}}, {{agent.name}}, {{ticket.id}}, {{ticket.subject}}
    text: String,
    language: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateText {
    text: String,
    language: Option<String>,
}

fn invalid_template(e: TemplateError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_template",
        e.to_string(),
    )
}

fn no_template(id: &str) -> ApiError {
    ApiError::not_found(format!("no template {id}"))
}

#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
/// `GET /v1/templates` (agent).
async fn list_templates<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TemplateList>, ApiError> {
    caller.require(Role::Agent)?;
    let templates = state
        .store
        .list_templates()
        .await
        .map_err(ApiError::store)?;
    Ok(Json(TemplateList { templates }))
}

#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 200, body = Template), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// `GET /v1/templates/{id}` (agent).
async fn get_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Template>, ApiError> {
    caller.require(Role::Agent)?;
    state
        .store
        .get_template(&id)
        .await
        .map_err(ApiError::store)?
        .map(Json)
        .ok_or_else(|| no_template(&id))
}

#[utoipa::path(post, path = "/v1/templates", tag = "templates", request_body = NewTemplate,
    responses(
        (status = 201, body = Template),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "template_exists", body = ErrorBody),
        (status = 422, description = "invalid_template: an unknown variable is named", body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `POST /v1/templates` (admin): variables are checked now, not when a reply is sent.
async fn create_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    caller.require(Role::Admin)?;
    let request: NewTemplate = parse(&body)?;
    templates::check(&request.id, &request.text).map_err(invalid_template)?;
    let now = Utc::now();
    let template = Template {
        id: request.id,
        text: request.text,
        language: request.language,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_template(&template).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(template))),
        Err(CommitError::Store(e)) => Err(ApiError::store(e)),
        Err(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "template_exists",
            format!("template {} exists; PUT replaces it", template.id),
        )),
    }
}

#[utoipa::path(put, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)), request_body = TemplateText,
    responses(
        (status = 200, body = Template),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_template", body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `PUT /v1/templates/{id}` (admin): replaces the text of an existing template.
async fn replace_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Template>, ApiError> {
    caller.require(Role::Admin)?;
    let request: TemplateText = parse(&body)?;
    templates::check(&id, &request.text).map_err(invalid_template)?;
    let existing = state
        .store
        .get_template(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| no_template(&id))?;
    let template = Template {
        text: request.text,
        language: request.language,
        updated_at: Utc::now(),
        ..existing
    };
    state
        .store
        .put_template(&template)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(template))
}

#[utoipa::path(delete, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `DELETE /v1/templates/{id}` (admin).
async fn delete_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    match state.store.delete_template(&id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(no_template(&id)),
        Err(e) => Err(ApiError::store(e)),
    }
}
