//! A stateful fake of Meta for connecting pages: the Facebook Login dialog, the code exchange
//! (single use, bound to its `redirect_uri`), the long-lived token, `/me/accounts` (paged, so
//! that `paging.next` is followed), `/me` with a page token, and `/{page-id}/subscribed_apps`.
//!
//! Every Graph call must carry its access token's `appsecret_proof`
//! (hex HMAC-SHA256(app secret, token)), checked here with code of the fake's own. Errors are
//! Meta's shape, `{"error":{"message","type","code"}}`; where Meta's documentation gives no
//! words the fake's own are used, marked so below.

use crate::fake_server::{Refusal, Refused, Server, form_pairs, pair, query_pairs, random};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The app the fake knows unless told another.
pub const FAKE_META_APP_ID: &str = "1234567890123456";
/// Its app secret.
pub const FAKE_META_APP_SECRET: &str = "fake-meta-app-secret-0d4c3b2a1f";
/// The Graph API version the fake answers (the product's default).
pub const FAKE_META_VERSION: &str = "v21.0";

/// The page webhook fields an app can subscribe a page to (a subset of Meta's list).
const PAGE_FIELDS: [&str; 14] = [
    "feed",
    "messages",
    "mention",
    "messaging_postbacks",
    "messaging_optins",
    "messaging_referrals",
    "message_deliveries",
    "message_reads",
    "message_echoes",
    "message_reactions",
    "standby",
    "ratings",
    "name",
    "picture",
];

/// A page the logged-in user manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePage {
    pub id: String,
    pub name: String,
    pub access_token: String,
    pub instagram: Option<FakeInstagram>,
}

/// An Instagram professional account linked to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstagram {
    pub id: String,
    pub username: String,
}

/// A user token the fake issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUserToken {
    pub access_token: String,
    pub long_lived: bool,
}

/// The Facebook user who logs in on the dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMetaUser {
    pub id: String,
    pub name: String,
}

struct PendingCode {
    redirect_uri: String,
    used: bool,
}

struct MetaState {
    user: FakeMetaUser,
    deny: bool,
    pages: Vec<FakePage>,
    page_size: usize,
    next_base: Option<String>,
    codes: HashMap<String, PendingCode>,
    scopes: Vec<String>,
    user_tokens: Vec<FakeUserToken>,
    refused: HashSet<String>,
    subscriptions: BTreeMap<String, Vec<String>>,
    accounts_requests: usize,
    refusals: Vec<Refusal>,
}

struct Shared {
    app_id: String,
    app_secret: String,
    version: String,
    url: String,
    state: Mutex<MetaState>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, MetaState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake Meta (its login dialog and its Graph API on one address), served until dropped.
pub struct FakeMeta {
    shared: Arc<Shared>,
    _server: Server,
}

/// Three pages, the first linked to an Instagram account.
pub fn default_pages() -> Vec<FakePage> {
    let page = |n: u32, name: &str, instagram: Option<FakeInstagram>| FakePage {
        id: format!("10400000000000{n}"),
        name: name.into(),
        access_token: format!("EAAPage{n}{}", random(40)),
        instagram,
    };
    vec![
        page(
            1,
            "Acme Care",
            Some(FakeInstagram {
                id: "17841400000000001".into(),
                username: "acme.care".into(),
            }),
        ),
        page(2, "Acme Outlet", None),
        page(3, "Acme Labs", None),
    ]
}

impl FakeMeta {
    /// A fake Meta that knows the app [`FAKE_META_APP_ID`] / [`FAKE_META_APP_SECRET`] and
    /// answers [`FAKE_META_VERSION`]; the user manages [`default_pages`], listed two to an
    /// answer.
    pub async fn start() -> Self {
        Self::start_with(FAKE_META_APP_ID, FAKE_META_APP_SECRET).await
    }

