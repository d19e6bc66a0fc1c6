//! The webhook intake: verify, normalize, enqueue, and only then answer 2xx.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use socialcare_domain::ids::key_digest;
use socialcare_domain::ports::{Clock, Outgoing, Queue};
use socialcare_domain::{InboundEvent, NormalizedMessage, QueuedEvent};
use socialcare_webhooks::integration::{
    self,
    signature::{self, SignatureError},
};
use socialcare_webhooks::payload::PayloadError;
use std::sync::Arc;

/// Platforms send far less; anything bigger is refused before it is read further.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct WebhookState<Q> {
    pub inbound: Q,
    pub integration_secret: Vec<u8>,
    pub clock: Arc<dyn Clock>,
}

/// The webhook routes; finish with [`crate::error::json_errors`] before serving.
pub fn routes<Q: Queue + 'static>(state: Arc<WebhookState<Q>>) -> Router {
    Router::new()
        .route("/webhooks/generic", post(receive_generic::<Q>))
        .with_state(state)
}

async fn receive_generic<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = read_body(body).await?;
    let now = state.clock.now();
    let header = headers.get(signature::HEADER).map(|value| value.as_bytes());
    signature::verify(&state.integration_secret, header, &body, now).map_err(refused)?;
    let message = integration::normalize(&body).map_err(invalid)?;
    enqueue(&state.inbound, message, now).await
}

/// Reads the raw body, refusing it once it passes [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(
            "unreadable_body",
            format!("the body could not be read: {e}"),
        )),
    }
}

fn refused(e: SignatureError) -> ApiError {
    let code = match e {
        SignatureError::Missing => "missing_signature",
        SignatureError::Malformed => "malformed_signature",
        SignatureError::Stale => "stale_signature",
        SignatureError::Mismatch => "bad_signature",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
}

fn invalid(e: PayloadError) -> ApiError {
    match e {
        PayloadError::Syntax(_) => ApiError::bad_request("invalid_json", e.to_string()),
        PayloadError::Field { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            e.to_string(),
        ),
    }
}

/// Puts a normalized message on the inbound queue. One customer's messages (theirs and the
/// brand's to them) share a FIFO group
/// (ingested in order); the dedupe id drops a platform's retries within five minutes.
pub async fn enqueue<Q: Queue>(
    inbound: &Q,
    message: NormalizedMessage,
    received_at: chrono::DateTime<chrono::Utc>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let message_id = message.message_id();
    let group_id = key_digest(&message.customer_key());
    let dedupe_id = key_digest(&message.dedupe_key());
    let event = QueuedEvent::Message(InboundEvent {
        message,
        received_at,
    });
    let body =
        serde_json::to_string(&event).map_err(|e| ApiError::unavailable("encoding_failed", e))?;
    inbound
        .send(Outgoing::fifo(body, group_id, dedupe_id))
        .await
        .map_err(|e| ApiError::unavailable("queue_unavailable", e))?;
    tracing::info!(%message_id, "queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "message_id": message_id })),
    ))
}
