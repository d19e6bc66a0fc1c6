//! The e-mail intake: `POST /webhooks/email` takes one raw RFC 5322 message
//! (`Content-Type: message/rfc822`) for one of the configured mailboxes, signed like the
//! integrator webhook (`X-Socialcare-Signature` over the raw bytes), optionally naming the
//! envelope recipient (`?to=support@acme.example`, as a receiving service knows it: a Bcc is
//! in no header). The message is queued like any other and answered 202; a message that is
//! not e-mail, has no From or is for no configured mailbox is refused (422) and kept for
//! inspection, never half-stored.

use crate::error::ApiError;
use crate::webhook::{WebhookState, enqueue, signed_by};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures::future::BoxFuture;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::Value;
use socialcare_domain::Source;
use socialcare_domain::integrations::DEFAULT_INTEGRATION;
use socialcare_domain::ports::Queue;
use socialcare_webhooks::email::{EmailError, MAX_EMAIL_BYTES, parse_email};
use socialcare_webhooks::integration::signature;
use std::sync::Arc;

/// Keeps a refused message (its raw bytes, and why) for inspection; answers where, when kept.
pub type KeepRefused =
    Arc<dyn Fn(Vec<u8>, String) -> BoxFuture<'static, Option<String>> + Send + Sync>;

#[derive(Debug, Deserialize)]
pub struct Delivered {
    /// The envelope recipient: the mailbox the message was delivered to.
    pub to: Option<String>,
}

/// `POST /webhooks/email`
pub async fn receive_email<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    query: Result<Query<Delivered>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Query(delivered) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let is_mail = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("message/rfc822"));
    if !is_mail {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_rfc822",
            "send the raw message with Content-Type: message/rfc822",
        ));
    }
    let raw = read_message(body).await?;
    let now = state.clock.now();
    let signed = headers.get(signature::HEADER).map(|value| value.as_bytes());
    signed_by(&state, DEFAULT_INTEGRATION, signed, &raw, now).await?;
    let configuration = state.configuration.current().await;
    let mailboxes: Vec<String> = configuration
        .accounts
        .all()
        .into_iter()
        .filter(|account| account.platform.source() == Source::Email)
        .map(|account| account.id.clone())
        .collect();
    match parse_email(&raw, &mailboxes, delivered.to.as_deref(), now) {
        Ok(message) => enqueue(&state.inbound, message, now).await,
        Err(error) => Err(refuse(&state, raw, error).await),
    }
}

/// Reads the message, up to [`MAX_EMAIL_BYTES`]: a bigger one is refused before it is read
/// further (the sender keeps it).
async fn read_message(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_EMAIL_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_large",
            format!("the message is over {MAX_EMAIL_BYTES} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(
            "unreadable_body",
            format!("the body could not be read: {e}"),
        )),
    }
}

/// The refusal of a message that could not be taken, kept first when the state keeps them.
async fn refuse<Q>(state: &WebhookState<Q>, raw: Bytes, error: EmailError) -> ApiError {
    let code = match &error {
        EmailError::TooLarge { .. } => "message_too_large",
        EmailError::NotMime => "not_email",
        EmailError::NoFrom => "no_from",
        EmailError::NotForUs(_) => "unknown_mailbox",
    };
    let kept = match &state.refused_mail {
        Some(keep) => keep(raw.to_vec(), error.to_string()).await,
        None => None,
    };
    tracing::warn!(code, kept = kept.as_deref().unwrap_or("no"), %error, "e-mail refused");
    let status = match error {
        EmailError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let detail = match &kept {
        Some(kept) => format!("{error}; kept as {kept}"),
        None => error.to_string(),
    };
    ApiError::new(status, code, detail)
}

/// Keeps refused messages as files in `folder` (`<sha256>.eml`, and `<sha256>.why` with the
/// reason), each once however often it comes.
pub fn keep_in_folder(folder: std::path::PathBuf) -> KeepRefused {
    Arc::new(move |raw: Vec<u8>, why: String| {
        let folder = folder.clone();
        Box::pin(async move {
            use sha2::Digest;
            let name = hex::encode(sha2::Sha256::digest(&raw));
            let written = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&folder)?;
                std::fs::write(folder.join(format!("{name}.eml")), &raw)?;
                std::fs::write(folder.join(format!("{name}.why")), why)?;
                Ok::<_, std::io::Error>(format!("refused-email/{name}.eml"))
            })
            .await;
            match written {
                Ok(Ok(kept)) => Some(kept),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "could not keep a refused e-mail");
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not keep a refused e-mail");
                    None
                }
            }
        })
    })
}