    pub async fn start_with(app_id: &str, app_secret: &str) -> Self {
        let state = MetaState {
            user: FakeMetaUser {
                id: "10160000000000001".into(),
                name: "Dana Brand".into(),
            },
            deny: false,
            pages: default_pages(),
            page_size: 2,
            next_base: None,
            codes: HashMap::new(),
            scopes: Vec::new(),
            user_tokens: Vec::new(),
            refused: HashSet::new(),
            subscriptions: BTreeMap::new(),
            accounts_requests: 0,
            refusals: Vec::new(),
        };
        // The state knows its own address: the `paging.next` URLs name it.
        let (server, shared) = Server::start_with(|url| {
            let shared = Arc::new(Shared {
                app_id: app_id.into(),
                app_secret: app_secret.into(),
                version: FAKE_META_VERSION.into(),
                url,
                state: Mutex::new(state),
            });
            let router = axum::Router::new()
                .fallback(handle)
                .with_state(shared.clone());
            (router, shared)
        });
        Self {
            shared,
            _server: server,
        }
    }

    /// The base of its Graph API and of its login dialog: `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }

    pub fn app_secret(&self) -> &str {
        &self.shared.app_secret
    }

    pub fn version(&self) -> &str {
        &self.shared.version
    }

    /// The user who logs in next.
    pub fn log_in_as(&self, user: FakeMetaUser) {
        self.shared.state().user = user;
    }

    /// Whether the user declines the login (Meta then returns `error=access_denied`).
    pub fn deny_login(&self, deny: bool) {
        self.shared.state().deny = deny;
    }

    /// The pages the user manages.
    pub fn pages(&self) -> Vec<FakePage> {
        self.shared.state().pages.clone()
    }

    pub fn set_pages(&self, pages: Vec<FakePage>) {
        self.shared.state().pages = pages;
    }

    /// How many pages one answer of `/me/accounts` lists at most (2 unless told; a `limit`
    /// asked for that is smaller wins).
    pub fn set_page_size(&self, size: usize) {
        self.shared.state().page_size = size.max(1);
    }

    /// The base the `paging.next` URLs name (the fake's own address unless told), to check
    /// that a next page elsewhere is not followed.
    pub fn set_next_base(&self, base: &str) {
        self.shared.state().next_base = Some(base.trim_end_matches('/').to_string());
    }

    /// From now on Meta refuses this token (code 190), as when the user changes their
    /// password or removes the app.
    pub fn refuse_token(&self, token: &str) {
        self.shared.state().refused.insert(token.to_string());
    }

    /// The scopes the last login asked for.
    pub fn granted_scopes(&self) -> Vec<String> {
        self.shared.state().scopes.clone()
    }

    /// The user tokens issued, in order.
    pub fn user_tokens(&self) -> Vec<FakeUserToken> {
        self.shared.state().user_tokens.clone()
    }

    /// The fields the app is subscribed to on the page, as it asked for them; `None` when it
    /// is not subscribed.
    pub fn subscribed_fields(&self, page_id: &str) -> Option<Vec<String>> {
        self.shared.state().subscriptions.get(page_id).cloned()
    }

    /// Every page subscription: page id, fields.
    pub fn subscriptions(&self) -> BTreeMap<String, Vec<String>> {
        self.shared.state().subscriptions.clone()
    }

    /// How many times `/me/accounts` was asked (each answer of a paged list counts).
    pub fn accounts_requests(&self) -> usize {
        self.shared.state().accounts_requests
    }

    /// The requests refused, in order, and why.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.shared.state().refusals.clone()
    }
}

struct Asked {
    method: Method,
    uri: Uri,
    /// The query's and (for a form) the body's parameters.
    parameters: Vec<(String, String)>,
}

impl Asked {
    fn get(&self, name: &str) -> Option<&str> {
        pair(&self.parameters, name)
    }
}

/// Meta's error: `{"error":{"message","type","code"(,"error_subcode"),"fbtrace_id"}}`.
fn graph_error(
    status: StatusCode,
    message: &str,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    reason: impl Into<String>,
) -> Refused {
    let mut error =
        json!({ "message": message, "type": kind, "code": code, "fbtrace_id": random(11) });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Refused::json(status, json!({ "error": error }), reason)
}

