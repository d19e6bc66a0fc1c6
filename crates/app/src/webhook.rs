//! The webhook intake: verify, normalize, enqueue, and only then answer 2xx.

use crate::configuration::ConfigurationCache;
use crate::error::ApiError;
use crate::integrations::IntegrationDirectory;
use crate::metrics;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use socialcare_domain::integrations::{DEFAULT_INTEGRATION, Integration, check_source};
use socialcare_domain::ports::{Clock, Queue};
use socialcare_domain::{ChangeEvent, NormalizedMessage, QueuedEvent};
use socialcare_platforms::OutboundGuard;
use socialcare_webhooks::integration::{self, signature};
use socialcare_webhooks::payload::Delivery;
use socialcare_webhooks::payload::PayloadError;
use socialcare_webhooks::signature::SignatureError;
use socialcare_webhooks::{meta, x};
use std::collections::HashMap;
use std::sync::Arc;

/// Platforms send far less; anything bigger is refused before it is read further.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct WebhookState<Q> {
    pub inbound: Q,
    /// Signs `POST /webhooks/generic`.
    pub integration_secret: Vec<u8>,
    /// X app's consumer secret; without it `/webhooks/x` answers 404.
    pub x_consumer_secret: Option<Vec<u8>>,
    /// Meta app secret and the verify token of the subscription; without them
    /// `/webhooks/meta` answers 404.
    pub meta_app_secret: Option<Vec<u8>>,
    pub meta_verify_token: Option<String>,
    /// The brand accounts this deployment serves (in the configuration); events for others
    /// are dropped.
    pub configuration: ConfigurationCache,
    /// Which callback URLs an integrator's event may give: one that can never be called is
    /// refused at once.
    pub guard: OutboundGuard,
    /// The registered integrations, each with its own secret and source.
    pub integrations: IntegrationDirectory,
    /// Told which accounts a platform's delivery was for (their health's last webhook).
    pub seen: Option<crate::tokens::SeenFn>,
    /// Keeps an e-mail that was refused, for inspection (none: it is only refused).
    pub refused_mail: Option<crate::email::KeepRefused>,
    /// Keeps the files e-mails come with (none: they are listed, not kept).
    pub attachment_files: Option<crate::attachments::Files>,
    pub clock: Arc<dyn Clock>,
}

impl<Q> WebhookState<Q> {
    /// The integrator webhook only; set the other fields to open the platforms.
    pub fn new(inbound: Q, integration_secret: &[u8], clock: Arc<dyn Clock>) -> Self {
        Self {
            inbound,
            integration_secret: integration_secret.to_vec(),
            x_consumer_secret: None,
            meta_app_secret: None,
            meta_verify_token: None,
            configuration: ConfigurationCache::default(),
            guard: OutboundGuard::strict(),
            integrations: IntegrationDirectory::none(),
            seen: None,
            refused_mail: None,
            attachment_files: None,
            clock,
        }
    }
}

/// The webhook routes; finish with [`crate::error::json_errors`] before serving.
pub fn routes<Q: Queue + 'static>(state: Arc<WebhookState<Q>>) -> Router {
    Router::new()
        .route("/webhooks/generic", post(receive_generic::<Q>))
        .route("/webhooks/generic/{source}", post(receive_integration::<Q>))
        .route("/webhooks/x", get(x_challenge::<Q>).post(receive_x::<Q>))
        .route(
            "/webhooks/meta",
            get(meta_handshake::<Q>).post(receive_meta::<Q>),
        )
        .route("/webhooks/email", post(crate::email::receive_email::<Q>))
        .with_state(state)
}

/// `POST /webhooks/generic`: the default integration, signed with the configured secret (or,
/// once the default integration was rotated, with its stored secrets). It may name any source
/// but a registered integration's.
async fn receive_generic<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = read_body(body).await?;
    let now = state.clock.now();
    let header = headers.get(signature::HEADER).map(|value| value.as_bytes());
    signed_by(&state, DEFAULT_INTEGRATION, header, &body, now).await?;
    let message = integration::normalize(&body).map_err(invalid)?;
    // Read again when remembered as free: it may have been registered a moment ago.
    let registered = state
        .integrations
        .registered(&message.account)
        .await
        .map_err(ApiError::store)?;
    if registered {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "source_registered",
            format!(
                "source {:?} is a registered integration: post its events to /webhooks/generic/{0}, signed with its own secret",
                message.account
            ),
        ));
    }
    queue_integration_event(&state, message, now).await
}

