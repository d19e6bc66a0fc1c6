//! A stateful fake of X for connecting an account: the OAuth 1.0a three-legged flow, the
//! app's bearer token, `GET /2/users/me`, the Account Activity webhook (with a real CRC
//! check of the registered URL) and subscriptions; and for reading it as the app: recent
//! search (`GET /2/tweets/search/recent`: the posts whose text has every word of the query
//! that is not an operator, newer than `since_id`, newest first, paged) and post lookup
//! (`GET /2/tweets/:id`, with X's problem for a post it does not have).
//!
//! It checks every OAuth 1.0a signature itself ([`crate::oauth1`], RFC 5849 §3.4), the
//! timestamp (within 5 minutes) and the nonce (never twice), and answers X's error bodies.
//! Where X's documentation gives no words for an error the fake's own are used, marked so
//! below.

use crate::fake_server::{Refusal, Refused, Server, form_pairs, pair, query_pairs, random};
use crate::oauth1;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The consumer key the fake knows unless told another.
pub const FAKE_X_CONSUMER_KEY: &str = "fake-x-consumer-key";
/// Its consumer secret.
pub const FAKE_X_CONSUMER_SECRET: &str = "fake-x-consumer-secret-kAcSOqF21Fu85e7zjz7ZN2U4ZRhf";

/// How far an `oauth_timestamp` may be from the fake's clock.
const TIMESTAMP_WINDOW_SECONDS: i64 = 5 * 60;
/// How long X waits for the answer to a CRC.
const CRC_TIMEOUT: Duration = Duration::from_secs(3);

const COULD_NOT_AUTHENTICATE: &str = "Could not authenticate you.";
const INVALID_TOKEN: &str = "Invalid or expired token.";
const CRC_INVALID: &str =
    "Webhook URL does not meet the requirements. Invalid CRC token or json response format.";
const CRC_NON_200: &str = "Non-200 response code during CRC GET request (i.e. 404, 500, etc).";

/// The X user who clicks "Authorize app" on the fake's authorize page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAccountHolder {
    pub user_id: String,
    pub screen_name: String,
    pub name: String,
}

impl Default for XAccountHolder {
    /// The fixtures' brand account.
    fn default() -> Self {
        Self {
            user_id: "1100000000000000001".into(),
            screen_name: "acme_care".into(),
            name: "Acme Care".into(),
        }
    }
}

/// An access token the fake issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeXToken {
    pub token: String,
    pub secret: String,
    pub user_id: String,
    pub screen_name: String,
}

/// A webhook registered with the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeWebhook {
    pub id: String,
    pub url: String,
    pub valid: bool,
}

/// A CRC check the fake made: `GET url?crc_token=…`, what it expected and what it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrcCheck {
    pub url: String,
    pub crc_token: String,
    pub expected: String,
    /// The status and body answered, or why there was no answer.
    pub answer: String,
    pub passed: bool,
}

struct PendingToken {
    secret: String,
    callback: String,
    verifier: Option<String>,
    holder: Option<XAccountHolder>,
}

struct IssuedToken {
    token: FakeXToken,
    name: String,
}

struct XState {
    holder: XAccountHolder,
    deny: bool,
    approved_callbacks: Option<Vec<String>>,
    pending: HashMap<String, PendingToken>,
    issued: Vec<IssuedToken>,
    bearer: String,
    webhooks: Vec<(FakeWebhook, String)>,
    next_webhook: u64,
    max_webhooks: usize,
    subscriptions: BTreeMap<String, BTreeSet<String>>,
    nonces: HashSet<(String, String)>,
    refused: HashSet<String>,
    refusals: Vec<Refusal>,
    crc_checks: Vec<CrcCheck>,
    tweets: Vec<(String, Value)>,
    /// Posts to read back, as v2 gives them, with their authors.
    posts: Vec<(Value, Value)>,
    /// The queries of each search asked, in order.
    searches: Vec<Vec<(String, String)>>,
    /// The ids asked for by post lookup, in order.
    lookups: Vec<String>,
    /// Searches answer 429 until this (Unix seconds) once set.
    search_limited_until: Option<i64>,
}

struct Shared {
    consumer_key: String,
    consumer_secret: String,
    state: Mutex<XState>,
    http: reqwest::Client,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, XState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake X, served until dropped.
pub struct FakeX {
    shared: Arc<Shared>,
    server: Server,
}

impl FakeX {
    /// A fake X that knows the app [`FAKE_X_CONSUMER_KEY`] / [`FAKE_X_CONSUMER_SECRET`].
    pub async fn start() -> Self {
        Self::start_with(FAKE_X_CONSUMER_KEY, FAKE_X_CONSUMER_SECRET).await
    }

