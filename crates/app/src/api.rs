//! The HTTP API for agents and integrators: `/v1/...`, behind a bearer key.

use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use socialcare_domain::ports::TicketReads;
use socialcare_domain::{Cursor, TicketDetail, TicketId, TicketQuery, TicketStatus};
use std::sync::Arc;

pub struct ApiState<S> {
    pub store: S,
    /// Kept as its SHA-256, so the comparison time says nothing about the key.
    api_key_digest: [u8; 32],
}

impl<S> ApiState<S> {
    pub fn new(store: S, api_key: &str) -> Self {
        Self {
            store,
            api_key_digest: Sha256::digest(api_key.as_bytes()).into(),
        }
    }
}

/// The API routes; finish with [`crate::error::json_errors`] before serving.
pub fn routes<S: TicketReads + 'static>(state: Arc<ApiState<S>>) -> Router {
    Router::new()
        .route("/v1/tickets", get(list_tickets::<S>))
        .route("/v1/tickets/{id}", get(ticket_detail::<S>))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            authorize::<S>,
        ))
        .with_state(state)
}

async fn authorize<S: Send + Sync>(
    State(state): State<Arc<ApiState<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let digest: Option<[u8; 32]> = presented.map(|key| Sha256::digest(key.as_bytes()).into());
    if digest != Some(state.api_key_digest) {
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
        return response;
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<String>,
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
        Ok(TicketQuery {
            status,
            limit,
            after,
        })
    }
}

/// `GET /v1/tickets?status=&limit=&cursor=`: newest first.
async fn list_tickets<S: TicketReads>(
    State(state): State<Arc<ApiState<S>>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = params.into_query()?;
    let page = state
        .store
        .list_tickets(&query)
        .await
        .map_err(|e| ApiError::unavailable("store_unavailable", e))?;
    Ok(Json(json!({
        "tickets": page.items,
        "next_cursor": page.next.map(|cursor| cursor.encode()),
    })))
}

/// `GET /v1/tickets/{id}`: the ticket with its customer and messages.
async fn ticket_detail<S: TicketReads>(
    State(state): State<Arc<ApiState<S>>>,
    Path(id): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let missing = || ApiError::not_found(format!("no ticket {id}"));
    let ticket_id = TicketId::parse(&id).ok_or_else(missing)?;
    state
        .store
        .ticket_detail(&ticket_id)
        .await
        .map_err(|e| ApiError::unavailable("store_unavailable", e))?
        .map(Json)
        .ok_or_else(missing)
}
