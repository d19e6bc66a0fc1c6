//! Posting replies to the platforms: the X API v2, the Graph API (Facebook pages and Instagram
//! accounts), and integrators' signed callbacks. [`HttpPlatform`] implements the domain's
//! [`Platform`] port. [`connect`] holds the clients that connect a brand's account (X OAuth
//! 1.0a and Account Activity, Facebook Login and page subscriptions); [`XListener`] reads X
//! (search, a post by its id).

mod callback;
pub mod connect;
pub mod credentials;
pub mod hashtags;
mod listen;
pub mod mail;
mod meta;
mod notify;
pub mod outbound;
mod roots;
pub mod tokens;
mod x;

pub use connect::{ConnectError, MetaConnect, XConnect};
pub use credentials::{
    ConfigError, Credentials, MetaCredentials, MetaPage, XAccount, XCredentials,
};
pub use listen::XListener;
pub use notify::HttpNotifier;
pub use outbound::OutboundGuard;

use chrono::{DateTime, Utc};
use socialcare_domain::message::{Message, Source};
use socialcare_domain::replies::{Platform, PostError, Target};
use std::sync::Arc;
use std::time::Duration;

/// How long one call to a platform may take, connecting and reading the answer included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an answer that is read: the platforms' answers are a few hundred bytes, and an
/// integrator's endpoint could answer without end.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where the platforms' APIs are: configurable so tests and local runs can point them at a
/// fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The X API, without a trailing slash.
    pub x_api: String,
    /// The Graph API, without a trailing slash or version.
    pub meta_graph: String,
    /// The Graph API version every call names, e.g. `v21.0`.
    pub meta_version: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            x_api: "https://api.x.com".into(),
            meta_graph: "https://graph.facebook.com".into(),
            meta_version: "v21.0".into(),
        }
    }
}

impl Endpoints {
    /// The defaults, overridden by `X_API_BASE_URL`, `META_GRAPH_BASE_URL` and
    /// `META_GRAPH_VERSION` when they are set and not empty.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        Self {
            x_api: var("X_API_BASE_URL").unwrap_or(defaults.x_api),
            meta_graph: var("META_GRAPH_BASE_URL").unwrap_or(defaults.meta_graph),
            meta_version: var("META_GRAPH_VERSION").unwrap_or(defaults.meta_version),
        }
    }
}

/// The secrets that sign what is sent to an integration, by its source (current first); the
/// wiring looks them up in the store, so that a rotation is seen without a restart.
pub type SigningSecrets =
    Arc<dyn Fn(String) -> futures::future::BoxFuture<'static, Vec<Vec<u8>>> + Send + Sync>;

/// Always the same secret: a deployment without registered integrations.
pub fn fixed_secret(secret: Vec<u8>) -> SigningSecrets {
    Arc::new(move |_source| {
        let secret = secret.clone();
        Box::pin(async move { vec![secret] })
    })
}

/// Posts replies over HTTPS with the brands' credentials.
pub struct HttpPlatform {
    /// For the platforms' APIs, at the configured endpoints.
    client: reqwest::Client,
    /// For integrators' callback URLs, which are theirs to choose: through the outbound guard.
    callbacks: reqwest::Client,
    guard: OutboundGuard,
    credentials: Credentials,
    /// The accounts' connected tokens (before the credentials file's).
    account_tokens: Option<tokens::TokenLookup>,
    /// Told what each call with an account's token showed.
    token_events: Option<tokens::TokenEvents>,
    integration_secrets: SigningSecrets,
    /// Sends e-mail replies (none: they are refused).
    mail: Option<mail::SendMail>,
    endpoints: Endpoints,
    timeout: Duration,
}

