//! Connecting a brand's account from the console: X's OAuth 1.0a three legs then its Account
//! Activity webhook and subscription, and Facebook Login then a page (with its Instagram
//! account) and its app subscription. Each flow's `state` is single-use, bound to the admin's
//! console session and gone after ten minutes; every token is checked with the platform before
//! it is stored, sealed; errors are the platform's own words. Also the manual way (`PUT
//! /v1/accounts/{platform}/{id}/token`) and each account's health.

use crate::accounts::{Account, Platform};
use crate::api::{ApiState, Caller, Store};
use crate::error::ApiError;
use crate::tokens::{SealFn, sealed};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use socialcare_domain::Source;
use socialcare_domain::access::Role;
use socialcare_domain::ports::SealError;
use socialcare_domain::tokens::{
    AccountHealth, CONNECT_MINUTES, Observation, PendingConnect, RateHeadroom,
};
use socialcare_platforms::connect::{
    ConnectError, LOGIN_SCOPES, ManagedPage, MetaConnect, MetaUserToken, RequestToken, XConnect,
    XUserToken,
};
use socialcare_platforms::tokens::AccountToken;
use std::sync::Arc;
use utoipa::ToSchema;

/// Opens what was sealed for a connection under way (never an account's token: on AWS the
/// api function may decrypt only under a `pending:` context).
pub type OpenFn =
    Arc<dyn Fn(String, String) -> BoxFuture<'static, Result<Vec<u8>, SealError>> + Send + Sync>;

pub fn open_fn<K: socialcare_domain::ports::Sealer + Clone + 'static>(sealer: K) -> OpenFn {
    Arc::new(move |context, sealed| {
        let sealer = sealer.clone();
        Box::pin(async move { sealer.open(&context, &sealed).await })
    })
}

/// The platforms' apps and where the deployment is reached, for the connect flows.
#[derive(Default)]
pub struct Connectors {
    pub x: Option<XConnect>,
    pub meta: Option<MetaConnect>,
    /// The deployment's public address (`https://...`, or a tunnel's): where the platforms
    /// send the admin back and deliver webhooks. Without it, the request's [`PublicOrigin`].
    pub public_url: Option<String>,
    pub sealer: Option<SealFn>,
    pub opener: Option<OpenFn>,
}

/// Where a request was received, as the platform that served it says (on Lambda, the domain
/// API Gateway received it on; never a header the client chose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin(pub String);

impl Connectors {
    fn public_url<'a>(&'a self, origin: Option<&'a PublicOrigin>) -> Result<&'a str, ApiError> {
        self.public_url
            .as_deref()
            .or(origin.map(|o| o.0.as_str()))
            .map(|url| url.trim_end_matches('/'))
            .ok_or_else(|| {
                unavailable(
                    "no_public_url",
                    "the deployment's public URL is not known (SOCIALCARE_PUBLIC_URL locally)",
                )
            })
    }

    fn sealer(&self) -> Result<&SealFn, ApiError> {
        self.sealer
            .as_ref()
            .ok_or_else(|| unavailable("no_sealer", "this deployment has no key to seal tokens"))
    }

    fn opener(&self) -> Result<&OpenFn, ApiError> {
        self.opener
            .as_ref()
            .ok_or_else(|| unavailable("no_sealer", "this deployment has no key to seal tokens"))
    }

    fn x(&self) -> Result<&XConnect, ApiError> {
        self.x.as_ref().ok_or_else(|| {
            unavailable(
                "x_not_set_up",
                "X is not set up on this deployment: set the X app's consumer key and secret",
            )
        })
    }

    fn meta(&self) -> Result<&MetaConnect, ApiError> {
        self.meta.as_ref().ok_or_else(|| {
            unavailable(
                "meta_not_set_up",
                "Meta is not set up on this deployment: set the Meta app's id and secret",
            )
        })
    }
}

fn unavailable(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
}

/// A platform's refusal or failure, in its words: 422 when it refused what it was given, 502
/// when it failed or could not be reached.
fn platform_error(e: ConnectError) -> ApiError {
    let status = match &e {
        ConnectError::Refused { .. } | ConnectError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_GATEWAY,
    };
    let code = if e.is_refused() {
        "platform_refused"
    } else {
        "platform_failed"
    };
    ApiError::new(status, code, e.to_string())
}

fn seal_failed(e: SealError) -> ApiError {
    ApiError::unavailable("sealing_failed", e)
}

/// A random state for a flow: 24 bytes, hex.
fn new_state() -> Result<String, ApiError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::unavailable("no_randomness", e))?;
    Ok(hex::encode(bytes))
}