/// `POST /webhooks/generic/{source}`: a registered integration, signed with its own secret. Its
/// events name its source, or none.
async fn receive_integration<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let unknown = || ApiError::not_found(format!("no integration is registered as {source:?}"));
    if check_source(&source).is_err() || source == DEFAULT_INTEGRATION {
        return Err(unknown());
    }
    let body = read_body(body).await?;
    let now = state.clock.now();
    let header = headers.get(signature::HEADER).map(|value| value.as_bytes());
    signed_by(&state, &source, header, &body, now)
        .await?
        .ok_or_else(unknown)?;
    let event = integration::event::parse_event(&body).map_err(invalid)?;
    if let Some(named) = event.source.as_deref().filter(|named| *named != source) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "source_mismatch",
            format!("this integration's events are filed under {source:?}, not {named:?}"),
        ));
    }
    let message = event.into_message(&source).map_err(invalid)?;
    queue_integration_event(&state, message, now).await
}

async fn lookup<Q>(state: &WebhookState<Q>, source: &str) -> Result<Option<Integration>, ApiError> {
    state
        .integrations
        .get(source)
        .await
        .map_err(ApiError::store)
}

/// Checks that the integration registered as `source` signed the body (the default one: with
/// its stored secrets once rotated, else the configured secret) and answers it; `None` for an
/// unknown integration (and the default one before its first rotation). What the directory
/// remembered is read again when it does not match (it may have been created or rotated
/// since), at most every few seconds per source. A header that can never pass is refused
/// before anything is looked up.
pub(crate) async fn signed_by<Q>(
    state: &WebhookState<Q>,
    source: &str,
    header: Option<&[u8]>,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Integration>, ApiError> {
    let signed = signature::SignedHeader::read(header, now).map_err(refused)?;
    let check = |found: &Option<Integration>| {
        let secrets = match found {
            Some(integration) => integration.inbound_secrets(now),
            None if source == DEFAULT_INTEGRATION => vec![state.integration_secret.as_slice()],
            None => return Ok(()),
        };
        signed.matches(&secrets, body).map(|_| ())
    };
    let found = lookup(state, source).await?;
    let first = check(&found);
    let may_be_stale = state.integrations.remembers()
        && match (&found, &first) {
            (None, _) if source != DEFAULT_INTEGRATION => true,
            (_, Err(SignatureError::Mismatch)) => true,
            _ => false,
        };
    if !may_be_stale {
        first.map_err(refused)?;
        return Ok(found);
    }
    let fresh = state
        .integrations
        .get_fresh(source)
        .await
        .map_err(ApiError::store)?;
    check(&fresh).map_err(refused)?;
    Ok(fresh)
}

/// Refuses a callback URL that can never be called, then queues the message.
async fn queue_integration_event<Q: Queue>(
    state: &WebhookState<Q>,
    message: NormalizedMessage,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(url) = &message.callback_url {
        state.guard.check(url).map_err(|refused| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_event",
                format!("callback_url: {refused}"),
            )
        })?;
    }
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

pub(crate) fn refused(e: SignatureError) -> ApiError {
    let code = match e {
        SignatureError::Missing { .. } => "missing_signature",
        SignatureError::Malformed { .. } => "malformed_signature",
        SignatureError::Stale => "stale_signature",
        SignatureError::Mismatch => "bad_signature",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
}

fn invalid(e: PayloadError) -> ApiError {
    e.into()
}

/// Puts a normalized message on the inbound queue. One customer's messages (theirs and the
/// brand's to them) share a FIFO group; the dedupe id drops a platform's retries within five
/// minutes (ingest drops later ones).
pub async fn enqueue<Q: Queue>(
    inbound: &Q,
    message: NormalizedMessage,
    received_at: chrono::DateTime<chrono::Utc>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let message_id = message.message_id();
    send_message(inbound, message, received_at).await?;
    tracing::info!(%message_id, "queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "message_id": message_id })),
    ))
}

async fn send_message<Q: Queue>(
    inbound: &Q,
    message: NormalizedMessage,
    received_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let outgoing = crate::queues::inbound_message(message, received_at)
        .map_err(|e| ApiError::unavailable("encoding_failed", e))?;
    inbound
        .send(outgoing)
        .await
        .map_err(|e| ApiError::unavailable("queue_unavailable", e))
}

async fn send<Q: Queue>(
    inbound: &Q,
    event: &QueuedEvent,
    group: &str,
    dedupe: &str,
) -> Result<(), ApiError> {
    let outgoing = crate::queues::inbound(event, group, dedupe)
        .map_err(|e| ApiError::unavailable("encoding_failed", e))?;
    inbound
        .send(outgoing)
        .await
        .map_err(|e| ApiError::unavailable("queue_unavailable", e))
}