fn oauth_error(message: &str, code: i64, subcode: Option<i64>, reason: &str) -> Refused {
    graph_error(
        StatusCode::BAD_REQUEST,
        message,
        "OAuthException",
        code,
        subcode,
        reason,
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut parameters = query_pairs(&uri);
    parameters.extend(form_pairs(&headers, &body));
    let asked = Asked {
        method,
        uri,
        parameters,
    };
    match route(&shared, &asked) {
        Ok(response) => response,
        Err(refusal) => refusal.record(
            asked.method.as_str(),
            asked.uri.path(),
            &mut shared.state().refusals,
        ),
    }
}

fn route(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    let path = asked.uri.path().trim_start_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').collect();
    let Some((version, rest)) = segments.split_first() else {
        return Err(unknown_path(asked));
    };
    if *version != shared.version {
        return Err(unknown_path(asked));
    }
    match (asked.method.as_str(), rest) {
        ("GET", ["dialog", "oauth"]) => dialog(shared, asked),
        ("GET", ["oauth", "access_token"]) => access_token(shared, asked),
        (_, _) => {
            let token = check_token(shared, asked)?;
            match (asked.method.as_str(), rest) {
                ("GET", ["me"]) => me(shared, &token),
                ("GET", ["me", "accounts"]) => accounts(shared, asked, &token),
                ("GET", [page]) => page_node(shared, page),
                ("POST", [page, "subscribed_apps"]) => subscribe(shared, asked, &token, page),
                ("GET", [page, "subscribed_apps"]) => subscribed_apps(shared, &token, page),
                ("DELETE", [page, "subscribed_apps"]) => unsubscribe(shared, &token, page),
                _ => Err(unknown_path(asked)),
            }
        }
    }
}

fn unknown_path(asked: &Asked) -> Refused {
    oauth_error(
        &format!("Unknown path components: {}", asked.uri.path()),
        2500,
        None,
        "no such endpoint",
    )
}

/// The login dialog: the user logs in and grants at once, and is sent back with a code.
fn dialog(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    if asked.get("client_id") != Some(shared.app_id.as_str()) {
        // Meta shows an HTML page here.
        return Err(Refused::html(
            StatusCode::BAD_REQUEST,
            "Invalid App ID: The provided app ID does not look like a valid app ID.",
            "not the app's client_id",
        ));
    }
    let Some(redirect_uri) = asked
        .get("redirect_uri")
        .filter(|uri| url::Url::parse(uri).is_ok())
    else {
        return Err(Refused::html(
            StatusCode::BAD_REQUEST,
            "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.",
            "no usable redirect_uri",
        ));
    };
    let state_param = asked.get("state");
    let mut state = shared.state();
    state.scopes = asked
        .get("scope")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_string)
        .collect();
    let mut back: Vec<(&str, String)> = Vec::new();
    if state.deny {
        back.push(("error", "access_denied".into()));
        back.push(("error_code", "200".into()));
        back.push(("error_description", "Permissions error".into()));
        back.push(("error_reason", "user_denied".into()));
    } else {
        let code = format!("AQ{}", random(60));
        state.codes.insert(
            code.clone(),
            PendingCode {
                redirect_uri: redirect_uri.to_string(),
                used: false,
            },
        );
        back.push(("code", code));
    }
    if let Some(given) = state_param {
        back.push(("state", given.to_string()));
    }
    let added = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(back.iter().map(|(name, value)| (*name, value.as_str())))
        .finish();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    // Meta adds `#_=_` to the redirect.
    let location = format!("{redirect_uri}{separator}{added}#_=_");
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// The code exchange, and the long-lived exchange (`grant_type=fb_exchange_token`).
fn access_token(shared: &Shared, asked: &Asked) -> Result<Response, Refused> {
    if asked.get("client_id") != Some(shared.app_id.as_str()) {
        return Err(oauth_error(
            "Error validating application. Invalid application ID.",
            101,
            None,
            "not the app's client_id",
        ));
    }
    if asked.get("client_secret") != Some(shared.app_secret.as_str()) {
        return Err(oauth_error(
            "Error validating client secret.",
            1,
            None,
            "not the app's client_secret",
        ));
    }
    let mut state = shared.state();
    let long_lived = asked.get("grant_type") == Some("fb_exchange_token");
    if long_lived {
        let given = asked.get("fb_exchange_token").unwrap_or_default();
        let known = state
            .user_tokens
            .iter()
            .any(|token| token.access_token == given);
        if !known || state.refused.contains(given) {
            return Err(oauth_error(
                "Invalid OAuth access token - Cannot parse access token",
                190,
                None,
                "fb_exchange_token is not a user token it issued, or a refused one",
            ));
        }
    } else {
        let code = asked.get("code").unwrap_or_default();
        let redirect_uri = asked.get("redirect_uri").unwrap_or_default();
        let Some(pending) = state.codes.get_mut(code) else {
            return Err(oauth_error(
                "Invalid verification code format.",
                100,
                None,
                "unknown code",
            ));
        };
        if pending.used {
            return Err(oauth_error(
                "This authorization code has been used.",
                100,
                Some(36009),
                "the code was used before",
            ));
        }
        if pending.redirect_uri != redirect_uri {
            return Err(oauth_error(
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
                100,
                Some(36008),
                format!(
                    "redirect_uri {redirect_uri:?} is not the dialog's {:?}",
                    pending.redirect_uri
                )
                .as_str(),
            ));
        }
        pending.used = true;
    }
    let token = FakeUserToken {
        access_token: format!("EAAUser{}", random(60)),
        long_lived,
    };
    state.user_tokens.push(token.clone());
    let expires_in = if long_lived { 5_183_944 } else { 5_400 };
    Ok(axum::Json(json!({
        "access_token": token.access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
    }))
    .into_response())
}

/// What a token acts as.
enum Acting {
    User,
    Page(String),
}

/// The access token of a Graph call: known, not refused, and with its `appsecret_proof`.
fn check_token(shared: &Shared, asked: &Asked) -> Result<Acting, Refused> {
    let Some(token) = asked.get("access_token").filter(|token| !token.is_empty()) else {
        return Err(oauth_error(
            "An active access token must be used to query information about the current user.",
            2500,
            None,
            "no access_token",
        ));
    };
    let state = shared.state();
    if state.refused.contains(token) {
        return Err(oauth_error(
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            190,
            Some(460),
            "the token is refused",
        ));
    }
    let acting = if state.user_tokens.iter().any(|t| t.access_token == token) {
        Acting::User
    } else if let Some(page) = state.pages.iter().find(|page| page.access_token == token) {
        Acting::Page(page.id.clone())
    } else {
        return Err(oauth_error(
            "Invalid OAuth access token - Cannot parse access token",
            190,
            None,
            "unknown token",
        ));
    };
    let expected = {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(shared.app_secret.as_bytes())
            .expect("any key");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    // Meta answers a missing proof (when the app requires one) and a wrong one alike.
    if asked.get("appsecret_proof") != Some(expected.as_str()) {
        return Err(oauth_error(
            "Invalid appsecret_proof provided in the API argument",
            190,
            None,
            "appsecret_proof is missing or not HMAC-SHA256(app secret, token)",
        ));
    }
    Ok(acting)
}

fn me(shared: &Shared, acting: &Acting) -> Result<Response, Refused> {
    let state = shared.state();
    let body = match acting {
        Acting::User => json!({ "id": state.user.id, "name": state.user.name }),
        Acting::Page(id) => {
            let page = state.pages.iter().find(|page| &page.id == id);
            json!({ "id": id, "name": page.map(|page| page.name.clone()).unwrap_or_default() })
        }
    };
    Ok(axum::Json(body).into_response())
}

fn page_node(shared: &Shared, page_id: &str) -> Result<Response, Refused> {
    let state = shared.state();
    match state.pages.iter().find(|page| page.id == page_id) {
        Some(page) => Ok(axum::Json(json!({ "id": page.id, "name": page.name })).into_response()),
        None => Err(graph_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Unsupported get request. Object with ID '{page_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            "GraphMethodException",
            100,
            Some(33),
            "no such page",
        )),
    }
}

/// The pages the user manages, `limit` to an answer, `after` a cursor.
fn accounts(shared: &Shared, asked: &Asked, acting: &Acting) -> Result<Response, Refused> {
    if let Acting::Page(_) = acting {
        return Err(oauth_error(
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
            100,
            None,
            "accounts asked with a page token",
        ));
    }
    let mut state = shared.state();
    state.accounts_requests += 1;
    let fields = asked.get("fields").unwrap_or("id,name").to_string();
    let size = asked
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, state.page_size);
    let start = match asked.get("after") {
        None => 0,
        Some(cursor) => match decode_cursor(cursor) {
            Some(index) => index + 1,
            None => {
                return Err(oauth_error(
                    "(#100) The after parameter is not a valid cursor",
                    100,
                    None,
                    "not one of its cursors",
                ));
            }
        },
    };
    let listed: Vec<(usize, &FakePage)> = state
        .pages
        .iter()
        .enumerate()
        .skip(start)
        .take(size)
        .collect();
    let wants = |field: &str| fields.split([',', '{', '}']).any(|f| f.trim() == field);
    let data: Vec<Value> = listed
        .iter()
        .map(|(_, page)| {
            let mut entry = json!({ "id": page.id, "name": page.name });
            if wants("access_token") {
                entry["access_token"] = json!(page.access_token);
            }
            if let Some(instagram) = page
                .instagram
                .as_ref()
                .filter(|_| wants("instagram_business_account"))
            {
                entry["instagram_business_account"] =
                    json!({ "id": instagram.id, "username": instagram.username });
            }
            entry
        })
        .collect();
    let mut body = json!({ "data": data });
    if let (Some((first, _)), Some((last, _))) = (listed.first(), listed.last()) {
        body["paging"] = json!({
            "cursors": { "before": cursor(*first), "after": cursor(*last) }
        });
        if last + 1 < state.pages.len() {
            let base = state
                .next_base
                .clone()
                .unwrap_or_else(|| shared.url.clone());
            // Meta's next page names the token itself (and no proof).
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(
                    "access_token",
                    asked.get("access_token").unwrap_or_default(),
                )
                .append_pair("fields", &fields)
                .append_pair("limit", &size.to_string())
                .append_pair("after", &cursor(*last))
                .finish();
            body["paging"]["next"] =
                json!(format!("{base}/{}/me/accounts?{query}", shared.version));
        }
    }
    Ok(axum::Json(body).into_response())
}

fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("page:{index}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    text.strip_prefix("page:")?.parse().ok()
}

/// The page's own token is required to manage its app subscriptions.
fn page_token_for(acting: &Acting, page_id: &str) -> Result<(), Refused> {
    match acting {
        Acting::Page(id) if id == page_id => Ok(()),
        _ => Err(graph_error(
            StatusCode::FORBIDDEN,
            "(#210) A page access token is required to request this resource.",
            "OAuthException",
            210,
            None,
            format!("not page {page_id}'s token"),
        )),
    }
}

fn subscribe(
    shared: &Shared,
    asked: &Asked,
    acting: &Acting,
    page_id: &str,
) -> Result<Response, Refused> {
    page_token_for(acting, page_id)?;
    let fields: Vec<String> = asked
        .get("subscribed_fields")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|field| !field.is_empty())
        .map(str::to_string)
        .collect();
    if fields.is_empty() {
        return Err(oauth_error(
            "(#100) The parameter subscribed_fields is required",
            100,
            None,
            "no subscribed_fields",
        ));
    }
    if let Some((index, field)) = fields
        .iter()
        .enumerate()
        .find(|(_, field)| !PAGE_FIELDS.contains(&field.as_str()))
    {
        return Err(oauth_error(
            &format!(
                "(#100) Param subscribed_fields[{index}] must be one of {{{}}} - got \"{field}\"",
                PAGE_FIELDS.join(", ")
            ),
            100,
            None,
            format!("unknown field {field}").as_str(),
        ));
    }
    let mut unique = Vec::new();
    for field in fields {
        if !unique.contains(&field) {
            unique.push(field);
        }
    }
    shared
        .state()
        .subscriptions
        .insert(page_id.to_string(), unique);
    Ok(axum::Json(json!({ "success": true })).into_response())
}

fn subscribed_apps(shared: &Shared, acting: &Acting, page_id: &str) -> Result<Response, Refused> {
    page_token_for(acting, page_id)?;
    let state = shared.state();
    let data: Vec<Value> = state
        .subscriptions
        .get(page_id)
        .map(|fields| {
            json!({
                "category": "Business",
                "link": "https://socialcare.example/",
                "name": "socialcare",
                "id": shared.app_id,
                "subscribed_fields": fields,
            })
        })
        .into_iter()
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

fn unsubscribe(shared: &Shared, acting: &Acting, page_id: &str) -> Result<Response, Refused> {
    page_token_for(acting, page_id)?;
    shared.state().subscriptions.remove(page_id);
    Ok(axum::Json(json!({ "success": true })).into_response())
}
