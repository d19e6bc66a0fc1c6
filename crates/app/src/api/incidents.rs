//! `GET /v1/incidents` (integrator and up): spikes of complaints about one thing, newest first,
//! each with the tickets attached to it; `POST /v1/incidents/{id}/updates` (agent): one answer
//! for all of them.

use super::replies::request_key;
use super::{ApiState, Caller, ErrorBody, ListParams, Store, TicketList};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use socialcare_domain::IncidentId;
use socialcare_domain::access::Role;
use socialcare_domain::incidents::Incident;
use socialcare_domain::updates::{
    IncidentUpdate, UpdateError, UpdateJob, UpdateRequest, start_update,
};
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct IncidentParams {
    /// 1 to 200, default 50.
    limit: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct IncidentList {
    incidents: Vec<Incident>,
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// `GET /v1/incidents?limit=`: the latest incidents, newest first.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents",
    params(IncidentParams),
    responses(
        (status = 200, body = IncidentList),
        (status = 400, description = "invalid_query, invalid_limit", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn list_incidents<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<IncidentParams>, QueryRejection>,
) -> Result<Json<IncidentList>, ApiError> {
    caller.require(Role::Integrator)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be a number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let incidents = state
        .store
        .list_incidents(limit)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(IncidentList { incidents }))
}

/// `GET /v1/incidents/{id}`: one incident.
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_incident<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    caller.require(Role::Integrator)?;
    let incident_id = incident_id(&id)?;
    state
        .store
        .get_incident(&incident_id)
        .await
        .map_err(ApiError::store)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))
}

/// `GET /v1/incidents/{id}/tickets?limit=&cursor=`: the tickets attached to it, newest first.
#[utoipa::path(get, path = "/v1/incidents/{id}/tickets", tag = "incidents",
    params(
        ("id" = String, Path),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = TicketList),
        (status = 400, description = "invalid_query, invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn incident_tickets<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketList>, ApiError> {
    caller.require(Role::Integrator)?;
    let incident_id = incident_id(&id)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = params.into_query()?;
    if state
        .store
        .get_incident(&incident_id)
        .await
        .map_err(ApiError::store)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no incident {id}")));
    }
    let page = state
        .store
        .incident_tickets(&incident_id, &query)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(TicketList {
        tickets: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    /// What to tell everyone: the public post and the reply on every attached ticket.
    pub text: String,
    /// Also post it once publicly as the brand account (X and Facebook; Instagram and
    /// integrations have no text-only public post). Default true.
    #[serde(default = "yes")]
    pub post_publicly: bool,
    /// Resolve the incident now (new complaints no longer join it) and each ticket after its
    /// reply: the text is the closing message. Default false.
    #[serde(default)]
    pub resolve: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UpdateList {
    updates: Vec<IncidentUpdate>,
}

/// The shortest post limit of the platforms (X's 280 characters, counted simply).
const MAX_CHARS: usize = 280;

/// `POST /v1/incidents/{id}/updates` (agent): one answer for all. Stores the update and queues
/// its first step for the sender, which posts it once publicly and replies with it on every
/// attached ticket, each exactly once, paced under the account's `[accounts.pace]`; follow it
/// with `GET /v1/incidents/{id}/updates`. An `Idempotency-Key` header makes a retried request
/// the same update.
#[utoipa::path(post, path = "/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewUpdate,
    responses(
        (status = 202, body = IncidentUpdate),
        (status = 400, description = "invalid_json, invalid_idempotency_key", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_event (a field unknown or of the wrong type), invalid_update (the text)", body = ErrorBody),
        (status = 503, description = "queue_unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn post_update<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<IncidentUpdate>), ApiError> {
    caller.require(Role::Agent)?;
    let incident_id = incident_id(&id)?;
    let request: NewUpdate = parse(&body)?;
    let key = request_key(&headers, &caller, incident_id.as_str())?;
    let update = post_update_by(&state, &caller, &id, &request, key).await?;
    Ok((StatusCode::ACCEPTED, Json(update)))
}

/// An agent's one answer for all on incident `id` (the API's and the console's way); `key`
/// makes a repeated request the same update.
pub async fn post_update_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    request: &NewUpdate,
    key: String,
) -> Result<IncidentUpdate, ApiError> {
    caller.require(Role::Agent)?;
    let incident_id = incident_id(id)?;
    let text = request.text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_update",
            format!("text: must be 1 to {MAX_CHARS} characters (it is posted on every platform)"),
        ));
    }
    let outbox = state.outbox.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "this deployment has no outbox queue to send updates through",
        )
    })?;
    let incident = state
        .store
        .get_incident(&incident_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    let request = UpdateRequest {
        text,
        post_publicly: request.post_publicly,
        resolves: request.resolve,
        key,
        author: caller.name.clone(),
        pace: state
            .configuration
            .current()
            .await
            .rules
            .paces
            .of(&incident.account, incident.source),
    };
    let update = start_update(&state.store, &incident_id, &request, Utc::now())
        .await
        .map_err(|e| match e {
            UpdateError::NotFound(_) => ApiError::not_found(format!("no incident {id}")),
            UpdateError::Store(e) => ApiError::store(e),
            UpdateError::Contention => ApiError::new(
                StatusCode::CONFLICT,
                "contention",
                "the incident kept changing; try again with the same Idempotency-Key",
            ),
        })?;
    // Queued again when the key is used again: a step too many finds the work done.
    if update.finished_at.is_none()
        && let Err(e) = outbox
            .enqueue_update(&UpdateJob::of(&update), Duration::ZERO)
            .await
    {
        tracing::error!(error = %e, update_id = %update.id, "could not queue the update");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            format!(
                "the update {} is saved but could not be queued; retry with the same Idempotency-Key to queue it",
                update.id
            ),
        ));
    }
    Ok(update)
}

/// `GET /v1/incidents/{id}/updates`: the incident's updates, oldest first, each with how far it
/// has got (`answered`, `skipped`, `public_post`, `finished_at`).
#[utoipa::path(get, path = "/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = UpdateList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_updates<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<UpdateList>, ApiError> {
    caller.require(Role::Integrator)?;
    let incident_id = incident_id(&id)?;
    if state
        .store
        .get_incident(&incident_id)
        .await
        .map_err(ApiError::store)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no incident {id}")));
    }
    let updates = state
        .store
        .incident_updates(&incident_id)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(UpdateList { updates }))
}

fn incident_id(raw: &str) -> Result<IncidentId, ApiError> {
    IncidentId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no incident {raw}")))
}