    /// A fake X that knows the app `consumer_key` / `consumer_secret`.
    pub async fn start_with(consumer_key: &str, consumer_secret: &str) -> Self {
        let shared = Arc::new(Shared {
            consumer_key: consumer_key.into(),
            consumer_secret: consumer_secret.into(),
            state: Mutex::new(XState {
                holder: XAccountHolder::default(),
                deny: false,
                approved_callbacks: None,
                tweets: Vec::new(),
                posts: Vec::new(),
                searches: Vec::new(),
                lookups: Vec::new(),
                search_limited_until: None,
                pending: HashMap::new(),
                issued: Vec::new(),
                bearer: bearer_token(),
                webhooks: Vec::new(),
                next_webhook: 1_900_000_000_000_000_001,
                max_webhooks: 1,
                subscriptions: BTreeMap::new(),
                nonces: HashSet::new(),
                refused: HashSet::new(),
                refusals: Vec::new(),
                crc_checks: Vec::new(),
            }),
            http: reqwest::Client::builder()
                .timeout(CRC_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the CRC client"),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = Server::start(router);
        Self { shared, server }
    }

    /// The base of its API (and of its authorize page): `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn consumer_key(&self) -> &str {
        &self.shared.consumer_key
    }

    pub fn consumer_secret(&self) -> &str {
        &self.shared.consumer_secret
    }

    /// The user who authorizes the next request tokens on the authorize page.
    pub fn authorize_as(&self, holder: XAccountHolder) {
        self.shared.state().holder = holder;
    }

    /// Whether the user clicks "Cancel" instead (X then returns `?denied=<token>`).
    pub fn deny_authorization(&self, deny: bool) {
        self.shared.state().deny = deny;
    }

    /// Only these callback URLs are accepted by `POST /oauth/request_token` (by default any).
    pub fn approve_callbacks(&self, callbacks: &[&str]) {
        self.shared.state().approved_callbacks =
            Some(callbacks.iter().map(|c| c.to_string()).collect());
    }

    /// How many webhooks the app may have (1 unless told).
    pub fn set_max_webhooks(&self, max: usize) {
        self.shared.state().max_webhooks = max;
    }

    /// From now on X refuses this access token or bearer token (401, "Invalid or expired
    /// token."), as when the brand revokes the app. A refused bearer token is replaced by a
    /// new one at the next `POST /oauth2/token`.
    pub fn refuse_token(&self, token: &str) {
        self.shared.state().refused.insert(token.to_string());
    }

    /// Marks the webhook invalid, as when an hourly CRC fails.
    pub fn invalidate_webhook(&self, id: &str) {
        for (webhook, _) in self.shared.state().webhooks.iter_mut() {
            if webhook.id == id {
                webhook.valid = false;
            }
        }
    }

    /// A post X has from now on, found by search and lookup: `post` as v2 gives it (`id`,
    /// `text`, `created_at`, `author_id`, ...), `author` as a v2 user.
    pub fn add_post(&self, post: Value, author: Value) {
        self.shared.state().posts.push((post, author));
    }

    /// The query parameters of each search asked, in order.
    pub fn searches(&self) -> Vec<Vec<(String, String)>> {
        self.shared.state().searches.clone()
    }

    /// The post ids asked for by lookup, in order.
    pub fn lookups(&self) -> Vec<String> {
        self.shared.state().lookups.clone()
    }

    /// Searches answer 429 (`x-rate-limit-reset: until`) from now on; `None` lifts it.
    pub fn limit_searches_until(&self, until: Option<i64>) {
        self.shared.state().search_limited_until = until;
    }

    /// The app's current bearer token.
    pub fn bearer_token(&self) -> String {
        self.shared.state().bearer.clone()
    }

    /// The access tokens issued, in order.
    pub fn access_tokens(&self) -> Vec<FakeXToken> {
        self.shared
            .state()
            .issued
            .iter()
            .map(|issued| issued.token.clone())
            .collect()
    }

    /// The webhooks registered, in order.
    pub fn webhooks(&self) -> Vec<FakeWebhook> {
        self.shared
            .state()
            .webhooks
            .iter()
            .map(|(webhook, _)| webhook.clone())
            .collect()
    }

    /// The user ids subscribed to the webhook, sorted.
    pub fn subscribed_user_ids(&self, webhook_id: &str) -> Vec<String> {
        self.shared
            .state()
            .subscriptions
            .get(webhook_id)
            .map(|users| users.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The CRC checks made, in order.
    pub fn crc_checks(&self) -> Vec<CrcCheck> {
        self.shared.state().crc_checks.clone()
    }

    /// The requests refused, in order, and why.
    /// The tweets posted, by the user id of the token each was signed with, oldest first.
    pub fn tweets(&self) -> Vec<(String, Value)> {
        self.shared.state().tweets.clone()
    }

    pub fn refusals(&self) -> Vec<Refusal> {
        self.shared.state().refusals.clone()
    }
}

/// What the fake was asked.
struct Asked {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Asked {
    fn path(&self) -> &str {
        self.uri.path()
    }

    fn authorization(&self) -> Option<&str> {
        self.headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
    }
}

fn refused(status: StatusCode, body: Value, reason: impl Into<String>) -> Refused {
    Refused::json(status, body, reason)
}

/// X's v1.1-style error list, which its OAuth endpoints and signature checks answer.
fn errors(code: i64, message: &str) -> Value {
    json!({ "errors": [{ "code": code, "message": message }] })
}

/// X's v2 problem.
fn problem(status: StatusCode, title: &str, detail: &str, kind: &str) -> Value {
    json!({ "title": title, "detail": detail, "type": kind, "status": status.as_u16() })
}

fn unauthorized_problem() -> Value {
    json!({ "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized" })
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let asked = Asked {
        method,
        uri,
        headers,
        body,
    };
    match route(&shared, &asked).await {
        Ok(response) => response,
        Err(refusal) => refusal.record(
            asked.method.as_str(),
            asked.path(),
            &mut shared.state().refusals,
        ),
    }
}

async fn route(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let path = asked.path().trim_start_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').collect();
    match (asked.method.as_str(), segments.as_slice()) {
        ("POST", ["oauth", "request_token"]) => request_token(shared, asked),
        ("GET", ["oauth", "authorize" | "authenticate"]) => authorize(shared, asked),
        ("POST", ["oauth", "access_token"]) => access_token(shared, asked),
        ("POST", ["oauth2", "token"]) => app_bearer(shared, asked),
        ("GET", ["2", "users", "me"]) => users_me(shared, asked),
        ("GET", ["2", "tweets", "search", "recent"]) => search_recent(shared, asked),
        ("GET", ["2", "tweets", id]) => lookup_post(shared, asked, id),
        ("POST", ["2", "tweets"]) => post_tweet(shared, asked),
        ("GET", ["2", "webhooks"]) => list_webhooks(shared, asked),
        ("POST", ["2", "webhooks"]) => register_webhook(shared, asked).await,
        ("PUT", ["2", "webhooks", id]) => revalidate_webhook(shared, asked, id).await,
        ("DELETE", ["2", "webhooks", id]) => delete_webhook(shared, asked, id),
        (
            "POST" | "GET",
            [
                "2",
                "account_activity",
                "webhooks",
                id,
                "subscriptions",
                "all",
            ],
        ) => subscription(shared, asked, id),
        (
            "GET",
            [
                "2",
                "account_activity",
                "webhooks",
                id,
                "subscriptions",
                "all",
                "list",
            ],
        ) => list_subscriptions(shared, asked, id),
        (
            "DELETE",
            [
                "2",
                "account_activity",
                "webhooks",
                id,
                "subscriptions",
                user,
                "all",
            ],
        ) => unsubscribe(shared, asked, id, user),
        _ => Err(refused(
            StatusCode::NOT_FOUND,
            errors(34, "Sorry, that page does not exist"),
            "no such endpoint",
        )),
    }
}

/// Which token an OAuth 1.0a request must be signed with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// The consumer credentials alone (`POST /oauth/request_token`).
    None,
    /// A request token (`POST /oauth/access_token`).
    Request,
    /// An access token (user context).
    Access,
}

/// A request whose OAuth 1.0a signature checked out: its token and every parameter.
struct Signed {
    token: Option<String>,
    parameters: Vec<(String, String)>,
}

impl Signed {
    fn get(&self, name: &str) -> Option<&str> {
        pair(&self.parameters, name)
    }
}

/// RFC 5849 §3.2, as X does it: the consumer key, the signature method, the timestamp, the
/// nonce, the token and the HMAC-SHA1 signature of the base string.
fn check_oauth(shared: &Shared, asked: &Asked, kind: TokenKind) -> Result<Signed, Refused> {
    let bad_data = |reason: &str| {
        refused(
            StatusCode::BAD_REQUEST,
            errors(215, "Bad Authentication data."),
            reason,
        )
    };
    let not_you = |reason: String| {
        refused(
            StatusCode::UNAUTHORIZED,
            errors(32, COULD_NOT_AUTHENTICATE),
            reason,
        )
    };
    let Some(authorization) = asked.authorization() else {
        return Err(bad_data("no Authorization header"));
    };
    if authorization
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("bearer ")
    {
        return Err(refused(
            StatusCode::FORBIDDEN,
            problem(
                StatusCode::FORBIDDEN,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                "https://api.twitter.com/2/problems/unsupported-authentication",
            ),
            "an app-only bearer token on a user-context endpoint",
        ));
    }
    let Some(header_parameters) = oauth1::authorization_parameters(authorization) else {
        return Err(bad_data("the Authorization header is not OAuth"));
    };
    let mut parameters = query_pairs(&asked.uri);
    parameters.extend(form_pairs(&asked.headers, &asked.body));
    parameters.extend(header_parameters);
    let field = |name: &str| pair(&parameters, name).map(str::to_string);
    let (Some(consumer_key), Some(method), Some(timestamp), Some(nonce), Some(signature)) = (
        field("oauth_consumer_key"),
        field("oauth_signature_method"),
        field("oauth_timestamp"),
        field("oauth_nonce"),
        field("oauth_signature"),
    ) else {
        return Err(bad_data("an oauth_* parameter is missing"));
    };
    if consumer_key != shared.consumer_key {
        return Err(not_you(format!("unknown consumer key {consumer_key:?}")));
    }
    if method != "HMAC-SHA1" {
        return Err(not_you(format!("signature method {method:?}")));
    }
    if field("oauth_version").is_some_and(|version| version != "1.0") {
        return Err(not_you("oauth_version is not 1.0".into()));
    }
    let now = chrono::Utc::now().timestamp();
    let in_window = timestamp
        .parse::<i64>()
        .is_ok_and(|at| (now - at).abs() <= TIMESTAMP_WINDOW_SECONDS);
    if !in_window {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            errors(135, "Timestamp out of bounds."),
            format!("timestamp {timestamp} is not within 5 minutes of {now}"),
        ));
    }
    let mut state = shared.state();
    if state.nonces.contains(&(nonce.clone(), timestamp.clone())) {
        return Err(not_you(format!(
            "nonce {nonce:?} was used before at {timestamp}"
        )));
    }
    let token = field("oauth_token");
    let token_secret = match (kind, &token) {
        (TokenKind::None, _) => String::new(),
        (_, None) => return Err(bad_data("no oauth_token")),
        (TokenKind::Request, Some(token)) => match state.pending.get(token) {
            Some(pending) => pending.secret.clone(),
            None => {
                return Err(refused(
                    StatusCode::UNAUTHORIZED,
                    errors(89, INVALID_TOKEN),
                    "unknown or already used request token",
                ));
            }
        },
        (TokenKind::Access, Some(token)) => {
            if state.refused.contains(token) {
                return Err(refused(
                    StatusCode::UNAUTHORIZED,
                    errors(89, INVALID_TOKEN),
                    "the access token is refused",
                ));
            }
            match state
                .issued
                .iter()
                .find(|issued| &issued.token.token == token)
            {
                Some(issued) => issued.token.secret.clone(),
                None => {
                    return Err(refused(
                        StatusCode::UNAUTHORIZED,
                        errors(89, INVALID_TOKEN),
                        "unknown access token",
                    ));
                }
            }
        }
    };
    let host = asked
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let base_uri = oauth1::base_uri("http", host, asked.path());
    let base_string = oauth1::signature_base_string(asked.method.as_str(), &base_uri, &parameters);
    if !oauth1::verify(
        &shared.consumer_secret,
        &token_secret,
        &base_string,
        &signature,
    ) {
        return Err(not_you(format!(
            "the signature does not match the base string {base_string}"
        )));
    }
    state.nonces.insert((nonce, timestamp));
    Ok(Signed { token, parameters })
}

fn form_answer(pairs: &[(&str, &str)]) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn request_token(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let signed = check_oauth(shared, asked, TokenKind::None)?;
    let Some(callback) = signed.get("oauth_callback").map(str::to_string) else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            errors(
                417,
                "Desktop applications only support the oauth_callback value 'oob'",
            ),
            "no oauth_callback",
        ));
    };
    let mut state = shared.state();
    let approved = state
        .approved_callbacks
        .as_ref()
        .is_none_or(|approved| approved.contains(&callback));
    if !approved {
        return Err(refused(
            StatusCode::FORBIDDEN,
            errors(
                415,
                "Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings",
            ),
            format!("callback {callback} is not approved"),
        ));
    }
    let token = random(27);
    let secret = random(32);
    state.pending.insert(
        token.clone(),
        PendingToken {
            secret: secret.clone(),
            callback,
            verifier: None,
            holder: None,
        },
    );
    Ok(form_answer(&[
        ("oauth_token", &token),
        ("oauth_token_secret", &secret),
        ("oauth_callback_confirmed", "true"),
    ]))
}