fn pending_context(state: &str) -> String {
    format!("pending:{state}")
}

/// A connection under way, taken (once) and checked: started by the browser that presents
/// `binding` (the cookie given when it started; another browser's take leaves it for its
/// own), of this platform, not expired, by an admin whose key still holds. Who started it,
/// and what it sealed, opened.
async fn take<S: Store>(
    state: &ApiState<S>,
    binding: &str,
    platform: &str,
    flow_state: &str,
) -> Result<(Caller, Option<Vec<u8>>), ApiError> {
    let stale = || {
        ApiError::bad_request(
            "unknown_connection",
            "this connection is unknown, started in another browser, used already or expired: start it again from the settings",
        )
    };
    // What a platform gives back is a short token; anything else never reaches the store.
    let plausible = |value: &str| {
        (1..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !plausible(flow_state) || !plausible(binding) {
        return Err(stale());
    }
    let pending = state
        .store
        .take_pending(flow_state, &binding_hash(binding))
        .await
        .map_err(ApiError::store)?
        .ok_or_else(stale)?;
    if pending.platform != platform || pending.ends_at < Utc::now() {
        return Err(stale());
    }
    let caller = author(state, &pending.by).await?;
    match pending.sealed {
        None => Ok((caller, None)),
        Some(sealed) => {
            let opener = state.connectors.opener()?;
            let opened = opener(pending_context(flow_state), sealed)
                .await
                .map_err(seal_failed)?;
            Ok((caller, Some(opened)))
        }
    }
}

/// The admin who started a connection, if their key still holds (a key revoked meanwhile
/// connects nothing).
async fn author<S: Store>(state: &ApiState<S>, name: &str) -> Result<Caller, ApiError> {
    let admin = Caller {
        name: name.to_string(),
        role: Role::Admin,
    };
    if name == "bootstrap" {
        return Ok(admin);
    }
    let keys = state.store.list_keys().await.map_err(ApiError::store)?;
    match keys
        .iter()
        .any(|key| key.name == name && key.role >= Role::Admin && key.revoked_at.is_none())
    {
        true => Ok(admin),
        false => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the key of {name}, who started this connection, is no longer an admin's"),
        )),
    }
}

/// The store's record of a binding cookie: its SHA-256, so that a leaked row binds nothing.
fn binding_hash(binding: &str) -> String {
    socialcare_domain::sessions::session_id(binding)
}

/// A new binding for a browser: the cookie's value.
pub fn new_binding() -> Result<String, ApiError> {
    new_state()
}

async fn keep<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    binding: &str,
    platform: &str,
    flow_state: &str,
    secret: Option<&[u8]>,
) -> Result<(), ApiError> {
    let sealed = match secret {
        Some(secret) => {
            let sealer = state.connectors.sealer()?;
            Some(
                sealer(pending_context(flow_state), secret.to_vec())
                    .await
                    .map_err(seal_failed)?,
            )
        }
        None => None,
    };
    let now = Utc::now();
    let pending = PendingConnect {
        state: flow_state.to_string(),
        binding: binding_hash(binding),
        by: caller.name.clone(),
        platform: platform.to_string(),
        sealed,
        created_at: now,
        ends_at: now + Duration::minutes(CONNECT_MINUTES),
    };
    state
        .store
        .put_pending(&pending)
        .await
        .map_err(ApiError::store)
}

/// What connecting an account came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub platform: Platform,
    pub id: String,
    /// `@acme_care`, a page name.
    pub acts_as: String,
    /// Whether the platform now delivers its events to us, and why not when it does not.
    pub subscribed: bool,
    pub detail: Option<String>,
}

