//! `/v1/webhook-subscriptions` (admin): where events are POSTed, signed, and how each delivery
//! went (see [`crate::deliveries`]).

use super::integrations::new_secret;
use super::{ApiState, Caller, ErrorBody, Store};
use crate::deliveries;
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use socialcare_domain::access::Role;
use socialcare_domain::ports::CommitError;
use socialcare_domain::subscriptions::{EventDelivery, WebhookSubscription};
use socialcare_platforms::OutboundGuard;
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

/// The event types a subscription may name.
pub const TYPES: [&str; 14] = [
    "ticket.created",
    "message.received",
    "ticket.status_changed",
    "ticket.assigned",
    "sla.warning",
    "sla.breached",
    "satisfaction.rated",
    "reply.sent",
    "reply.failed",
    "incident.opened",
    "incident.updated",
    "incident.resolved",
    "customer.merged",
    "customer.erased",
];

/// A subscription as the API shows it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    /// The types it receives; empty: every type.
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation, until when the secret before it still signs beside the new one.
    pub previous_secret_until: Option<DateTime<Utc>>,
}

impl From<&WebhookSubscription> for SubscriptionView {
    fn from(s: &WebhookSubscription) -> Self {
        Self {
            id: s.id.clone(),
            url: s.url.clone(),
            events: s.events.clone(),
            created_by: s.created_by.clone(),
            created_at: s.created_at,
            enabled: s.disabled_at.is_none(),
            disabled_at: s.disabled_at,
            disabled_reason: s.disabled_reason.clone(),
            failing_since: s.failing_since,
            previous_secret_until: s.previous_secret.as_ref().and(s.previous_until),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionWithSecret {
    pub subscription: SubscriptionView,
    /// Signs every delivery (`X-Socialcare-Signature`); shown this once.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSubscription {
    pub url: String,
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `true` enables a disabled one again (its failing clock starts over); `false` disables.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// The latest event first.
    pub deliveries: Vec<EventDelivery>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryEnvelope {
    pub delivery: EventDelivery,
}

#[derive(Debug, Deserialize)]
pub struct DeliveryParams {
    pub limit: Option<u32>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_subscription",
        message,
    )
}

fn checked_url(guard: &OutboundGuard, raw: &str) -> Result<String, ApiError> {
    guard
        .check(raw.trim())
        .map(|url| url.to_string())
        .map_err(|refused| invalid(format!("url {refused}")))
}

fn checked_types(types: Vec<String>) -> Result<Vec<String>, ApiError> {
    match types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        Some(unknown) => Err(invalid(format!(
            "unknown event type {unknown:?}; expected some of {}",
            TYPES.join(", ")
        ))),
        None => Ok(types),
    }
}

async fn found<S: Store>(state: &ApiState<S>, id: &str) -> Result<WebhookSubscription, ApiError> {
    state
        .store
        .get_subscription(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription {id}")))
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "busy",
        "the subscription changed meanwhile; try again",
    )
}

/// `POST /v1/webhook-subscriptions` `{"url", "events": [...]}` (admin): `201` with the secret,
/// shown this once.
#[utoipa::path(post, path = "/v1/webhook-subscriptions", tag = "webhooks", request_body = NewSubscription,
    responses((status = 201, body = SubscriptionWithSecret), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, description = "invalid_subscription", body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create_subscription<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<SubscriptionWithSecret>), ApiError> {
    let request: NewSubscription = parse(&body)?;
    let made = create_subscription_by(&state, &caller, request).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Makes a subscription (the API's and the console's way): with its secret, shown this once.
pub async fn create_subscription_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    request: NewSubscription,
) -> Result<SubscriptionWithSecret, ApiError> {
    caller.require(Role::Admin)?;
    let subscription = WebhookSubscription {
        id: format!("whk_{}", ulid::Ulid::generate()),
        url: checked_url(&state.guard, &request.url)?,
        events: checked_types(request.events)?,
        secret: new_secret("whsub_")?,
        previous_secret: None,
        previous_until: None,
        created_by: caller.name.clone(),
        created_at: Utc::now(),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        version: 1,
    };
    state
        .store
        .create_subscription(&subscription)
        .await
        .map_err(|e| match e {
            CommitError::Store(e) => ApiError::store(e),
            _ => busy(),
        })?;
    Ok(SubscriptionWithSecret {
        subscription: (&subscription).into(),
        secret: subscription.secret.clone(),
    })
}

/// `GET /v1/webhook-subscriptions` (admin).
#[utoipa::path(get, path = "/v1/webhook-subscriptions", tag = "webhooks",
    responses((status = 200, body = SubscriptionList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_subscriptions<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SubscriptionList>, ApiError> {
    list_subscriptions_by(&state, &caller).await.map(Json)
}

/// Every subscription, the oldest first (the API's and the console's way).
pub async fn list_subscriptions_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
) -> Result<SubscriptionList, ApiError> {
    caller.require(Role::Admin)?;
    let all = state
        .store
        .list_subscriptions()
        .await
        .map_err(ApiError::store)?;
    Ok(SubscriptionList {
        subscriptions: all.iter().map(SubscriptionView::from).collect(),
    })
}

/// `GET /v1/webhook-subscriptions/{id}` (admin).
#[utoipa::path(get, path = "/v1/webhook-subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_subscription<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json((&found(&state, &id).await?).into()))
}

/// `PATCH /v1/webhook-subscriptions/{id}` `{"url", "events", "enabled"}`, each optional (admin).
#[utoipa::path(patch, path = "/v1/webhook-subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = SubscriptionChange,
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "busy", body = ErrorBody),
        (status = 422, description = "invalid_subscription", body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn change_subscription<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SubscriptionView>, ApiError> {
    let change: SubscriptionChange = parse(&body)?;
    change_subscription_by(&state, &caller, &id, change)
        .await
        .map(Json)
}

/// Changes a subscription's URL, types or state (the API's and the console's way).
pub async fn change_subscription_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    change: SubscriptionChange,
) -> Result<SubscriptionView, ApiError> {
    caller.require(Role::Admin)?;
    let before = found(state, id).await?;
    let mut after = before.clone();
    if let Some(url) = &change.url {
        after.url = checked_url(&state.guard, url)?;
    }
    if let Some(events) = change.events {
        after.events = checked_types(events)?;
    }
    match change.enabled {
        Some(true) if after.disabled_at.is_some() => {
            after.disabled_at = None;
            after.disabled_reason = None;
            after.failing_since = None;
        }
        Some(false) if after.disabled_at.is_none() => {
            after.disabled_at = Some(Utc::now());
            after.disabled_reason = Some(format!("disabled by {}", caller.name));
        }
        _ => {}
    }
    after.version = before.version + 1;
    put(state, &after, before.version).await?;
    Ok((&after).into())
}

async fn put<S: Store>(
    state: &ApiState<S>,
    subscription: &WebhookSubscription,
    version_before: u64,
) -> Result<(), ApiError> {
    state
        .store
        .put_subscription(subscription, version_before)
        .await
        .map_err(|e| match e {
            CommitError::Store(e) => ApiError::store(e),
            _ => busy(),
        })
}

/// `DELETE /v1/webhook-subscriptions/{id}` (admin): `204`; nothing more is sent.
#[utoipa::path(delete, path = "/v1/webhook-subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn delete_subscription<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_subscription_by(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a subscription (the API's and the console's way): nothing more is sent to it.
pub async fn delete_subscription_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    match state
        .store
        .delete_subscription(id)
        .await
        .map_err(ApiError::store)?
    {
        true => Ok(()),
        false => Err(ApiError::not_found(format!("no webhook subscription {id}"))),
    }
}