/// The page the brand's user sees: here they click "Authorize app" at once, and are sent back
/// to the callback.
fn authorize(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let query = query_pairs(&asked.uri);
    let token = pair(&query, "oauth_token").unwrap_or_default().to_string();
    let mut state = shared.state();
    let holder = state.holder.clone();
    let deny = state.deny;
    let Some(pending) = state
        .pending
        .get_mut(&token)
        .filter(|pending| pending.verifier.is_none())
    else {
        // The fake's words: X shows an HTML page here.
        return Err(Refused::html(
            StatusCode::FORBIDDEN,
            "This page is no longer valid. It looks like someone already used the token information you provided.",
            format!("no request token {token:?} waiting for authorization"),
        ));
    };
    let back = match deny {
        true => with_query(&pending.callback, &[("denied", &token)]),
        false => {
            let verifier = random(32);
            pending.verifier = Some(verifier.clone());
            pending.holder = Some(holder);
            with_query(
                &pending.callback,
                &[("oauth_token", &token), ("oauth_verifier", &verifier)],
            )
        }
    };
    Ok((StatusCode::FOUND, [(header::LOCATION, back)]).into_response())
}

/// `url` with `pairs` added to its query.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let added = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let separator = match url.contains('?') {
        true => '&',
        false => '?',
    };
    format!("{url}{separator}{added}")
}

