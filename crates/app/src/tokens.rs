//! The brand accounts' tokens between the store and the platforms: sealed when an admin
//! connects an account, opened (and kept a minute) by the sender that posts with them, and
//! what posting showed recorded as the account's health: the last post and its rate-limit
//! headroom, a refusal (with an alarm-worthy metric), the last webhook.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use socialcare_domain::Source;
use socialcare_domain::ports::{AccountStore, SealError, Sealer};
use socialcare_domain::tokens::{Observation, StoredToken};
use socialcare_platforms::tokens::{AccountToken, TokenEvent, TokenEvents, TokenLookup};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a sender keeps a token it opened: a token connected again is used within it.
pub const OPENED_TTL: Duration = Duration::from_secs(60);
/// The least time between two records of the same account's webhook or post: the health view
/// needs the minute, not every message (each record is a write).
pub const OBSERVE_EVERY: Duration = Duration::from_secs(60);

/// What a token is sealed for: its platform and account (a sealed token copied to another
/// account does not open).
pub fn seal_context(source: Source, account: &str) -> String {
    format!("{}:{account}", source.as_str())
}

/// Seals with whichever sealer the deployment has (KMS, the local key file).
pub type SealFn =
    Arc<dyn Fn(String, Vec<u8>) -> BoxFuture<'static, Result<String, SealError>> + Send + Sync>;

pub fn seal_fn<K: Sealer + Clone + 'static>(sealer: K) -> SealFn {
    Arc::new(move |context, plaintext| {
        let sealer = sealer.clone();
        Box::pin(async move { sealer.seal(&context, &plaintext).await })
    })
}

/// The token sealed for its account, ready to store.
pub async fn sealed(
    seal: &SealFn,
    source: Source,
    account: &str,
    token: &AccountToken,
    acts_as: Option<String>,
    set_by: &str,
) -> Result<StoredToken, SealError> {
    let plaintext =
        serde_json::to_vec(token).map_err(|e| SealError(format!("encoding the token: {e}")))?;
    Ok(StoredToken {
        source,
        account: account.to_string(),
        sealed: seal(seal_context(source, account), plaintext).await?,
        acts_as,
        set_at: Utc::now(),
        set_by: set_by.to_string(),
    })
}

/// What a sender opened: each account's token, when it was opened and when it was set.
type OpenedTokens = HashMap<(Source, String), (Instant, AccountToken, DateTime<Utc>)>;
type Opened = Arc<Mutex<OpenedTokens>>;

/// The sender's side of the tokens: the lookup it posts with and the events it tells, over
/// one memory, so that a token the platform refuses is forgotten at once and its refusal is
/// recorded against that token (not a newer one connected meanwhile).
#[derive(Clone)]
pub struct SenderTokens<S, K> {
    store: S,
    sealer: K,
    opened: Opened,
    observer: Observer<S>,
}

