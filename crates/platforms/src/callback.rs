//! Integrators: the reply is POSTed to the callback URL their customer's messages gave, signed
//! the way they sign what they send us, with the reply's id as the idempotency key so that a
//! call made again (after an answer was lost) posts nothing twice.

use crate::{Answer, HttpPlatform, retry_after, send};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use socialcare_domain::message::{Channel, Message};
use socialcare_domain::replies::PostError;
use socialcare_webhooks::integration::signature;

pub(crate) async fn post(
    platform: &HttpPlatform,
    reply: &Message,
    url: &str,
) -> Result<String, PostError> {
    let url = platform
        .guard
        .check(url)
        .map_err(|refused| PostError::Permanent(format!("the callback URL {refused}")))?;
    let secrets = (platform.integration_secrets)(reply.body.account.clone()).await;
    let secrets: Vec<&[u8]> = secrets
        .iter()
        .map(Vec::as_slice)
        .filter(|secret| !secret.is_empty())
        .collect();
    if secrets.is_empty() {
        return Err(PostError::Permanent(
            "no integration secret is configured to sign callbacks".into(),
        ));
    }
    let body = json!({
        "type": "reply",
        "ticket_id": reply.ticket_id.as_str(),
        "message_id": reply.id.as_str(),
        "account": reply.body.account,
        "channel": match reply.body.channel {
            Channel::Public => "public",
            Channel::Private => "private",
        },
        "in_reply_to": reply.body.in_reply_to,
        "recipient_id": reply.body.recipient_id,
        "text": reply.body.text,
        "created_at": reply.body.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    });
    // The signature covers these exact bytes, so they are what is sent.
    let body = serde_json::to_vec(&body)
        .map_err(|e| PostError::Permanent(format!("could not write the callback: {e}")))?;
    let signed = signature::sign_with_each(&secrets, Utc::now(), &body);
    let request = platform
        .callbacks
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Socialcare-Signature", signed)
        .header("Idempotency-Key", reply.id.as_str())
        .body(body);
    let answer = send(platform, "the integrator", request).await?;
    outcome(&answer, reply.id.as_str(), Utc::now())
}

fn outcome(answer: &Answer, message_id: &str, now: DateTime<Utc>) -> Result<String, PostError> {
    let status = answer.status;
    let code = status.as_u16();
    if status.is_success() {
        // Their id for the reply when they give one; ours otherwise, which they also have.
        let id = answer
            .json()
            .and_then(|json| json.get("id").and_then(Value::as_str).map(str::to_string))
            .filter(|id| !id.is_empty());
        return Ok(id.unwrap_or_else(|| message_id.to_string()));
    }
    let excerpt = answer.excerpt();
    match code {
        429 => Err(PostError::RateLimited {
            retry_at: retry_after(answer, now),
            reason: format!("the integrator is rate limiting (429): {excerpt}"),
        }),
        408 | 500..=599 => Err(PostError::Transient(format!(
            "the integrator failed ({code}): {excerpt}"
        ))),
        _ => Err(PostError::Permanent(format!(
            "the integrator refused the reply ({code}): {excerpt}"
        ))),
    }
}