fn access_token(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let signed = check_oauth(shared, asked, TokenKind::Request)?;
    let token = signed.token.clone().unwrap_or_default();
    let verifier = signed.get("oauth_verifier").unwrap_or_default().to_string();
    let mut state = shared.state();
    let authorized = state.pending.get(&token).and_then(|pending| {
        (pending.verifier.as_deref() == Some(verifier.as_str()))
            .then(|| pending.holder.clone())
            .flatten()
    });
    let Some(holder) = authorized else {
        return Err(Refused::text(
            StatusCode::UNAUTHORIZED,
            "Error processing your OAuth request: Invalid oauth_verifier parameter",
            format!("verifier {verifier:?} is not the one given for {token:?}"),
        ));
    };
    state.pending.remove(&token);
    let issued = FakeXToken {
        token: format!("{}-{}", holder.user_id, random(40)),
        secret: random(45),
        user_id: holder.user_id.clone(),
        screen_name: holder.screen_name.clone(),
    };
    state.issued.push(IssuedToken {
        token: issued.clone(),
        name: holder.name,
    });
    Ok(form_answer(&[
        ("oauth_token", &issued.token),
        ("oauth_token_secret", &issued.secret),
        ("user_id", &issued.user_id),
        ("screen_name", &issued.screen_name),
    ]))
}

