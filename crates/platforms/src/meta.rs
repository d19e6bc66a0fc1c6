//! The Graph API, for Facebook pages and Instagram accounts: comment replies, Messenger and
//! Instagram direct messages, private replies to comments. Every call carries the page access
//! token and its `appsecret_proof`.

use crate::tokens::{AccountToken, TokenEvent, meta_refused};
use crate::{Answer, HttpPlatform, after, path_id, send};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use socialcare_domain::message::{Message, Source};
use socialcare_domain::replies::{PostError, Target};

/// How long to wait when Meta is over a limit and gives no estimate. Its limits are counted
/// over a rolling hour: five minutes lets a few tries find the end of it without spending the
/// queue's receive count in seconds.
const DEFAULT_WAIT_SECONDS: i64 = 5 * 60;

/// Error codes that mean "over a rate limit": API too many calls, user, application, page,
/// custom-level throttling, and the business use case limits 80001-80014.
pub(crate) fn is_rate_limit(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80001..=80014)
}

pub(crate) async fn post(
    platform: &HttpPlatform,
    reply: &Message,
    target: &Target,
) -> Result<String, PostError> {
    let source = reply.body.source;
    let account = &reply.body.account;
    let text = &reply.body.text;
    let (node, edge, body, id_field) = match target {
        Target::Public { to } => {
            let edge = match source {
                Source::Instagram => "replies",
                _ => "comments",
            };
            let body = json!({ "message": text });
            (path_id("the comment or post", to)?, edge, body, "id")
        }
        Target::Direct { to, .. } => {
            let body = json!({
                "recipient": { "id": to },
                "messaging_type": "RESPONSE",
                "message": { "text": text },
            });
            (
                path_id("the account", account)?,
                "messages",
                body,
                "message_id",
            )
        }
        Target::PrivateReply { comment_id } => {
            let body = json!({
                "recipient": { "comment_id": comment_id },
                "message": { "text": text },
            });
            (
                path_id("the account", account)?,
                "messages",
                body,
                "message_id",
            )
        }
        Target::Callback { .. } => {
            return Err(PostError::Permanent(format!("{source} has no callbacks")));
        }
        Target::Email { .. } => {
            return Err(PostError::Permanent(format!("{source} takes no e-mail")));
        }
    };
    call(platform, source, account, node, edge, &body, id_field).await
}

/// A post on the brand's Facebook page that answers no one: a status update. (Instagram
/// posts need an image; the caller does not ask for one.)
pub(crate) async fn publish(
    platform: &HttpPlatform,
    source: Source,
    account: &str,
    text: &str,
) -> Result<String, PostError> {
    let page = path_id("the page", account)?;
    let body = json!({ "message": text });
    call(platform, source, account, page, "feed", &body, "id").await
}

/// The Meta app's secret and the account's page token: the one connected in the console, else
/// the one configured.
pub(crate) async fn graph_token(
    platform: &HttpPlatform,
    source: Source,
    account: &str,
) -> Result<(String, String), PostError> {
    let Some(app) = &platform.credentials.meta else {
        return Err(PostError::Permanent(
            "no Meta app secret is configured".into(),
        ));
    };
    let page_token = match platform.account_token(source, account).await? {
        Some(AccountToken::Meta { page_token }) => page_token,
        _ => match platform.credentials.meta_page(account) {
            Some((_, page)) => page.access_token.clone(),
            None => {
                return Err(PostError::Permanent(format!(
                    "{source} account {account} is not connected: connect it in the console's settings"
                )));
            }
        },
    };
    Ok((app.app_secret.clone(), page_token))
}

