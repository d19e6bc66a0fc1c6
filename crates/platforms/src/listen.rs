//! The platforms' read side ([`Listener`]): X recent search (`GET /2/tweets/search/recent`)
//! and post lookup (`GET /2/tweets/:id`), as the app with its bearer token, each post with its
//! author (`expansions=author_id`).
//!
//! X bills every post and user it returns (the pay-per-use rates are in docs/listening.md) and
//! limits each endpoint per app and 15 minutes: an answer over the limit pauses the search
//! until `x-rate-limit-reset`.

use crate::connect::{ConnectError, XConnect};
use crate::credentials::{ConfigError, Credentials};
use crate::{Endpoints, after, client_builder, describe, is_platform_id, read_capped};
use chrono::{DateTime, SecondsFormat, Utc};
use socialcare_domain::Source;
use socialcare_domain::listening::{Fetched, ListenError, Listener, SearchPage, SearchRequest};
use socialcare_domain::message::FoundBy;
use socialcare_webhooks::x::v2::{LookupAnswer, SearchAnswer, TWEET_FIELDS, USER_FIELDS};
use std::time::Duration;

/// Results per search page: X's most.
const PAGE_SIZE: &str = "100";
/// The most of an answer that is read: a page of 100 posts with their authors is about
/// 100 KB, and 100 long posts (25,000 characters each) about 8 MB.
const MOST_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// How long to wait when X is over its limit and does not say until when (its windows).
const DEFAULT_PAUSE_SECONDS: i64 = 15 * 60;

/// Reads X as the app. Without X app credentials every read is refused, with the reason.
pub struct XListener {
    app: Option<XConnect>,
    client: reqwest::Client,
    api: String,
}

impl std::fmt::Debug for XListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XListener")
            .field("app", &self.app)
            .field("api", &self.api)
            .finish()
    }
}

impl XListener {
    pub fn new(
        credentials: &Credentials,
        endpoints: &Endpoints,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let app = match &credentials.x {
            Some(x) => Some(XConnect::new(
                &x.consumer_key,
                &x.consumer_secret,
                endpoints,
                timeout,
            )?),
            None => None,
        };
        let client = client_builder(timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        Ok(Self {
            app,
            client,
            api: endpoints.x_api.trim_end_matches('/').to_string(),
        })
    }

    /// GETs `path` with `query` as the app: the answer's status, headers and body.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), ListenError> {
        let Some(app) = &self.app else {
            return Err(ListenError::Refused(
                "no X app credentials (consumer key and secret) are configured".into(),
            ));
        };
        let mut url = url::Url::parse(&format!("{}{path}", self.api))
            .map_err(|e| ListenError::Refused(format!("the X API address: {e}")))?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        // A bearer token X no longer takes (invalidated, rotated) is forgotten and the call
        // made once more with the current one.
        let mut tries = 0;
        loop {
            tries += 1;
            let bearer = app.bearer().await.map_err(connect_failed)?;
            let response = self
                .client
                .get(url.clone())
                .bearer_auth(bearer.token())
                .send()
                .await
                .map_err(|e| ListenError::Unavailable(format!("X: {}", describe(e))))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                app.forget_bearer();
                if tries < 2 {
                    continue;
                }
            }
            let headers = response.headers().clone();
            let body = read_capped(response, MOST_ANSWER_BYTES)
                .await
                .map_err(|e| ListenError::Unavailable(format!("X's answer: {}", describe(e))))?;
            if body.len() == MOST_ANSWER_BYTES {
                return Err(ListenError::Unavailable(format!(
                    "X's answer is over {MOST_ANSWER_BYTES} bytes; not read"
                )));
            }
            return Ok((status, headers, body));
        }
    }
}

/// A failure to get the bearer token.
fn connect_failed(error: ConnectError) -> ListenError {
    match error {
        ConnectError::Refused { .. } | ConnectError::Invalid(_) => {
            ListenError::Refused(error.to_string())
        }
        _ => ListenError::Unavailable(error.to_string()),
    }
}

