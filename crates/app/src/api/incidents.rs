//! `GET /v1/incidents` (integrator and up): spikes of complaints about one thing, newest first,
//! each with the tickets attached to it.

use super::{ApiState, Caller, ErrorBody, ListParams, Store, TicketList};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use socialcare_domain::IncidentId;
use socialcare_domain::access::Role;
use socialcare_domain::incidents::Incident;
use std::sync::Arc;

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

fn incident_id(raw: &str) -> Result<IncidentId, ApiError> {
    IncidentId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no incident {raw}")))
}
