//! The X API v2: a public reply is a tweet answering the customer's tweet, a private one a
//! direct message. Calls are made as the brand's account (OAuth 1.0a user context).

use crate::tokens::{AccountToken, TokenEvent, x_headroom, x_refused};
use crate::{Answer, HttpPlatform, after, path_id, send};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use socialcare_domain::Source;
use socialcare_domain::message::Message;
use socialcare_domain::replies::{PostError, Target};

/// How long to wait when X is over its limit and does not say until when: its windows are 15
/// minutes long.
const DEFAULT_WAIT_SECONDS: i64 = 15 * 60;

pub(crate) async fn post(
    platform: &HttpPlatform,
    reply: &Message,
    target: &Target,
) -> Result<String, PostError> {
    let base = &platform.endpoints.x_api;
    let text = &reply.body.text;
    let (url, body, id_field) = match target {
        Target::Public { to } => (
            format!("{base}/2/tweets"),
            json!({ "text": text, "reply": { "in_reply_to_tweet_id": to } }),
            "id",
        ),
        Target::Direct { to, .. } => (
            format!(
                "{base}/2/dm_conversations/with/{}/messages",
                path_id("the X user", to)?
            ),
            json!({ "text": text }),
            "dm_event_id",
        ),
        Target::PrivateReply { .. } | Target::Callback { .. } | Target::Email { .. } => {
            return Err(PostError::Permanent(
                "X takes public replies and direct messages only".into(),
            ));
        }
    };
    call(platform, &reply.body.account, &url, &body, id_field).await
}

/// A tweet of the brand account that answers no one: a status update.
pub(crate) async fn publish(
    platform: &HttpPlatform,
    account: &str,
    text: &str,
) -> Result<String, PostError> {
    let url = format!("{}/2/tweets", platform.endpoints.x_api);
    call(platform, account, &url, &json!({ "text": text }), "id").await
}

/// POSTs `body` to `url` as the brand `account`; the id X gives the post.
async fn call(
    platform: &HttpPlatform,
    account: &str,
    url: &str,
    body: &Value,
    id_field: &str,
) -> Result<String, PostError> {
    let Some(app) = &platform.credentials.x else {
        return Err(PostError::Permanent(
            "no X app credentials (consumer key and secret) are configured".into(),
        ));
    };
    let (access_token, access_token_secret) =
        match platform.account_token(Source::X, account).await? {
            Some(AccountToken::X {
                access_token,
                access_token_secret,
            }) => (access_token, access_token_secret),
            _ => match platform.credentials.x_account(account) {
                Some((_, user)) => (user.access_token.clone(), user.access_token_secret.clone()),
                None => {
                    return Err(PostError::Permanent(format!(
                        "X account {account} is not connected: connect it in the console's settings"
                    )));
                }
            },
        };
    if platform.endpoints.x_api.contains(['?', '#']) {
        // The signature covers the URL without its query; a query here would be signed wrong.
        return Err(PostError::Permanent(
            "the X API base URL must not have a query or fragment".into(),
        ));
    }
    // A JSON body is not signed: only the oauth_* parameters and the query (none here) are.
    let token = oauth1_request::Token::from_parts(
        app.consumer_key.as_str(),
        app.consumer_secret.as_str(),
        access_token.as_str(),
        access_token_secret.as_str(),
    );
    let authorization = oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1)
        .version(true)
        .post(url, &());
    let request = platform
        .client
        .post(url)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .json(body);
    let answer = send(platform, "X", request).await?;
    let result = outcome(&answer, id_field, Utc::now());
    let account = account.to_string();
    let event = match (&result, x_refused(&answer)) {
        (Err(error), true) => TokenEvent::Refused {
            source: Source::X,
            account,
            reason: error.to_string(),
        },
        _ => TokenEvent::Used {
            source: Source::X,
            account,
            posted: result.is_ok(),
            rate: x_headroom(&answer),
        },
    };
    platform.showed(event).await;
    result
}

fn outcome(answer: &Answer, id_field: &str, now: DateTime<Utc>) -> Result<String, PostError> {
    let status = answer.status;
    let json = answer.json();
    if status.is_success() {
        return json
            .as_ref()
            .and_then(|json| json.pointer(&format!("/data/{id_field}")))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            // Posted, most likely, but without its id: the echo of the post will confirm it.
            .ok_or_else(|| {
                PostError::Unknown(format!(
                    "X answered {status} without the post's {id_field}: {}",
                    answer.excerpt()
                ))
            });
    }
    let message = json
        .as_ref()
        .and_then(problem)
        .unwrap_or_else(|| answer.excerpt());
    let code = status.as_u16();
    match code {
        429 => Err(PostError::RateLimited {
            retry_at: retry_at(answer, now),
            reason: format!("X rate limit (429): {message}"),
        }),
        408 | 500..=599 => Err(PostError::Transient(format!(
            "X failed ({code}): {message}"
        ))),
        _ => Err(PostError::Permanent(format!(
            "X refused the post ({code}): {message}"
        ))),
    }
}

/// The words of an error: a v2 problem (`detail`, else `title`) or a v1.1-style `errors` list.
fn problem(json: &Value) -> Option<String> {
    ["/detail", "/title", "/errors/0/message"]
        .iter()
        .find_map(|pointer| json.pointer(pointer)?.as_str())
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// When the limit resets: the 15-minute window's reset, or the daily one when that is what
/// ran out, whichever is later.
fn retry_at(answer: &Answer, now: DateTime<Utc>) -> DateTime<Utc> {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let reset = |name: &str| {
        header(name)
            .and_then(|value| value.parse::<i64>().ok())
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
    };
    let mut resets = vec![reset("x-rate-limit-reset")];
    for daily in ["x-user-limit-24hour", "x-app-limit-24hour"] {
        if header(&format!("{daily}-remaining")) == Some("0") {
            resets.push(reset(&format!("{daily}-reset")));
        }
    }
    resets
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_else(|| after(now, DEFAULT_WAIT_SECONDS))
}