fn users_me(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let signed = check_oauth(shared, asked, TokenKind::Access)?;
    let token = signed.token.unwrap_or_default();
    let state = shared.state();
    let Some(issued) = state
        .issued
        .iter()
        .find(|issued| issued.token.token == token)
    else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            errors(89, INVALID_TOKEN),
            "unknown access token",
        ));
    };
    Ok(axum::Json(json!({
        "data": {
            "id": issued.token.user_id,
            "name": issued.name,
            "username": issued.token.screen_name,
        }
    }))
    .into_response())
}

/// `POST /2/tweets` as a user (OAuth 1.0a user context): the tweet is recorded.
fn post_tweet(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let signed = check_oauth(shared, asked, TokenKind::Access)?;
    let token = signed.token.unwrap_or_default();
    let mut state = shared.state();
    let Some(user_id) = state
        .issued
        .iter()
        .find(|issued| issued.token.token == token)
        .map(|issued| issued.token.user_id.clone())
    else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            errors(89, INVALID_TOKEN),
            "unknown access token",
        ));
    };
    let body: Value = serde_json::from_slice(&asked.body).unwrap_or(Value::Null);
    state.tweets.push((user_id, body.clone()));
    let id = format!("1999000000000000{:03}", state.tweets.len());
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "data": { "id": id, "text": body["text"] } })),
    )
        .into_response())
}