/// Queues what a platform delivered for the configured accounts, drops (and counts) the rest,
/// and answers 200 with the tally; 503 when the queue fails (the platform retries; whatever
/// was already queued is deduplicated).
async fn accept<Q: Queue>(
    state: &WebhookState<Q>,
    delivery: Delivery,
    platform: &str,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let received_at = state.clock.now();
    let configuration = state.configuration.current().await;
    let known = |source, account: &str| configuration.accounts.get(source, account).is_some();
    let (mut queued, mut dropped) = (0u64, 0u64);
    let mut served = std::collections::HashSet::new();
    for message in delivery.messages {
        if !known(message.source, &message.account) {
            tracing::warn!(source = %message.source, account = %message.account, "event for an account that is not configured; dropped");
            dropped += 1;
            continue;
        }
        served.insert((message.source, message.account.clone()));
        send_message(&state.inbound, message, received_at).await?;
        queued += 1;
    }
    for change in delivery.changes {
        if !known(change.source, &change.account) {
            dropped += 1;
            continue;
        }
        let group = change.message_key();
        let dedupe = format!(
            "change:{group}:{}:{}",
            serde_json::to_string(&change.change).unwrap_or_default(),
            change.at.timestamp_millis()
        );
        let event = QueuedEvent::Change(ChangeEvent {
            change,
            received_at,
        });
        send(&state.inbound, &event, &group, &dedupe).await?;
        queued += 1;
    }
    if dropped > 0 {
        metrics::count("DroppedUnknownAccount", dropped, platform);
    }
    if let Some(seen) = &state.seen {
        for (source, account) in served {
            seen(source, account).await;
        }
    }
    if !delivery.ignored.is_empty() {
        tracing::debug!(platform, ignored = ?delivery.ignored, "accepted, not messages");
    }
    Ok((
        StatusCode::OK,
        Json(json!({ "queued": queued, "dropped": dropped, "ignored": delivery.ignored.len() })),
    ))
}

fn not_configured(platform: &str) -> ApiError {
    ApiError::not_found(format!(
        "{platform} webhooks are not configured on this deployment"
    ))
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(params: Params) -> Result<HashMap<String, String>, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// `GET /webhooks/x?crc_token=`: X's challenge-response check.
async fn x_challenge<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    query: Params,
) -> Result<Json<Value>, ApiError> {
    let secret = state
        .x_consumer_secret
        .as_deref()
        .ok_or_else(|| not_configured("X"))?;
    let params = params(query)?;
    let token = params.get("crc_token").map(String::as_str).unwrap_or("");
    let answer = x::signature::crc_response_token(secret, token).map_err(|e| {
        let code = match e {
            x::signature::CrcTokenError::Missing => "missing_crc_token",
            x::signature::CrcTokenError::Shape => "invalid_crc_token",
        };
        ApiError::bad_request(code, e.to_string())
    })?;
    Ok(Json(json!({ "response_token": answer })))
}

async fn receive_x<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let secret = state
        .x_consumer_secret
        .as_deref()
        .ok_or_else(|| not_configured("X"))?;
    let signature = headers.get(x::signature::HEADER).map(|v| v.as_bytes());
    let body = read_body(body).await?;
    x::signature::verify(secret, signature, &body).map_err(refused)?;
    let delivery = x::account_activity::parse_delivery(&body).map_err(invalid)?;
    accept(&state, delivery, "x").await
}

/// `GET /webhooks/meta`: the subscription handshake; echoes `hub.challenge` as plain text.
async fn meta_handshake<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    query: Params,
) -> Result<String, ApiError> {
    let verify_token = state
        .meta_verify_token
        .as_deref()
        .ok_or_else(|| not_configured("Meta"))?;
    let params = params(query)?;
    let param = |name: &str| params.get(name).map(String::as_str);
    meta::signature::challenge(
        verify_token,
        param("hub.mode"),
        param("hub.verify_token"),
        param("hub.challenge"),
    )
    .map(str::to_string)
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "hub.mode must be subscribe and hub.verify_token ours",
        )
    })
}

async fn receive_meta<Q: Queue>(
    State(state): State<Arc<WebhookState<Q>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let secret = state
        .meta_app_secret
        .as_deref()
        .ok_or_else(|| not_configured("Meta"))?;
    let signature = headers.get(meta::signature::HEADER).map(|v| v.as_bytes());
    let body = read_body(body).await?;
    meta::signature::verify(secret, signature, &body).map_err(refused)?;
    let delivery = meta::parse_delivery(&body).map_err(invalid)?;
    accept(&state, delivery, "meta").await
}
