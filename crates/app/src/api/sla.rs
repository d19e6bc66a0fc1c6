//! `GET/PUT /v1/sla-policies` (admin): each brand account's response and resolution targets,
//! per priority, with an optional business-hours calendar.

use super::{ApiState, Caller, ErrorBody, Store};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use socialcare_domain::access::Role;
use socialcare_domain::sla::Policies;
use socialcare_webhooks::payload::parse;
use std::sync::Arc;

/// `GET /v1/sla-policies` (admin): `{"policies": {"<account id>": {…}}}`.
#[utoipa::path(get, path = "/v1/sla-policies", tag = "sla",
    responses((status = 200, body = Policies), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_policies<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Policies>, ApiError> {
    caller.require(Role::Admin)?;
    let policies = state.store.sla_policies().await.map_err(ApiError::store)?;
    Ok(Json(policies))
}

/// `PUT /v1/sla-policies` (admin): replaces every policy; checked whole before anything is
/// stored (known priorities, `normal` present, targets of a minute or more, a real time zone,
/// hours that close after they open).
#[utoipa::path(put, path = "/v1/sla-policies", tag = "sla", request_body = Policies,
    responses(
        (status = 200, body = Policies),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "invalid_policy, naming the account and the problem", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn put_policies<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Policies>, ApiError> {
    caller.require(Role::Admin)?;
    let policies: Policies = parse(&body)?;
    Ok(Json(put_policies_by(&state, &caller, policies).await?))
}

/// An admin replaces the SLA policies, checked whole first.
pub async fn put_policies_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    policies: Policies,
) -> Result<Policies, ApiError> {
    caller.require(Role::Admin)?;
    policies.check().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_policy",
            e.to_string(),
        )
    })?;
    state
        .store
        .put_sla_policies(&policies)
        .await
        .map_err(ApiError::store)?;
    Ok(policies)
}