/// `POST /oauth2/token`: `Authorization: Basic base64(key:secret)` (each form-encoded) and
/// `grant_type=client_credentials`.
fn app_bearer(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let unable = |reason: &str| {
        refused(
            StatusCode::FORBIDDEN,
            json!({ "errors": [{ "code": 99, "label": "authenticity_token_error", "message": "Unable to verify your credentials" }] }),
            reason,
        )
    };
    let credentials = asked
        .authorization()
        .and_then(|value| value.trim().strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let Some(credentials) = credentials else {
        return Err(unable("no Basic credentials"));
    };
    let decode = |text: &str| -> String {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let matches = credentials.split_once(':').is_some_and(|(key, secret)| {
        decode(key) == shared.consumer_key && decode(secret) == shared.consumer_secret
    });
    if !matches {
        return Err(unable("the consumer key and secret are not the app's"));
    }
    let form = form_pairs(&asked.headers, &asked.body);
    if pair(&form, "grant_type") != Some("client_credentials") {
        return Err(refused(
            StatusCode::FORBIDDEN,
            json!({ "errors": [{ "code": 170, "label": "forbidden_missing_parameter", "message": "Missing required parameter: grant_type" }] }),
            "grant_type is not client_credentials",
        ));
    }
    let mut state = shared.state();
    if state.refused.contains(&state.bearer) {
        state.bearer = bearer_token();
    }
    Ok(axum::Json(json!({ "token_type": "bearer", "access_token": state.bearer })).into_response())
}

fn bearer_token() -> String {
    format!("AAAAAAAAAAAAAAAAAAAAA{}%3D{}", random(30), random(20))
}

/// The app-only bearer token the webhook endpoints require.
fn check_bearer(shared: &Shared, asked: &Asked) -> Result<(), Refused> {
    let Some(authorization) = asked.authorization() else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            unauthorized_problem(),
            "no Authorization header",
        ));
    };
    if authorization.trim_start().starts_with("OAuth ") {
        return Err(refused(
            StatusCode::FORBIDDEN,
            problem(
                StatusCode::FORBIDDEN,
                "Unsupported Authentication",
                "Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].",
                "https://api.twitter.com/2/problems/unsupported-authentication",
            ),
            "user context on an app-only endpoint",
        ));
    }
    let given = authorization
        .trim()
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let state = shared.state();
    match given == state.bearer && !state.refused.contains(given) {
        true => Ok(()),
        false => Err(refused(
            StatusCode::UNAUTHORIZED,
            unauthorized_problem(),
            "not the app's bearer token, or a refused one",
        )),
    }
}

/// Posts are numbered: a longer id is newer, as X's snowflakes are.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// `GET /2/tweets/search/recent`: a page of at most `max_results` posts whose text has every
/// plain word of the query (operators such as `-from:` and `-is:retweet` are not matched),
/// newer than `since_id`, newest first; `next_token` is the id to go on below.
fn search_recent(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let pairs = query_pairs(&asked.uri);
    let mut state = shared.state();
    state.searches.push(pairs.clone());
    if let Some(until) = state.search_limited_until {
        let body = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Too Many Requests",
            "about:blank",
        );
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-remaining", "0".parse().unwrap());
        headers.insert("x-rate-limit-reset", until.to_string().parse().unwrap());
        return Ok(response);
    }
    let query = pair(&pairs, "query").unwrap_or_default().to_lowercase();
    let words: Vec<&str> = query
        .split_whitespace()
        .filter(|word| !word.starts_with('-') && !word.contains(':'))
        .collect();
    let most: usize = pair(&pairs, "max_results")
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let since = pair(&pairs, "since_id").map(str::to_string);
    let below = pair(&pairs, "next_token").map(str::to_string);
    let mut found: Vec<&(Value, Value)> = state
        .posts
        .iter()
        .filter(|(post, _)| {
            let text = post["text"].as_str().unwrap_or_default().to_lowercase();
            let id = post["id"].as_str().unwrap_or_default();
            words.iter().all(|word| text.contains(word))
                && since.as_deref().is_none_or(|since| newer(id, since))
                && below.as_deref().is_none_or(|below| newer(below, id))
        })
        .collect();
    found.sort_by(|a, b| {
        let (a, b) = (a.0["id"].as_str().unwrap(), b.0["id"].as_str().unwrap());
        (b.len(), b).cmp(&(a.len(), a))
    });
    let more = found.len() > most;
    found.truncate(most);
    let data: Vec<Value> = found.iter().map(|(post, _)| post.clone()).collect();
    let mut users: Vec<Value> = Vec::new();
    for (_, author) in &found {
        if !users.contains(author) {
            users.push(author.clone());
        }
    }
    let mut meta = json!({ "result_count": data.len() });
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        meta["newest_id"] = first["id"].clone();
        meta["oldest_id"] = last["id"].clone();
        if more {
            meta["next_token"] = last["id"].clone();
        }
    }
    let mut body = json!({ "meta": meta });
    if !data.is_empty() {
        body["data"] = json!(data);
        body["includes"] = json!({ "users": users });
    }
    Ok(axum::Json(body).into_response())
}