/// What an answer that is not a success means.
fn refusal(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> ListenError {
    let words = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            ["/detail", "/title", "/errors/0/message"]
                .iter()
                .find_map(|pointer| Some(json.pointer(pointer)?.as_str()?.to_string()))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let code = status.as_u16();
    match code {
        429 => {
            // Not believed beyond a day (nor before now), as every wait X gives.
            let until = headers
                .get("x-rate-limit-reset")
                .and_then(|value| value.to_str().ok()?.trim().parse::<i64>().ok())
                .and_then(|reset| DateTime::from_timestamp(reset, 0))
                .map(|reset| reset.min(after(now, 86_400)))
                .filter(|until| *until > now)
                .unwrap_or_else(|| after(now, DEFAULT_PAUSE_SECONDS));
            ListenError::Paused {
                until,
                reason: format!("X rate limit or usage cap (429): {words}"),
            }
        }
        408 | 500..=599 => ListenError::Unavailable(format!("X failed ({code}): {words}")),
        _ => ListenError::Refused(format!("X refused ({code}): {words}")),
    }
}

fn unreadable(what: &str, error: serde_json::Error) -> ListenError {
    ListenError::Unavailable(format!("X answered {what} that cannot be read: {error}"))
}

impl Listener for XListener {
    async fn search(
        &self,
        source: Source,
        account: &str,
        request: &SearchRequest,
    ) -> Result<SearchPage, ListenError> {
        if source != Source::X {
            return Err(ListenError::Refused(format!("{source} has no search here")));
        }
        let mut query = vec![
            ("query", request.query.clone()),
            ("max_results", PAGE_SIZE.to_string()),
            ("tweet.fields", TWEET_FIELDS.to_string()),
            ("expansions", "author_id".to_string()),
            ("user.fields", USER_FIELDS.to_string()),
        ];
        if let Some(since_id) = &request.since_id {
            query.push(("since_id", since_id.clone()));
        }
        if let Some(next_token) = &request.next_token {
            query.push(("next_token", next_token.clone()));
        }
        if let Some(start) = request.start_time {
            query.push((
                "start_time",
                start.to_rfc3339_opts(SecondsFormat::Secs, true),
            ));
        }
        let (status, headers, body) = self.get("/2/tweets/search/recent", &query).await?;
        if !status.is_success() {
            return Err(refusal(status, &headers, &body, Utc::now()));
        }
        let answer: SearchAnswer =
            serde_json::from_slice(&body).map_err(|e| unreadable("a search page", e))?;
        let (posts, unreadable) = answer.posts();
        if unreadable > 0 {
            tracing::warn!(
                account,
                unreadable,
                "posts of a search page could not be read"
            );
        }
        let users = &answer.includes.users;
        // What addresses the brand is a mention, whoever finds it first; the rest was found.
        let found = |post: &socialcare_webhooks::x::v2::Post| {
            (!post.addresses(account)).then(|| FoundBy::Search {
                query: request.query.clone(),
            })
        };
        Ok(SearchPage {
            messages: posts
                .iter()
                .filter_map(|post| {
                    let mut message = post.normalize(account, users)?;
                    message.found_by = found(post);
                    Some(message)
                })
                .collect(),
            newest_id: answer.meta.newest_id,
            next_token: answer.meta.next_token,
            ..SearchPage::default()
        })
    }

    async fn fetch(
        &self,
        source: Source,
        account: &str,
        external_id: &str,
    ) -> Result<Fetched, ListenError> {
        if source != Source::X {
            return Err(ListenError::Refused(format!(
                "{source} messages are not fetched here"
            )));
        }
        if !is_platform_id(external_id) {
            return Ok(Fetched::Gone(format!("{external_id:?} is not a post id")));
        }
        let query = [
            ("tweet.fields", TWEET_FIELDS.to_string()),
            ("expansions", "author_id".to_string()),
            ("user.fields", USER_FIELDS.to_string()),
        ];
        let path = format!("/2/tweets/{external_id}");
        let (status, headers, body) = self.get(&path, &query).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Fetched::Gone("X has no such post (404)".into()));
        }
        if !status.is_success() {
            return Err(refusal(status, &headers, &body, Utc::now()));
        }
        let answer: LookupAnswer =
            serde_json::from_slice(&body).map_err(|e| unreadable("a post", e))?;
        // A deleted, protected or suspended post is a 200 with a problem instead of data.
        let Some(post) = answer.data.filter(|post| post.id == external_id) else {
            let why = answer
                .errors
                .first()
                .map(|problem| problem.words())
                .unwrap_or_else(|| "X answered without the post".into());
            return Ok(Fetched::Gone(why));
        };
        match post.normalize(account, &answer.includes.users) {
            Some(message) => Ok(Fetched::Found(Box::new(message))),
            None => Ok(Fetched::Gone(
                "the post is a retweet, or X left out its author or time".into(),
            )),
        }
    }
}