/// Adds the account to the configuration when it is not there (its handle and name as the
/// platform gives them), in `caller`'s name.
async fn ensure_account<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
    handle: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let document = crate::api::stored_document(state).await?;
    if document.account(platform, id).is_some() {
        return Ok(());
    }
    let account: Account = serde_json::from_value(serde_json::json!({
        "platform": platform, "id": id, "handle": handle, "name": name,
    }))
    .map_err(|e| ApiError::bad_request("invalid_account", e.to_string()))?;
    let summary = format!("connected {} account {id}", platform.as_str());
    crate::api::accounts::change(state, caller, &summary, |document| {
        if document.account(platform, id).is_none() {
            document.accounts.push(account.clone());
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn store_token<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    source: Source,
    id: &str,
    token: &AccountToken,
    acts_as: &str,
) -> Result<(), ApiError> {
    let sealer = state.connectors.sealer()?;
    let stored = sealed(
        sealer,
        source,
        id,
        token,
        Some(acts_as.to_string()),
        &caller.name,
    )
    .await
    .map_err(seal_failed)?;
    state
        .store
        .put_token(&stored)
        .await
        .map_err(ApiError::store)
}

async fn observe<S: Store>(
    state: &ApiState<S>,
    source: Source,
    id: &str,
    observation: Observation,
) {
    if let Err(e) = state.store.observe(source, id, &observation).await {
        tracing::warn!(%source, id, error = %e, "could not record the account's health");
    }
}

// ---- X

/// Starts connecting an X account: the page of X to send the admin to.
pub async fn start_x<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    origin: Option<&PublicOrigin>,
    binding: &str,
) -> Result<String, ApiError> {
    caller.require(Role::Admin)?;
    let connectors = &state.connectors;
    let x = connectors.x()?;
    let callback = format!(
        "{}/settings/connect/x/callback",
        connectors.public_url(origin)?
    );
    let request = x.request_token(&callback).await.map_err(platform_error)?;
    keep(
        state,
        caller,
        binding,
        "x",
        &request.token,
        Some(request.secret.as_bytes()),
    )
    .await?;
    Ok(x.authorize_url(&request))
}

/// Finishes connecting an X account when X sends the admin back: the user token, checked
/// with X, stored sealed; the account added; the deployment's webhook registered (X checks
/// it with a CRC) and the account subscribed.
pub async fn finish_x<S: Store>(
    state: &ApiState<S>,
    origin: Option<&PublicOrigin>,
    binding: &str,
    oauth_token: &str,
    verifier: &str,
) -> Result<Connected, ApiError> {
    let connectors = &state.connectors;
    let x = connectors.x()?;
    let (caller, secret) = take(state, binding, "x", oauth_token).await?;
    let caller = &caller;
    let secret = secret.unwrap_or_default();
    let request = RequestToken {
        token: oauth_token.to_string(),
        secret: String::from_utf8(secret).unwrap_or_default(),
    };
    let user = x
        .access_token(&request, verifier)
        .await
        .map_err(platform_error)?;
    let me = x.verify(&user).await.map_err(platform_error)?;
    let acts_as = format!("@{}", me.username);
    ensure_account(
        state,
        caller,
        Platform::X,
        &me.id,
        Some(&me.username),
        &me.name,
    )
    .await?;
    let token = AccountToken::X {
        access_token: user.token.clone(),
        access_token_secret: user.secret.clone(),
    };
    store_token(state, caller, Source::X, &me.id, &token, &acts_as).await?;
    let webhook_url = format!("{}/webhooks/x", connectors.public_url(origin)?);
    let (subscribed, detail) = match subscribe_x(x, &webhook_url, &user).await {
        Ok(subscribed) => (subscribed, Some(format!("webhook {webhook_url}"))),
        Err(e) => (false, Some(e.to_string())),
    };
    observe(
        state,
        Source::X,
        &me.id,
        Observation::Subscription {
            at: Utc::now(),
            active: subscribed,
            detail: detail.clone(),
        },
    )
    .await;
    Ok(Connected {
        platform: Platform::X,
        id: me.id,
        acts_as,
        subscribed,
        detail,
    })
}

async fn subscribe_x(x: &XConnect, url: &str, user: &XUserToken) -> Result<bool, ConnectError> {
    let webhook = x.ensure_webhook(url).await?;
    x.subscribe(&webhook.id, user).await?;
    x.subscription(&webhook.id, user).await
}

// ---- Meta

/// Starts connecting a Facebook page: the login dialog to send the admin to.
pub async fn start_meta<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    origin: Option<&PublicOrigin>,
    binding: &str,
) -> Result<String, ApiError> {
    caller.require(Role::Admin)?;
    let connectors = &state.connectors;
    let meta = connectors.meta()?;
    let flow_state = new_state()?;
    keep(state, caller, binding, "meta", &flow_state, None).await?;
    Ok(meta.login_url(
        &meta_redirect(connectors, origin)?,
        &flow_state,
        &LOGIN_SCOPES,
    ))
}

fn meta_redirect(
    connectors: &Connectors,
    origin: Option<&PublicOrigin>,
) -> Result<String, ApiError> {
    Ok(format!(
        "{}/settings/connect/meta/callback",
        connectors.public_url(origin)?
    ))
}

/// A page the admin may connect, as the chooser shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageChoice {
    pub id: String,
    pub name: String,
    pub instagram: Option<String>,
}

