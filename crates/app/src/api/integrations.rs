//! `POST /v1/integrations`, `GET /v1/integrations`, `POST /v1/integrations/{source}/rotate`
//! (admin): integrators each with their own source and secrets. The secrets are in the answer
//! once, when made; listing shows only when they were made and until when the previous ones
//! still work.

use super::{ApiState, Caller, ErrorBody, Store};
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
use socialcare_domain::integrations::{DEFAULT_INTEGRATION, Integration, check_source};
use socialcare_domain::ports::CommitError;
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewIntegration {
    /// The name its events are filed under: 1 to 64 letters, digits, `-`, `_` or `.`.
    source: String,
}

/// An integration; `secret` and `outbound_secret` only in the answer that made them.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct IntegrationView {
    source: String,
    /// Where it posts its events, signed with `secret`.
    webhook_path: String,
    /// Signs its events (`X-Socialcare-Signature`). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Signs what socialcare sends it (replies to its callback URL). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    outbound_secret: Option<String>,
    created_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    /// Until when the secrets before the last rotation are still accepted (and still sign).
    previous_valid_until: Option<DateTime<Utc>>,
}

impl IntegrationView {
    fn of(integration: &Integration, now: DateTime<Utc>) -> Self {
        let webhook_path = match integration.source.as_str() {
            DEFAULT_INTEGRATION => "/webhooks/generic".to_string(),
            source => format!("/webhooks/generic/{source}"),
        };
        Self {
            source: integration.source.clone(),
            webhook_path,
            secret: None,
            outbound_secret: None,
            created_at: integration.created_at,
            rotated_at: integration.rotated_at,
            previous_valid_until: integration.previous_valid_until(now),
        }
    }

    /// The view with the current secrets, for the one answer that shows them.
    fn revealing(integration: &Integration, now: DateTime<Utc>) -> Self {
        Self {
            secret: integration.inbound.first().map(|s| s.secret.clone()),
            outbound_secret: integration.outbound.first().map(|s| s.secret.clone()),
            ..Self::of(integration, now)
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct RotateParams {
    /// `true`: the previous secrets stop working at once (default: in 24 hours).
    expire_previous: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct IntegrationList {
    integrations: Vec<IntegrationView>,
}

pub(super) fn new_secret(prefix: &str) -> Result<String, ApiError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| ApiError::unavailable("no_randomness", e))?;
    Ok(format!("{prefix}{}", hex::encode(random)))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_integration",
        message,
    )
}

/// `POST /v1/integrations {"source": "crm"}` (admin): registers it with new secrets.
#[utoipa::path(post, path = "/v1/integrations", tag = "integrations", request_body = NewIntegration,
    responses(
        (status = 201, body = IntegrationView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "integration_exists", body = ErrorBody),
        (status = 422, description = "invalid_integration, invalid_event", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn create_integration<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<IntegrationView>), ApiError> {
    caller.require(Role::Admin)?;
    let request: NewIntegration = parse(&body)?;
    check_source(&request.source).map_err(|e| invalid(format!("source: {e}")))?;
    if request.source == DEFAULT_INTEGRATION {
        return Err(invalid(format!(
            "source: {DEFAULT_INTEGRATION:?} is the configured integration; rotate it instead"
        )));
    }
    let now = Utc::now();
    let integration = Integration::new(
        &request.source,
        new_secret("whsec_")?,
        new_secret("whout_")?,
        now,
    );
    state
        .store
        .create_integration(&integration)
        .await
        .map_err(|e| match e {
            CommitError::Duplicate => ApiError::new(
                StatusCode::CONFLICT,
                "integration_exists",
                format!(
                    "{:?} is registered already; rotate its secrets instead",
                    request.source
                ),
            ),
            CommitError::Store(e) => ApiError::store(e),
            other => ApiError::unavailable("integration_not_created", other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(IntegrationView::revealing(&integration, now)),
    ))
}

/// `GET /v1/integrations` (admin): every one, by source, without secrets.
#[utoipa::path(get, path = "/v1/integrations", tag = "integrations",
    responses((status = 200, body = IntegrationList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_integrations<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<IntegrationList>, ApiError> {
    caller.require(Role::Admin)?;
    let now = Utc::now();
    let integrations = state
        .store
        .list_integrations()
        .await
        .map_err(ApiError::store)?;
    Ok(Json(IntegrationList {
        integrations: integrations
            .iter()
            .map(|i| IntegrationView::of(i, now))
            .collect(),
    }))
}

/// `POST /v1/integrations/{source}/rotate?expire_previous=` (admin): new secrets, shown once;
/// the previous ones keep working for 24 hours, or stop at once with `expire_previous=true`
/// (after a leak; on Lambda a warm function may accept them for up to a minute more). Rotating `default` replaces the configured secret the same
/// way (it becomes the previous one), and gives the default integration an outbound secret of
/// its own.
#[utoipa::path(post, path = "/v1/integrations/{source}/rotate", tag = "integrations",
    params(("source" = String, Path), RotateParams),
    responses(
        (status = 200, body = IntegrationView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, description = "rotated meanwhile; try again", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn rotate_integration<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(source): Path<String>,
    params: Result<Query<RotateParams>, QueryRejection>,
) -> Result<Json<IntegrationView>, ApiError> {
    caller.require(Role::Admin)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let expire_previous = params.expire_previous.unwrap_or(false);
    let missing = || ApiError::not_found(format!("no integration {source:?}"));
    check_source(&source).map_err(|_| missing())?;
    let now = Utc::now();
    let stored = state
        .store
        .get_integration(&source)
        .await
        .map_err(ApiError::store)?;
    let (inbound, outbound) = (new_secret("whsec_")?, new_secret("whout_")?);
    let conflict = |e: CommitError| match e {
        CommitError::Store(e) => ApiError::store(e),
        other => ApiError::unavailable("integration_changed", other),
    };
    let rotated = match stored {
        Some(current) => {
            let mut rotated = current.rotated(inbound, outbound, now);
            if expire_previous {
                rotated = rotated.without_previous(now);
            }
            state
                .store
                .replace_integration(&rotated, current.version)
                .await
                .map_err(conflict)?;
            rotated
        }
        None if source == DEFAULT_INTEGRATION => {
            // The configured secret becomes the previous one of the stored default integration.
            let configured = state.integration_secret.clone().ok_or_else(missing)?;
            let before = Integration::new(DEFAULT_INTEGRATION, configured.clone(), configured, now);
            let mut rotated = Integration {
                version: 1,
                ..before.rotated(inbound, outbound, now)
            };
            if expire_previous {
                rotated = rotated.without_previous(now);
            }
            state
                .store
                .create_integration(&rotated)
                .await
                .map_err(conflict)?;
            rotated
        }
        None => return Err(missing()),
    };
    Ok(Json(IntegrationView::revealing(&rotated, now)))
}
