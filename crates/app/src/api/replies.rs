//! `POST /v1/tickets/{id}/replies`: answer the customer where they are.

use super::{ApiState, Caller, ErrorBody, Store, ticket_id};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use socialcare_domain::access::Role;
use socialcare_domain::replies::{self, ReplyChannel, ReplyError, ReplyRequest, RouteError};
use socialcare_domain::templates::{self, Values};
use socialcare_domain::{Message, TicketDetail};
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    /// What to say; or give `template`.
    pub text: Option<String>,
    /// A template id, filled with the ticket's customer and the calling agent.
    pub template: Option<String>,
    /// `public`, `private` or `auto` (the default).
    #[serde(default)]
    pub channel: ReplyChannel,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyEnvelope {
    /// The reply as it is on the ticket: `delivery.state` is `pending` until the sender posts it.
    pub message: Message,
}

/// `POST /v1/tickets/{id}/replies` (agent): records the reply on the ticket as `pending`,
/// queues it for the sender, answers 202. An `Idempotency-Key` header makes a retried request
/// return the same reply instead of sending a second one.
#[utoipa::path(post, path = "/v1/tickets/{id}/replies", tag = "tickets",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewReply,
    responses(
        (status = 202, body = ReplyEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "idempotency_key_reused: the key names a reply with other text", body = ErrorBody),
        (status = 422, description = "invalid_reply, unknown_template or no_route (e.g. the 24-hour window closed)", body = ErrorBody),
        (status = 503, description = "queue_unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn add_reply<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ReplyEnvelope>), ApiError> {
    caller.require(Role::Agent)?;
    let ticket = ticket_id(&id)?;
    let request: NewReply = parse(&body)?;
    let key = request_key(&headers, &caller, ticket.as_str())?;
    let reply = reply_by(&state, &caller, &id, &request, key).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplyEnvelope { message: reply })))
}

/// An agent answers ticket `id`: the reply is recorded as pending and queued for the sender;
/// `key` makes a repeated request (same key) the same reply.
pub async fn reply_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    request: &NewReply,
    key: String,
) -> Result<Message, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    let outbox = state.outbox.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "replies_unavailable",
            "this deployment has no outbox queue to send replies through",
        )
    })?;
    let detail = state
        .store
        .ticket_detail(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no ticket {id}")))?;
    let text = reply_text(&state.store, request, &detail, caller).await?;
    let limit = socialcare_domain::replies::text_limit(&detail, request.channel, Utc::now());
    if text.trim().is_empty() || text.chars().count() > limit {
        return Err(invalid(format!(
            "text: must be 1 to {limit} characters on {}",
            detail.ticket.source
        )));
    }
    let reply_request = ReplyRequest {
        text,
        channel: request.channel,
        key,
        author: caller.actor(),
        automatic: false,
    };
    let written = replies::write_reply(&state.store, &id, &reply_request, Utc::now())
        .await
        .map_err(reply_failed)?;
    crate::metrics::report(&written.samples);
    let reply = written.reply;
    if reply.delivery.as_ref().map(|d| d.state) == Some(replies::DeliveryState::Pending)
        && let Err(e) = outbox.enqueue_reply(&reply).await
    {
        tracing::error!(error = %e, message_id = %reply.id, "could not queue the reply");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            format!(
                "the reply {} is saved but could not be queued; retry with the same Idempotency-Key to queue it",
                reply.id
            ),
        ));
    }
    Ok(reply)
}

/// A request's key: from the `Idempotency-Key` header (per caller and `scope`, the ticket or
/// incident, so the same key on another one is another request), or new.
pub(super) fn request_key(
    headers: &HeaderMap,
    caller: &Caller,
    scope: &str,
) -> Result<String, ApiError> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(given)) if !given.is_empty() && given.len() <= 200 => {
            Ok(idempotent_key(caller, scope, given))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key: must be 1 to 200 visible ASCII characters",
        )),
        None => Ok(format!("api-{}", ulid::Ulid::generate())),
    }
}

/// The key of a request the caller identified as `given` (an `Idempotency-Key`, a console
/// form's own key): the same caller, scope and `given` make the same key.
pub fn idempotent_key(caller: &Caller, scope: &str, given: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{scope}\n{given}", caller.name).as_bytes());
    format!("api-{}", hex::encode(&digest[..16]))
}

async fn reply_text<S: Store>(
    store: &S,
    request: &NewReply,
    detail: &TicketDetail,
    caller: &Caller,
) -> Result<String, ApiError> {
    match (&request.text, &request.template) {
        (Some(text), None) => Ok(text.trim().to_string()),
        (None, Some(template_id)) => template_text(store, template_id, detail, caller).await,
        _ => Err(invalid("give exactly one of text and template".into())),
    }
}

/// Template `template_id` filled for this ticket's customer and the calling agent: what a
/// reply from it says (the console shows it before it is sent).
pub async fn template_text<S: Store>(
    store: &S,
    template_id: &str,
    detail: &TicketDetail,
    caller: &Caller,
) -> Result<String, ApiError> {
    let template = store
        .get_template(template_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_template",
                format!("no template {template_id}"),
            )
        })?;
    // The ticket's customer, not whoever wrote last in the thread (a bystander's name is not
    // the one to greet).
    let author = detail
        .messages
        .iter()
        .rev()
        .find(|m| replies::is_from_customer(detail, m))
        .map(|m| &m.body.author);
    let values = Values {
        customer_name: detail
            .customer
            .as_ref()
            .and_then(|c| c.name.clone())
            .or_else(|| author.and_then(|a| a.name.clone())),
        customer_handle: author.and_then(|a| a.handle.clone()),
        agent_name: caller.name.clone(),
        ticket_id: detail.ticket.id.to_string(),
        ticket_subject: detail.ticket.subject.clone(),
    };
    templates::render(&template.text, &values).map_err(|e| invalid(e.to_string()))
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reply", message)
}

fn reply_failed(e: ReplyError) -> ApiError {
    match e {
        ReplyError::NotFound(id) => ApiError::not_found(format!("no ticket {id}")),
        ReplyError::Route(route) => {
            let code = match route {
                RouteError::WindowClosed(_) => "window_closed",
                _ => "no_route",
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, route.to_string())
        }
        ReplyError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        ReplyError::KeyReused(_) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            e.to_string(),
        ),
        ReplyError::Store(e) => ApiError::store(e),
    }
}