/// `POST /v1/webhook-subscriptions/{id}/rotate` (admin): a new secret, shown this once; the
/// one before signs beside it for a day (two `v1=` in the signature), then stops.
#[utoipa::path(post, path = "/v1/webhook-subscriptions/{id}/rotate", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionWithSecret), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "busy", body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn rotate_secret<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionWithSecret>, ApiError> {
    rotate_secret_by(&state, &caller, &id).await.map(Json)
}

/// A new secret for the subscription (the API's and the console's way), shown this once.
pub async fn rotate_secret_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<SubscriptionWithSecret, ApiError> {
    caller.require(Role::Admin)?;
    let before = found(state, id).await?;
    let after = before.rotated(new_secret("whsub_")?, Utc::now());
    put(state, &after, before.version).await?;
    Ok(SubscriptionWithSecret {
        subscription: (&after).into(),
        secret: after.secret.clone(),
    })
}

/// `GET /v1/webhook-subscriptions/{id}/deliveries?limit=` (admin): each event's delivery with
/// its attempts, the latest event first (50 by default, at most 200).
#[utoipa::path(get, path = "/v1/webhook-subscriptions/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = DeliveryList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_deliveries<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<DeliveryParams>, QueryRejection>,
) -> Result<Json<DeliveryList>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    list_deliveries_by(&state, &caller, &id, params.limit)
        .await
        .map(Json)
}

/// The subscription's deliveries, the latest event first, 50 by default and at most 200 (the
/// API's and the console's way).
pub async fn list_deliveries_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    limit: Option<u32>,
) -> Result<DeliveryList, ApiError> {
    caller.require(Role::Admin)?;
    found(state, id).await?;
    let limit = limit.unwrap_or(50).clamp(1, 200);
    let deliveries = state
        .store
        .list_deliveries(id, limit)
        .await
        .map_err(ApiError::store)?;
    Ok(DeliveryList { deliveries })
}

/// `POST /v1/webhook-subscriptions/{id}/deliveries/{event_id}/redeliver` (admin): sends the
/// event again (`202`), whatever became of it; its attempts stay on the record.
#[utoipa::path(post, path = "/v1/webhook-subscriptions/{id}/deliveries/{event_id}/redeliver", tag = "webhooks",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 202, body = DeliveryEnvelope), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, description = "queue_unavailable", body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn redeliver<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((id, event_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryEnvelope>), ApiError> {
    let delivery = redeliver_by(&state, &caller, &id, &event_id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryEnvelope { delivery })))
}

/// Sends an event to the subscription again (the API's and the console's way).
pub async fn redeliver_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    event_id: &str,
) -> Result<EventDelivery, ApiError> {
    caller.require(Role::Admin)?;
    let Some(jobs) = state.jobs.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "this server queues no deliveries",
        ));
    };
    deliveries::redeliver(&state.store, jobs, id, event_id)
        .await
        .map_err(|e| match e {
            deliveries::DeliveryError::Store(e) => ApiError::store(e),
            deliveries::DeliveryError::Queue(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                e.to_string(),
            ),
            deliveries::DeliveryError::KeptChanging => busy(),
        })?
        .ok_or_else(|| ApiError::not_found(format!("no delivery of {event_id} to {id}")))
}