/// When Meta sends the admin back: the pages they manage, to choose from, and the state of
/// the choice (the long-lived user token kept sealed for it).
pub async fn meta_pages<S: Store>(
    state: &ApiState<S>,
    origin: Option<&PublicOrigin>,
    binding: &str,
    flow_state: &str,
    code: &str,
) -> Result<(String, Vec<PageChoice>), ApiError> {
    let connectors = &state.connectors;
    let meta = connectors.meta()?;
    let (caller, _) = take(state, binding, "meta", flow_state).await?;
    let short = meta
        .exchange_code(code, &meta_redirect(connectors, origin)?)
        .await
        .map_err(platform_error)?;
    let user = meta.long_lived(&short).await.map_err(platform_error)?;
    let pages = meta.pages(&user).await.map_err(platform_error)?;
    let choice = new_state()?;
    keep(
        state,
        &caller,
        binding,
        "meta-page",
        &choice,
        Some(user.access_token.as_bytes()),
    )
    .await?;
    Ok((
        choice,
        pages
            .into_iter()
            .map(|page| PageChoice {
                id: page.id,
                name: page.name,
                instagram: page.instagram.map(|ig| format!("@{}", ig.username)),
            })
            .collect(),
    ))
}

/// The admin chose `page_id`: its token, checked with Meta, stored sealed for the page (and
/// its Instagram account); both accounts added; the app subscribed to the page.
pub async fn finish_meta<S: Store>(
    state: &ApiState<S>,
    binding: &str,
    choice: &str,
    page_id: &str,
) -> Result<Vec<Connected>, ApiError> {
    let meta = state.connectors.meta()?;
    let (caller, user_token) = take(state, binding, "meta-page", choice).await?;
    let caller = &caller;
    let user_token = user_token.unwrap_or_default();
    let user = MetaUserToken {
        access_token: String::from_utf8(user_token).unwrap_or_default(),
        expires_in: None,
    };
    let pages = meta.pages(&user).await.map_err(platform_error)?;
    let page: ManagedPage = pages
        .into_iter()
        .find(|page| page.id == page_id)
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_page",
                format!("page {page_id} is not one the Facebook user manages"),
            )
        })?;
    let identity = meta
        .verify_page(&page.id, &page.access_token)
        .await
        .map_err(platform_error)?;
    let token = AccountToken::Meta {
        page_token: page.access_token.clone(),
    };
    let (subscribed, detail) = match meta.subscribe_page(&page.id, &page.access_token).await {
        Ok(()) => match meta.page_subscribed(&page.id, &page.access_token).await {
            Ok(subscribed) => (subscribed, Some("feed, messages, mention".to_string())),
            Err(e) => (false, Some(e.to_string())),
        },
        Err(e) => (false, Some(e.to_string())),
    };
    let mut connected = Vec::new();
    let mut accounts = vec![(
        Platform::Facebook,
        page.id.clone(),
        None,
        identity.name.clone(),
    )];
    if let Some(instagram) = &page.instagram {
        accounts.push((
            Platform::Instagram,
            instagram.id.clone(),
            Some(instagram.username.clone()),
            instagram.username.clone(),
        ));
    }
    for (platform, id, handle, name) in accounts {
        let acts_as = match &handle {
            Some(handle) => format!("@{handle}"),
            None => name.clone(),
        };
        ensure_account(state, caller, platform, &id, handle.as_deref(), &name).await?;
        store_token(state, caller, platform.source(), &id, &token, &acts_as).await?;
        observe(
            state,
            platform.source(),
            &id,
            Observation::Subscription {
                at: Utc::now(),
                active: subscribed,
                detail: detail.clone(),
            },
        )
        .await;
        connected.push(Connected {
            platform,
            id,
            acts_as,
            subscribed,
            detail: detail.clone(),
        });
    }
    Ok(connected)
}

// ---- the manual way, and health

/// `PUT /v1/accounts/{platform}/{id}/token`: an X user token, or a Meta page token (for an
/// Instagram account, the token of its Facebook page, named by `page_id`).
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub access_token_secret: Option<String>,
    #[serde(default)]
    pub page_token: Option<String>,
    #[serde(default)]
    pub page_id: Option<String>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("page_id", &self.page_id)
            .finish_non_exhaustive()
    }
}

/// What the API says of an account's token: never the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub set: bool,
    pub set_at: Option<chrono::DateTime<Utc>>,
    pub set_by: Option<String>,
    /// Who the platform said it acts as when it was checked.
    pub acts_as: Option<String>,
    /// Set, and not refused by the platform since.
    pub valid: bool,
}

