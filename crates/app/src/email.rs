//! The e-mail intake: `POST /webhooks/email` takes one raw RFC 5322 message
//! (`Content-Type: message/rfc822`) for one of the configured mailboxes, signed like the
//! integrator webhook (`X-Socialcare-Signature` over the raw bytes), optionally naming the
//! envelope recipient (`?to=support@acme.example`, as a receiving service knows it: a Bcc is
//! in no header). The message is queued like any other and answered 202; a message that is
//! not e-mail, has no From or is for no configured mailbox is refused (422) and kept for
//! inspection, never half-stored.

use crate::attachments::{FileToKeep, keep_all};
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
use socialcare_domain::mail_feedback::MailFeedback;
use socialcare_domain::ports::{Queue, StoreError};
pub use socialcare_webhooks::email::MAX_EMAIL_BYTES;
use socialcare_webhooks::email::{EmailError, Mail, Sender, read_mail};
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
    let now = state.clock.now();
    let signed = headers.get(signature::HEADER).map(|value| value.as_bytes());
    // A request without a well-formed, fresh signature is refused before its body is read.
    signature::SignedHeader::read(signed, now).map_err(crate::webhook::refused)?;
    let raw = read_message(body).await?;
    signed_by(&state, DEFAULT_INTEGRATION, signed, &raw, now).await?;
    let mailboxes = mailboxes(&state.configuration).await;
    // Signed with the integration secret: the brand's own system vouches for the sender.
    match read_mail(
        &raw,
        &mailboxes,
        delivered.to.as_deref(),
        (now, Sender::Relayed),
    ) {
        Ok(Mail::Report(feedback)) => enqueue_feedback(&state.inbound, feedback, now).await,
        Ok(Mail::Message(mut message, files)) => {
            // Kept before the message is queued: a ticket never lists a file that is not there.
            match &state.attachment_files {
                Some(kept) => keep_all(kept.as_ref(), &files)
                    .await
                    .map_err(ApiError::store)?,
                None => not_kept(&mut message),
            }
            enqueue(&state.inbound, *message, now).await
        }
        Err(error) => Err(refuse(&state, raw, error).await),
    }
}

/// Where nothing keeps files, a message lists its attachments without an address.
fn not_kept(message: &mut socialcare_domain::NormalizedMessage) {
    for attachment in &mut message.attachments {
        attachment.url.clear();
    }
}

/// The configured mailboxes' addresses.
async fn mailboxes(configuration: &crate::configuration::ConfigurationCache) -> Vec<String> {
    configuration
        .current()
        .await
        .accounts
        .all()
        .into_iter()
        .filter(|account| account.platform.source() == Source::Email)
        .map(|account| account.id.clone())
        .collect()
}

/// Where SES's receipt rule stored each message: read by its SES message id, and a refused one
/// kept for inspection.
pub trait StoredMail: Send + Sync {
    /// The raw message, at most [`MAX_EMAIL_BYTES`] (a bigger one is an `Invalid` error).
    fn read(
        &self,
        ses_message_id: &str,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Keeps a file the message came with, beside it ([`crate::attachments`]).
    fn keep_file(
        &self,
        file: &FileToKeep,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;

    /// Keeps it, with why; answers where.
    fn keep_refused(
        &self,
        ses_message_id: &str,
        why: &str,
    ) -> impl std::future::Future<Output = Result<String, StoreError>> + Send;
}

/// What became of one message SES received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Queued (under the first configured mailbox it was delivered to).
    Queued(usize),
    /// A bounce or complaint about a reply, queued to mark it.
    Report,
    /// Refused and kept (where), with why.
    Refused { why: String, kept: String },
}

/// The `email` function's work for one SES receipt: the stored message is read, parsed for each
/// of its envelope recipients that is a configured mailbox, and queued; a message that cannot
/// be taken (not e-mail, no From, for no mailbox, too big, a virus by SES's verdict) is kept
/// under `refused/`. An error (S3 or the queue unreachable) is for Lambda to retry: queuing the
/// same message twice is one message.
pub async fn take_stored<M: StoredMail, Q: Queue>(
    stored: &M,
    inbound: &Q,
    configuration: &crate::configuration::ConfigurationCache,
    record: &aws_lambda_events::event::ses::SimpleEmailRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Taken, String> {
    let ses = &record.ses;
    let id = ses.mail.message_id.clone().unwrap_or_default();
    let refuse = |why: String| async move {
        let kept = stored
            .keep_refused(&id, &why)
            .await
            .map_err(|e| e.to_string())?;
        tracing::warn!(ses_message_id = %id, %why, %kept, "e-mail refused");
        Ok::<Taken, String>(Taken::Refused { why, kept })
    };
    if ses.receipt.virus_verdict.status.as_deref() == Some("FAIL") {
        return refuse("SES found a virus in it".to_string()).await;
    }
    let raw = match stored
        .read(ses.mail.message_id.as_deref().unwrap_or_default())
        .await
    {
        Ok(raw) => raw,
        Err(e) if e.failure == socialcare_domain::ports::Failure::Invalid => {
            return refuse(e.detail).await;
        }
        Err(e) => return Err(e.to_string()),
    };
    let mailboxes = mailboxes(configuration).await;
    // One message, one ticket: a mail to two mailboxes is filed under the first.
    let Some(to) = ses
        .receipt
        .recipients
        .iter()
        .find(|to| mailboxes.contains(&to.trim().to_lowercase()))
    else {
        let to = ses.receipt.recipients.join(", ");
        return refuse(EmailError::NotForUs(format!("delivered to {to}")).to_string()).await;
    };
    // SES checked the sender: its SPF or DKIM verdict, with DMARC passing.
    let passed = |verdict: &aws_lambda_events::event::ses::SimpleEmailVerdict| {
        verdict.status.as_deref() == Some("PASS")
    };
    let receipt = &ses.receipt;
    let sender = match (passed(&receipt.spf_verdict) || passed(&receipt.dkim_verdict))
        && passed(&receipt.dmarc_verdict)
    {
        true => Sender::Authenticated,
        false => Sender::Unverified,
    };
    match read_mail(&raw, &mailboxes, Some(to), (now, sender)) {
        Ok(Mail::Report(feedback)) => {
            let _queued = enqueue_feedback(inbound, feedback, now)
                .await
                .map_err(|e| format!("{}: {}", e.code, e.message))?;
            Ok(Taken::Report)
        }
        Ok(Mail::Message(message, files)) => {
            for file in &files {
                stored.keep_file(file).await.map_err(|e| e.to_string())?;
            }
            let _queued = enqueue(inbound, *message, now)
                .await
                .map_err(|e| format!("{}: {}", e.code, e.message))?;
            Ok(Taken::Queued(1))
        }
        Err(error) => refuse(error.to_string()).await,
    }
}

/// Queues a bounce or complaint for ingest to mark the reply it names; answered 202.
async fn enqueue_feedback<Q: Queue>(
    inbound: &Q,
    feedback: MailFeedback,
    received_at: chrono::DateTime<chrono::Utc>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (kind, about) = (feedback.kind.as_str(), feedback.message_id.clone());
    let outgoing = crate::queues::inbound_feedback(feedback, received_at)
        .map_err(|e| ApiError::unavailable("encoding_failed", e))?;
    inbound
        .send(outgoing)
        .await
        .map_err(|e| ApiError::unavailable("queue_unavailable", e))?;
    tracing::info!(kind, %about, "report queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "queued", "report": kind, "about": about })),
    ))
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
        EmailError::Automatic(_) => "automatic_message",
        EmailError::Unauthenticated(_) => "unauthenticated_sender",
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