/// POSTs `body` to the `edge` of `node` with the page's token; the id Meta gives the post.
async fn call(
    platform: &HttpPlatform,
    source: Source,
    account: &str,
    node: &str,
    edge: &str,
    body: &Value,
    id_field: &str,
) -> Result<String, PostError> {
    let (app_secret, page_token) = graph_token(platform, source, account).await?;
    let proof = appsecret_proof(&app_secret, &page_token)?;
    let endpoints = &platform.endpoints;
    let address = format!(
        "{}/{}/{node}/{edge}",
        endpoints.meta_graph, endpoints.meta_version
    );
    let params = [
        ("access_token", page_token.as_str()),
        ("appsecret_proof", proof.as_str()),
    ];
    // The error names the address without the query, which holds the token.
    let url = reqwest::Url::parse_with_params(&address, params).map_err(|e| {
        PostError::Permanent(format!("the Graph API address {address} is not valid: {e}"))
    })?;
    let request = platform.client.post(url).json(body);
    let answer = send(platform, "Meta", request).await?;
    let result = outcome(&answer, id_field, Utc::now());
    let account = account.to_string();
    let event = match (&result, meta_refused(&answer)) {
        (Err(error), true) => TokenEvent::Refused {
            source,
            account,
            reason: error.to_string(),
        },
        _ => TokenEvent::Used {
            source,
            account,
            posted: result.is_ok(),
            rate: None,
        },
    };
    platform.showed(event).await;
    result
}

/// Hex HMAC-SHA256 of the access token keyed with the app secret: proves the call comes from
/// the app's server, which Meta can require of every call.
pub(crate) fn appsecret_proof(app_secret: &str, access_token: &str) -> Result<String, PostError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes())
        .map_err(|e| PostError::Permanent(format!("the Meta app secret cannot key HMAC: {e}")))?;
    mac.update(access_token.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

fn outcome(answer: &Answer, id_field: &str, now: DateTime<Utc>) -> Result<String, PostError> {
    let status = answer.status;
    let json = answer.json();
    if status.is_success() {
        return json
            .as_ref()
            .and_then(|json| json.get(id_field))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            // Posted, most likely, but without its id: the echo of the post will confirm it.
            .ok_or_else(|| {
                PostError::Unknown(format!(
                    "Meta answered {status} without the post's {id_field}: {}",
                    answer.excerpt()
                ))
            });
    }
    let error = json.as_ref().and_then(|json| json.get("error"));
    let field = |name: &str| error.and_then(|error| error.get(name));
    let code = field("code").and_then(Value::as_i64);
    let subcode = field("error_subcode").and_then(Value::as_i64);
    let transient = field("is_transient").and_then(Value::as_bool) == Some(true);
    let message = field("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| answer.excerpt());
    let what = match (code, subcode) {
        (Some(code), Some(subcode)) => format!("code {code}, subcode {subcode}"),
        (Some(code), None) => format!("code {code}"),
        (None, _) => format!("HTTP {}", status.as_u16()),
    };
    if status.as_u16() == 429 || code.is_some_and(is_rate_limit) {
        return Err(PostError::RateLimited {
            retry_at: retry_at(answer, now),
            reason: format!("Meta rate limit ({what}): {message}"),
        });
    }
    if status.is_server_error() || matches!(code, Some(1 | 2)) || transient {
        return Err(PostError::Transient(format!(
            "Meta failed ({what}): {message}"
        )));
    }
    // Outside the 24-hour window (10/2018278), user unavailable (551), no such object or bad
    // parameter (100), bad token (190): calling again gets the same answer.
    Err(PostError::Permanent(format!(
        "Meta refused the post ({what}): {message}"
    )))
}

/// Meta's estimate of when access comes back, from whichever usage header carries one (the
/// business use case header does, per business and limit type; the longest counts), else the
/// default wait.
pub(crate) fn retry_at(answer: &Answer, now: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = ["x-business-use-case-usage", "x-page-usage", "x-app-usage"]
        .iter()
        .filter_map(|name| answer.headers.get(*name)?.to_str().ok())
        .filter_map(|value| serde_json::from_str::<Value>(value).ok())
        .filter_map(|usage| longest_estimate(&usage))
        .max()
        .filter(|minutes| *minutes > 0);
    match minutes {
        Some(minutes) => after(now, minutes.saturating_mul(60)),
        None => after(now, DEFAULT_WAIT_SECONDS),
    }
}

/// The largest `estimated_time_to_regain_access` (minutes) anywhere in a usage header.
fn longest_estimate(usage: &Value) -> Option<i64> {
    match usage {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(name, value)| match name.as_str() {
                "estimated_time_to_regain_access" => value.as_i64(),
                _ => longest_estimate(value),
            })
            .max(),
        Value::Array(items) => items.iter().filter_map(longest_estimate).max(),
        _ => None,
    }
}