impl<S, K> SenderTokens<S, K>
where
    S: AccountStore + Clone + 'static,
    K: Sealer + Clone + 'static,
{
    pub fn new(store: S, sealer: K) -> Self {
        Self {
            observer: Observer::new(store.clone()),
            store,
            sealer,
            opened: Arc::default(),
        }
    }

    fn opened(&self) -> std::sync::MutexGuard<'_, OpenedTokens> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn open(&self, source: Source, account: String) -> Result<Option<AccountToken>, String> {
        let key = (source, account.clone());
        if let Some((at, token, _)) = self.opened().get(&key)
            && at.elapsed() < OPENED_TTL
        {
            return Ok(Some(token.clone()));
        }
        // Only a token found is kept: an account connected a moment after a post found none
        // posts with its token at once.
        let Some(stored) = self
            .store
            .get_token(source, &account)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let bytes = self
            .sealer
            .open(&seal_context(source, &account), &stored.sealed)
            .await
            .map_err(|e| e.to_string())?;
        let token: AccountToken = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::error!(%source, account, error = %e, "the account's opened token does not read");
            e.to_string()
        })?;
        let mut opened = self.opened();
        // A bound on what a container remembers: brand accounts are few.
        if opened.len() > 1_000 {
            opened.clear();
        }
        opened.insert(key, (Instant::now(), token.clone(), stored.set_at));
        Ok(Some(token))
    }

    /// The account's stored token, opened, kept for [`OPENED_TTL`]. A token that cannot be
    /// read or opened just now is an error (the post is tried again), not "none".
    pub fn lookup(&self) -> TokenLookup {
        let tokens = self.clone();
        Arc::new(move |source: Source, account: String| {
            let tokens = tokens.clone();
            Box::pin(async move { tokens.open(source, account).await })
        })
    }

    /// Posts and refusals recorded as the account's health; a refused token forgotten, and
    /// counted as the `TokenRefused` metric (alarmed on AWS), since every reply of the account
    /// fails until an admin connects it again.
    pub fn events(&self) -> TokenEvents {
        let tokens = self.clone();
        Arc::new(move |event: TokenEvent| {
            let tokens = tokens.clone();
            Box::pin(async move {
                let at = Utc::now();
                match event {
                    TokenEvent::Used {
                        source,
                        account,
                        posted: true,
                        rate,
                    } => {
                        tokens
                            .observer
                            .observe(source, &account, Observation::Posted { at, rate })
                            .await
                    }
                    TokenEvent::Used { .. } => {}
                    TokenEvent::Refused {
                        source,
                        account,
                        reason,
                    } => {
                        let forgotten = tokens.opened().remove(&(source, account.clone()));
                        tracing::error!(%source, account, %reason, "the platform refused the account's token: connect the account again");
                        // Without dimensions, as the template's TokenRefused alarm has none.
                        crate::metrics::count_total("TokenRefused", 1);
                        let refused = Observation::Refused {
                            at,
                            reason,
                            token_set_at: forgotten.map(|(_, _, set_at)| set_at),
                        };
                        tokens.observer.observe(source, &account, refused).await
                    }
                }
            })
        })
    }
}

/// Told that a webhook for the account came in.
pub type SeenFn = Arc<dyn Fn(Source, String) -> BoxFuture<'static, ()> + Send + Sync>;

/// When each account's webhook and post were last recorded.
type Recorded = Arc<Mutex<HashMap<(Source, String, &'static str), Instant>>>;

/// Records observations of accounts in `store`, each account's webhooks and posts at most
/// every [`OBSERVE_EVERY`] (refusals and subscription checks always).
#[derive(Clone)]
pub struct Observer<S> {
    store: S,
    last: Recorded,
}

impl<S: AccountStore + Clone + 'static> Observer<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            last: Arc::default(),
        }
    }

    fn due(&self, source: Source, account: &str, kind: &'static str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let key = (source, account.to_string(), kind);
        if last
            .get(&key)
            .is_some_and(|at| at.elapsed() < OBSERVE_EVERY)
        {
            return false;
        }
        if last.len() > 10_000 {
            last.clear();
        }
        last.insert(key, Instant::now());
        true
    }

    /// Records `observation`, unless the same kind was recorded for the account a moment ago.
    /// A failure to record is logged: health is never worth failing a webhook or a post.
    pub async fn observe(&self, source: Source, account: &str, observation: Observation) {
        let kind = match &observation {
            Observation::Webhook { .. } => Some("webhook"),
            Observation::Posted { .. } => Some("posted"),
            Observation::Refused { .. } | Observation::Subscription { .. } => None,
        };
        if let Some(kind) = kind
            && !self.due(source, account, kind)
        {
            return;
        }
        if let Err(e) = self.store.observe(source, account, &observation).await {
            tracing::warn!(%source, account, error = %e, "could not record the account's health");
        }
    }

    /// The webhook's: the account's last webhook.
    pub fn webhook_seen(&self) -> SeenFn {
        let observer = self.clone();
        Arc::new(move |source, account: String| {
            let observer = observer.clone();
            Box::pin(async move {
                let at = Utc::now();
                observer
                    .observe(source, &account, Observation::Webhook { at })
                    .await
            })
        })
    }
}