/// `GET /2/tweets/:id`: the post with its author, or X's "Not Found Error" (a 200).
fn lookup_post(shared: &Shared, asked: &Asked, id: &str) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let mut state = shared.state();
    state.lookups.push(id.to_string());
    let found = state
        .posts
        .iter()
        .find(|(post, _)| post["id"].as_str() == Some(id));
    let body = match found {
        Some((post, author)) => json!({ "data": post, "includes": { "users": [author] } }),
        None => json!({ "errors": [{
            "value": id,
            "detail": format!("Could not find tweet with id: [{id}]."),
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "id",
            "resource_id": id,
            "type": "https://api.twitter.com/2/problems/resource-not-found"
        }] }),
    };
    Ok(axum::Json(body).into_response())
}

fn webhook_json(webhook: &FakeWebhook, created_at: &str) -> Value {
    json!({ "created_at": created_at, "id": webhook.id, "url": webhook.url, "valid": webhook.valid })
}

fn list_webhooks(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let state = shared.state();
    let data: Vec<Value> = state
        .webhooks
        .iter()
        .map(|(webhook, created_at)| webhook_json(webhook, created_at))
        .collect();
    let body = match data.is_empty() {
        true => json!({ "meta": { "result_count": 0 } }),
        false => json!({ "data": data, "meta": { "result_count": data.len() } }),
    };
    Ok(axum::Json(body).into_response())
}

fn invalid_request(message: &str, reason: &str) -> Refused {
    refused(
        StatusCode::BAD_REQUEST,
        json!({
            "errors": [{ "message": message }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }),
        reason,
    )
}

async fn register_webhook(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let url = serde_json::from_slice::<Value>(&asked.body)
        .ok()
        .and_then(|body| body.get("url")?.as_str().map(str::to_string));
    let Some(url) = url.filter(|url| url::Url::parse(url).is_ok()) else {
        return Err(invalid_request(
            "The `url` query parameter value [] is not valid",
            "no url in the body",
        ));
    };
    {
        let state = shared.state();
        if state.webhooks.iter().any(|(webhook, _)| webhook.url == url) {
            // The fake's words.
            return Err(invalid_request(
                "A webhook with this URL is already registered for this application.",
                "duplicate url",
            ));
        }
        if state.webhooks.len() >= state.max_webhooks {
            return Err(refused(
                StatusCode::FORBIDDEN,
                errors(214, "Too many resources already created."),
                "the app has as many webhooks as it may",
            ));
        }
    }
    crc(shared, &url).await?;
    let mut state = shared.state();
    let webhook = FakeWebhook {
        id: state.next_webhook.to_string(),
        url,
        valid: true,
    };
    state.next_webhook += 1;
    let created_at = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let body = webhook_json(&webhook, &created_at);
    state.webhooks.push((webhook, created_at));
    Ok(axum::Json(body).into_response())
}

async fn revalidate_webhook(shared: &Shared, asked: &Asked, id: &str) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let url = webhook_url(shared, id)?;
    let result = crc(shared, &url).await;
    for (webhook, _) in shared.state().webhooks.iter_mut() {
        if webhook.id == id {
            webhook.valid = result.is_ok();
        }
    }
    result?;
    Ok(axum::Json(json!({ "data": { "attempted": true } })).into_response())
}

fn delete_webhook(shared: &Shared, asked: &Asked, id: &str) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    webhook_url(shared, id)?;
    let mut state = shared.state();
    state.webhooks.retain(|(webhook, _)| webhook.id != id);
    state.subscriptions.remove(id);
    Ok(axum::Json(json!({ "data": { "deleted": true } })).into_response())
}