impl std::fmt::Debug for HttpPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPlatform")
            .field("credentials", &self.credentials)
            .field("integration_secrets", &"<redacted>")
            .field("endpoints", &self.endpoints)
            .field("guard", &self.guard)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpPlatform {
    /// `integration_secret` signs the callbacks to integrators, whose URLs pass `guard`;
    /// `timeout` bounds each call.
    pub fn new(
        credentials: Credentials,
        integration_secret: Vec<u8>,
        endpoints: Endpoints,
        guard: OutboundGuard,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let client = client_builder(timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        let callbacks = guard
            .client(timeout)
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        let trim = |url: String| url.trim_end_matches('/').to_string();
        let endpoints = Endpoints {
            x_api: trim(endpoints.x_api),
            meta_graph: trim(endpoints.meta_graph),
            meta_version: endpoints.meta_version.trim_matches('/').to_string(),
        };
        Ok(Self {
            client,
            callbacks,
            guard,
            credentials,
            account_tokens: None,
            token_events: None,
            integration_secrets: fixed_secret(integration_secret),
            mail: None,
            endpoints,
            timeout,
        })
    }
}

impl HttpPlatform {
    /// The same, signing each integration's callbacks with the secrets `lookup` gives for its
    /// source (instead of the one configured secret).
    pub fn with_integration_secrets(self, lookup: SigningSecrets) -> Self {
        Self {
            integration_secrets: lookup,
            ..self
        }
    }

    /// The same, sending e-mail replies through `send`.
    pub fn with_mail(self, send: mail::SendMail) -> Self {
        Self {
            mail: Some(send),
            ..self
        }
    }

    /// The same, posting with the accounts' connected tokens that `lookup` finds (the
    /// credentials file's tokens are used for the accounts it has none of), and telling
    /// `events` what each call showed.
    pub fn with_account_tokens(
        self,
        lookup: tokens::TokenLookup,
        events: tokens::TokenEvents,
    ) -> Self {
        Self {
            account_tokens: Some(lookup),
            token_events: Some(events),
            ..self
        }
    }

    /// The account's connected token; a lookup that failed just now is worth a retry.
    async fn account_token(
        &self,
        source: Source,
        account: &str,
    ) -> Result<Option<tokens::AccountToken>, PostError> {
        let Some(lookup) = self.account_tokens.as_ref() else {
            return Ok(None);
        };
        lookup(source, account.to_string()).await.map_err(|e| {
            PostError::Transient(format!("the account's token could not be read: {e}"))
        })
    }

    /// Tells the token events what an answer showed of the account's token.
    async fn showed(&self, event: tokens::TokenEvent) {
        if let Some(events) = &self.token_events {
            events(event).await;
        }
    }
}

impl Platform for HttpPlatform {
    async fn post(&self, reply: &Message) -> Result<String, PostError> {
        let Some(delivery) = &reply.delivery else {
            return Err(PostError::Permanent("not a reply".into()));
        };
        let target = &delivery.target;
        let source = reply.body.source;
        let account = &reply.body.account;
        let message_id = reply.id.as_str();
        let kind = target_kind(target);
        tracing::debug!(%source, account, message_id, kind, "posting a reply");
        let result = match (source, target) {
            // Wherever the ticket began: the customer wrote last by e-mail.
            (_, Target::Email { .. }) => mail::post(self, reply, target).await,
            (Source::X, Target::Public { .. } | Target::Direct { .. }) => {
                x::post(self, reply, target).await
            }
            (Source::Facebook | Source::Instagram, Target::Callback { .. }) => {
                Err(PostError::Permanent(format!(
                    "{source} has no callbacks; a reply goes to the post, comment or conversation"
                )))
            }
            (Source::Facebook | Source::Instagram, _) => meta::post(self, reply, target).await,
            (Source::Integration, Target::Callback { url }) => {
                callback::post(self, reply, url).await
            }
            (Source::X, Target::PrivateReply { .. }) => Err(PostError::Permanent(
                "X has no private replies to comments; send a direct message instead".into(),
            )),
            (Source::X, Target::Callback { .. }) => Err(PostError::Permanent(
                "X has no callbacks; a reply goes to a tweet or a direct message".into(),
            )),
            (Source::Integration, _) => Err(PostError::Permanent(format!(
                "an integration's reply goes to its callback URL, not to a {kind} target"
            ))),
            (Source::Email, _) => Err(PostError::Permanent(format!(
                "an e-mail reply goes to an address, not to a {kind} target"
            ))),
        };
        if let Err(error) = &result {
            tracing::warn!(%source, account, message_id, kind, %error, "the reply was not posted");
        }
        result
    }
    async fn publish(
        &self,
        source: Source,
        account: &str,
        text: &str,
    ) -> Result<String, PostError> {
        let result = self.publish_on(source, account, text).await;
        match &result {
            Ok(id) => tracing::info!(%source, account, post_id = %id, "status posted"),
            Err(error) => tracing::warn!(%source, account, %error, "the status was not posted"),
        }
        result
    }
}

impl HttpPlatform {
    async fn publish_on(
        &self,
        source: Source,
        account: &str,
        text: &str,
    ) -> Result<String, PostError> {
        match source {
            Source::X => x::publish(self, account, text).await,
            Source::Facebook => meta::publish(self, source, account, text).await,
            Source::Instagram => Err(PostError::Permanent(
                "Instagram posts need an image; post the status from Instagram itself".into(),
            )),
            Source::Integration => Err(PostError::Permanent(
                "an integration has no public channel to post a status on".into(),
            )),
            Source::Email => Err(PostError::Permanent(
                "e-mail has no public channel to post a status on".into(),
            )),
        }
    }
}

fn target_kind(target: &Target) -> &'static str {
    match target {
        Target::Public { .. } => "public",
        Target::Direct { .. } => "direct",
        Target::PrivateReply { .. } => "private_reply",
        Target::Callback { .. } => "callback",
        Target::Email { .. } => "email",
    }
}