/// An account's health: `GET /v1/accounts/{platform}/{id}/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    pub platform: Platform,
    pub id: String,
    pub token: TokenView,
    pub last_webhook_at: Option<chrono::DateTime<Utc>>,
    pub last_post_at: Option<chrono::DateTime<Utc>>,
    /// The platform's rate limit as its last answer reported it (X).
    pub rate_limit: Option<RateHeadroom>,
    /// When the platform last refused the token, in its words.
    pub refused_at: Option<chrono::DateTime<Utc>>,
    pub refusal: Option<String>,
    /// Whether the platform delivers the account's events, as checked when it was connected.
    pub subscribed: Option<bool>,
    pub subscription_checked_at: Option<chrono::DateTime<Utc>>,
    pub subscription_detail: Option<String>,
}

fn token_view(
    token: Option<&socialcare_domain::tokens::StoredToken>,
    health: &AccountHealth,
) -> TokenView {
    TokenView {
        set: token.is_some(),
        set_at: token.map(|t| t.set_at),
        set_by: token.map(|t| t.set_by.clone()),
        acts_as: token.and_then(|t| t.acts_as.clone()),
        valid: token.is_some_and(|t| health.token_holds(t.set_at)),
    }
}

async fn configured<S: Store>(
    state: &ApiState<S>,
    platform: Platform,
    id: &str,
) -> Result<(), ApiError> {
    let document = crate::api::stored_document(state).await?;
    match document.account(platform, id) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "no {} account {id}",
            platform.as_str()
        ))),
    }
}

/// An admin sets an account's token by hand: checked with the platform (it must act as this
/// account), then stored sealed.
pub async fn set_token_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
    new: NewToken,
) -> Result<TokenView, ApiError> {
    caller.require(Role::Admin)?;
    configured(state, platform, id).await?;
    let missing = |what: &str| {
        ApiError::bad_request(
            "invalid_token",
            format!("a {} token needs {what}", platform.as_str()),
        )
    };
    let (token, acts_as) = match platform {
        Platform::Email => {
            return Err(ApiError::bad_request(
                "invalid_token",
                "a mailbox has no token: its mail comes by SES or POST /webhooks/email",
            ));
        }
        Platform::X => {
            let x = state.connectors.x()?;
            let user = XUserToken {
                token: new.access_token.ok_or_else(|| missing("access_token"))?,
                secret: new
                    .access_token_secret
                    .ok_or_else(|| missing("access_token_secret"))?,
                user_id: id.to_string(),
                screen_name: String::new(),
            };
            let me = x.verify(&user).await.map_err(platform_error)?;
            let token = AccountToken::X {
                access_token: user.token,
                access_token_secret: user.secret,
            };
            (token, format!("@{}", me.username))
        }
        Platform::Facebook | Platform::Instagram => {
            let meta = state.connectors.meta()?;
            let page_token = new.page_token.ok_or_else(|| missing("page_token"))?;
            let page_id = match platform {
                Platform::Instagram => new.page_id.ok_or_else(|| missing("page_id"))?,
                _ => id.to_string(),
            };
            let identity = meta
                .verify_page(&page_id, &page_token)
                .await
                .map_err(platform_error)?;
            (AccountToken::Meta { page_token }, identity.name)
        }
    };
    store_token(state, caller, platform.source(), id, &token, &acts_as).await?;
    Ok(account_health(state, platform, id).await?.token)
}

/// An admin forgets an account's token; 404 when none was set.
pub async fn delete_token_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    match state
        .store
        .delete_token(platform.source(), id)
        .await
        .map_err(ApiError::store)?
    {
        true => Ok(()),
        false => Err(ApiError::not_found(format!(
            "{} account {id} has no token",
            platform.as_str()
        ))),
    }
}

/// The account's health, for an admin.
pub async fn health_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
) -> Result<HealthView, ApiError> {
    caller.require(Role::Admin)?;
    configured(state, platform, id).await?;
    account_health(state, platform, id).await
}

/// The health of an account known to be configured.
async fn account_health<S: Store>(
    state: &ApiState<S>,
    platform: Platform,
    id: &str,
) -> Result<HealthView, ApiError> {
    let source = platform.source();
    let (token, health) = futures::future::try_join(
        state.store.get_token(source, id),
        state.store.account_health(source, id),
    )
    .await
    .map_err(ApiError::store)?;
    Ok(HealthView {
        platform,
        id: id.to_string(),
        token: token_view(token.as_ref(), &health),
        last_webhook_at: health.webhook_at,
        last_post_at: health.posted_at,
        rate_limit: health.rate,
        refused_at: health.refused_at,
        refusal: health.refusal.clone(),
        subscribed: health.subscribed,
        subscription_checked_at: health.subscription_checked_at,
        subscription_detail: health.subscription_detail.clone(),
    })
}
