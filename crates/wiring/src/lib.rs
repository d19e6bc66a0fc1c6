//! The wiring: the configuration, clients and handler states, built once per process and the
//! same way for the six Lambda functions ([`lambda`]) and for the local runner (the builders
//! below, over whichever store and queues it runs on).

pub mod lambda;

use axum::Router;
use socialcare_app::api::ApiState;
use socialcare_app::bootstrap::{BootstrapKeys, Reload};
use socialcare_app::configuration::ConfigurationCache;
use socialcare_app::connect::Connectors;
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::Worker;
use socialcare_app::webhook::WebhookState;
use socialcare_domain::ports::SystemClock;
use socialcare_domain::replies::SendPolicy;
use socialcare_platforms::{
    Credentials, DEFAULT_TIMEOUT, Endpoints, HttpNotifier, HttpPlatform, MetaConnect,
    OutboundGuard, XConnect,
};
use std::sync::Arc;
use std::time::Duration;

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Secret(#[from] socialcare_aws::SecretError),
    #[error(transparent)]
    Secrets(#[from] socialcare_aws::SecretsError),
    /// A secret the template names that Secrets Manager did not return.
    #[error("secret {0} was not returned")]
    MissingSecret(String),
    #[error(transparent)]
    Configuration(Box<socialcare_app::configuration::LoadError>),
    #[error(transparent)]
    Platforms(#[from] socialcare_platforms::ConfigError),
}

impl From<socialcare_app::configuration::LoadError> for WiringError {
    fn from(e: socialcare_app::configuration::LoadError) -> Self {
        Self::Configuration(Box::new(e))
    }
}

/// How often the bootstrap admin key is read again: a rotated key is seen without a redeploy.
pub const BOOTSTRAP_RELOAD: Duration = Duration::from_secs(300);

/// The platform webhooks' own secrets; a platform without them answers 404.
#[derive(Debug, Clone, Default)]
pub struct WebhookSecrets {
    pub x_consumer_secret: Option<String>,
    pub meta_app_secret: Option<String>,
    pub meta_verify_token: Option<String>,
}

/// Serves `router` as every HTTP entry does: errors as JSON, a span per request.
pub fn http_app(router: Router) -> Router {
    socialcare_app::logging::traced(socialcare_app::error::json_errors(router))
}

/// The webhook intake's state: events go on `inbound`, events of integrations are checked
/// with their own secrets (`integrations`), else with `integration_secret`.
pub fn webhook_state<Q>(
    inbound: Q,
    integration_secret: &str,
    secrets: WebhookSecrets,
    configuration: ConfigurationCache,
    guard: OutboundGuard,
    integrations: IntegrationDirectory,
    seen: Option<socialcare_app::tokens::SeenFn>,
) -> WebhookState<Q> {
    WebhookState {
        x_consumer_secret: secrets.x_consumer_secret.map(String::into_bytes),
        meta_app_secret: secrets.meta_app_secret.map(String::into_bytes),
        meta_verify_token: secrets.meta_verify_token,
        configuration,
        guard,
        integrations,
        seen,
        ..WebhookState::new(
            inbound,
            integration_secret.as_bytes(),
            Arc::new(SystemClock),
        )
    }
}

/// The API's (and the console's) state: the accounts, teams and paces of `configuration`,
/// replies through `outbox`. With `reload`, the bootstrap key is read again every
/// [`BOOTSTRAP_RELOAD`]; `integration_secret` is the default integration's before its first
/// rotation.
pub fn api_state<S>(
    store: S,
    api_key: &str,
    reload: Option<Reload>,
    integration_secret: Option<&str>,
    configuration: ConfigurationCache,
    outbox: Outbox,
    jobs: Outbox,
) -> ApiState<S> {
    let mut state = ApiState::new(store, api_key);
    if let Some(reload) = reload {
        state =
            state.with_bootstrap_keys(BootstrapKeys::reloading(api_key, reload, BOOTSTRAP_RELOAD));
    }
    if let Some(secret) = integration_secret {
        state = state.with_integration_secret(secret);
    }
    state
        .with_configuration(configuration)
        .with_outbox(outbox)
        .with_jobs(jobs)
}

/// The credentials file's (or secret's), with the app credentials the deployment has as
/// parameters where the file has none: new deployments keep only app credentials there, and
/// connect each account's token from the console.
pub fn with_app_credentials(
    mut credentials: Credentials,
    x_consumer: Option<(String, String)>,
    meta_app_secret: Option<String>,
) -> Credentials {
    if let (None, Some((consumer_key, consumer_secret))) = (&credentials.x, x_consumer) {
        credentials.x = Some(socialcare_platforms::XCredentials {
            consumer_key,
            consumer_secret,
            accounts: Vec::new(),
        });
    }
    if let (None, Some(app_secret)) = (&credentials.meta, meta_app_secret) {
        credentials.meta = Some(socialcare_platforms::MetaCredentials {
            app_secret,
            pages: Vec::new(),
        });
    }
    credentials
}

/// Reads X as the app (search, a post by its id) with the credentials' `[x]` consumer key and
/// secret, at the environment's X endpoint (`X_API_BASE_URL`), each call within `timeout`.
pub fn x_listener(
    credentials: &Credentials,
    timeout: std::time::Duration,
) -> Result<socialcare_platforms::XListener, WiringError> {
    Ok(socialcare_platforms::XListener::new(
        credentials,
        &Endpoints::from_env(),
        timeout,
    )?)
}

/// The connect flows' clients: the X app (consumer key and secret) and the Meta app (id and
/// secret) where the deployment has them, at the endpoints of the environment
/// (`X_API_BASE_URL`, `X_AUTHORIZE_BASE_URL`, `META_GRAPH_BASE_URL`, `META_LOGIN_BASE_URL`);
/// the public URL the platforms send admins back to; `sealer` for the tokens.
pub fn connectors<K>(
    x_app: Option<(String, String)>,
    meta_app: Option<(String, String)>,
    public_url: Option<String>,
    sealer: K,
) -> Result<Connectors, WiringError>
where
    K: socialcare_domain::ports::Sealer + Clone + 'static,
{
    let endpoints = Endpoints::from_env();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let x = match x_app {
        Some((key, secret)) => {
            let x = XConnect::new(&key, &secret, &endpoints, DEFAULT_TIMEOUT)?;
            Some(match var("X_AUTHORIZE_BASE_URL") {
                Some(base) => x.with_authorize_base(&base)?,
                None => x,
            })
        }
        None => None,
    };
    let meta = match meta_app {
        Some((id, secret)) => {
            let meta = MetaConnect::new(&id, &secret, &endpoints, DEFAULT_TIMEOUT)?;
            Some(match var("META_LOGIN_BASE_URL") {
                Some(base) => meta.with_login_base(&base)?,
                None => meta,
            })
        }
        None => None,
    };
    Ok(Connectors {
        x,
        meta,
        public_url: public_url.map(|url| url.trim_end_matches('/').to_string()),
        sealer: Some(socialcare_app::tokens::seal_fn(sealer.clone())),
        opener: Some(socialcare_app::connect::open_fn(sealer)),
    })
}

/// The sender's platform clients. Each integration's callbacks are signed with its own
/// outbound secrets, the others with `integration_secret`.
pub fn platform(
    credentials: Credentials,
    integration_secret: &str,
    guard: OutboundGuard,
    integrations: &IntegrationDirectory,
) -> Result<HttpPlatform, WiringError> {
    let secret = integration_secret.as_bytes().to_vec();
    let platform = HttpPlatform::new(
        credentials,
        secret.clone(),
        Endpoints::from_env(),
        guard,
        DEFAULT_TIMEOUT,
    )?;
    Ok(platform.with_integration_secrets(integrations.signing_secrets(secret)))
}

/// The same, posting with the accounts' connected tokens of `store`, opened with `sealer`,
/// and recording what posting showed as their health.
pub fn platform_with_tokens<S, K>(platform: HttpPlatform, store: S, sealer: K) -> HttpPlatform
where
    S: socialcare_domain::ports::AccountStore + Clone + 'static,
    K: socialcare_domain::ports::Sealer + Clone + 'static,
{
    let tokens = socialcare_app::tokens::SenderTokens::new(store, sealer);
    platform.with_account_tokens(tokens.lookup(), tokens.events())
}

/// The reminders worker. Its notices are signed with the default integration's outbound
/// secrets once it is rotated, with `integration_secret` before.
pub fn reminders_worker(
    configuration: ConfigurationCache,
    integration_secret: &str,
    guard: OutboundGuard,
    integrations: &IntegrationDirectory,
) -> Result<Worker<HttpNotifier>, WiringError> {
    let secret = integration_secret.as_bytes().to_vec();
    let notifier = HttpNotifier::new(secret.clone(), guard, DEFAULT_TIMEOUT)?
        .with_signing_secrets(integrations.signing_secrets(secret));
    Ok(Worker {
        configuration,
        notifier,
        policy: SendPolicy::default(),
    })
}