/// How every client here starts: `timeout` for a whole call; a connection that cannot be made
/// in half of it fails as a connect error (nothing was sent, so it is safe to try again); no
/// redirect (a redirected POST turns into a GET and loses the reply; none of these APIs
/// redirects, so one is reported instead); the roots of [`roots`].
fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout / 2)
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(roots::roots())
        .user_agent(concat!("socialcare/", env!("CARGO_PKG_VERSION")))
}

/// What an answer was: its status, headers and body (empty if it could not be read).
struct Answer {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Up to 200 characters of the body, for error messages.
    fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect()
    }
}

/// Sends the request and reads the whole answer. A failure before anything was sent is
/// `Transient` (or `Permanent` for a request that cannot be built); one after is `Unknown`,
/// since the platform may have posted.
async fn send(
    platform: &HttpPlatform,
    name: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, PostError> {
    send_within(platform.timeout, name, request).await
}

/// [`send`] for a client built with `timeout` (the notifier has no [`HttpPlatform`]).
async fn send_within(
    timeout: Duration,
    name: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, PostError> {
    let response = request.send().await.map_err(|e| {
        if let Some(refused) = refusal(&e) {
            // The guard refused every address the name has: trying again will not help.
            PostError::Permanent(format!("{name} was not called: its host {refused}"))
        } else if e.is_builder() {
            PostError::Permanent(format!(
                "could not make the request to {name}: {}",
                describe(e)
            ))
        } else if e.is_connect() {
            PostError::Transient(format!("could not reach {name}: {}", describe(e)))
        } else if e.is_timeout() {
            PostError::Unknown(format!("{name} did not answer within {timeout:?}"))
        } else {
            PostError::Unknown(format!("{name} did not answer: {}", describe(e)))
        }
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = match read_capped(response, MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        // It was posted, or not, as the status says; its id is lost with the body.
        Err(e) if status.is_success() => {
            return Err(PostError::Unknown(format!(
                "{name} answered {status} but the answer could not be read: {}",
                describe(e)
            )));
        }
        Err(_) => Vec::new(),
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Reads the answer's body up to `cap` bytes and stops there: what follows is not read at all
/// (the connection is dropped with the response).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == cap {
            break;
        }
    }
    Ok(body)
}

/// The outbound guard's refusal, when that is why the request failed.
fn refusal(error: &reqwest::Error) -> Option<&outbound::Refused> {
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        if let Some(refused) = inner.downcast_ref::<outbound::Refused>() {
            return Some(refused);
        }
        cause = inner.source();
    }
    None
}

/// The error and its causes, without the URL (Graph API URLs carry the access token).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// An id that goes into a URL path: platform ids are letters, digits, `_` and `-`, and
/// anything else could change which endpoint is called.
fn path_id<'a>(what: &str, id: &'a str) -> Result<&'a str, PostError> {
    match is_platform_id(id) {
        true => Ok(id),
        false => Err(PostError::Permanent(format!(
            "{what} {id:?} is not a valid id"
        ))),
    }
}

/// Whether `id` has the shape of a platform id: letters, digits, `_` and `-`, not empty.
fn is_platform_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `now + seconds`; a wait beyond a day (or before now) is not believed.
fn after(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    now + chrono::Duration::seconds(seconds.clamp(0, 86_400))
}

/// `Retry-After` as seconds or as an HTTP date; a minute when absent or unreadable.
fn retry_after(answer: &Answer, now: DateTime<Utc>) -> DateTime<Utc> {
    const DEFAULT_WAIT_SECONDS: i64 = 60;
    let Some(value) = answer
        .headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
    else {
        return after(now, DEFAULT_WAIT_SECONDS);
    };
    if let Ok(seconds) = value.parse::<i64>() {
        return after(now, seconds);
    }
    match DateTime::parse_from_rfc2822(value) {
        Ok(at) => after(now, (at.with_timezone(&Utc) - now).num_seconds()),
        Err(_) => after(now, DEFAULT_WAIT_SECONDS),
    }
}