fn webhook_url(shared: &Shared, id: &str) -> Result<String, Refused> {
    shared
        .state()
        .webhooks
        .iter()
        .find(|(webhook, _)| webhook.id == id)
        .map(|(webhook, _)| webhook.url.clone())
        .ok_or_else(|| {
            refused(
                StatusCode::NOT_FOUND,
                problem(
                    StatusCode::NOT_FOUND,
                    "Not Found Error",
                    &format!("Could not find webhook with id: [{id}]"),
                    "https://api.twitter.com/2/problems/resource-not-found",
                ),
                format!("no webhook {id}"),
            )
        })
}

/// The challenge-response check: `GET url?crc_token=T` must answer 200 with JSON whose
/// `response_token` is `sha256=` + base64(HMAC-SHA256(consumer secret, T)).
async fn crc(shared: &Shared, url: &str) -> Result<(), Refused> {
    let crc_token = uuid_like();
    let expected = {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(shared.consumer_secret.as_bytes())
            .expect("any key");
        mac.update(crc_token.as_bytes());
        format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()))
    };
    let mut address = url::Url::parse(url).map_err(|e| {
        invalid_request(
            &format!("The `url` query parameter value [{url}] is not valid"),
            &e.to_string(),
        )
    })?;
    address
        .query_pairs_mut()
        .append_pair("crc_token", &crc_token);
    let (passed, answer, words) = match shared.http.get(address).send().await {
        Err(e) => (false, format!("no answer: {e}"), CRC_NON_200),
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            let answer = format!("{status} {}", String::from_utf8_lossy(&body));
            if status != reqwest::StatusCode::OK {
                (false, answer, CRC_NON_200)
            } else {
                let given = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|json| json.get("response_token")?.as_str().map(str::to_string));
                match given.as_deref() == Some(expected.as_str()) {
                    true => (true, answer, ""),
                    false => (false, answer, CRC_INVALID),
                }
            }
        }
    };
    shared.state().crc_checks.push(CrcCheck {
        url: url.to_string(),
        crc_token,
        expected,
        answer: answer.clone(),
        passed,
    });
    match passed {
        true => Ok(()),
        false => Err(refused(
            StatusCode::BAD_REQUEST,
            errors(214, words),
            format!("the CRC of {url} failed: {answer}"),
        )),
    }
}

/// A token shaped like X's CRC tokens (a UUID).
fn uuid_like() -> String {
    let hex = format!("{:032x}", ulid::Ulid::generate().0);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `POST` subscribes the token's user to the webhook, `GET` says whether they are.
fn subscription(shared: &Shared, asked: &Asked, id: &str) -> Result<Response, Refused> {
    let signed = check_oauth(shared, asked, TokenKind::Access)?;
    webhook_url(shared, id)?;
    let token = signed.token.unwrap_or_default();
    let mut state = shared.state();
    let user_id = state
        .issued
        .iter()
        .find(|issued| issued.token.token == token)
        .map(|issued| issued.token.user_id.clone())
        .unwrap_or_default();
    if asked.method == Method::GET {
        let subscribed = state
            .subscriptions
            .get(id)
            .is_some_and(|users| users.contains(&user_id));
        return Ok(axum::Json(json!({ "data": { "subscribed": subscribed } })).into_response());
    }
    let valid = state
        .webhooks
        .iter()
        .any(|(webhook, _)| webhook.id == id && webhook.valid);
    if !valid {
        // The fake's words.
        return Err(invalid_request(
            "The webhook is not valid: a CRC check must pass before users subscribe to it.",
            "subscription to an invalid webhook",
        ));
    }
    state
        .subscriptions
        .entry(id.to_string())
        .or_default()
        .insert(user_id);
    Ok(axum::Json(json!({ "data": { "subscribed": true } })).into_response())
}

fn list_subscriptions(shared: &Shared, asked: &Asked, id: &str) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    let url = webhook_url(shared, id)?;
    let state = shared.state();
    let subscriptions: Vec<Value> = state
        .subscriptions
        .get(id)
        .into_iter()
        .flatten()
        .map(|user_id| json!({ "user_id": user_id }))
        .collect();
    Ok(axum::Json(json!({
        "data": {
            "application_id": "29000001",
            "webhook_id": id,
            "webhook_url": url,
            "subscriptions": subscriptions,
        }
    }))
    .into_response())
}

fn unsubscribe(shared: &Shared, asked: &Asked, id: &str, user: &str) -> Result<Response, Refused> {
    check_bearer(shared, asked)?;
    webhook_url(shared, id)?;
    if let Some(users) = shared.state().subscriptions.get_mut(id) {
        users.remove(user);
    }
    Ok(axum::Json(json!({ "data": { "subscribed": false } })).into_response())
}
