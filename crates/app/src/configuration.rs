//! The configuration in force: the accounts-and-teams document kept versioned in the store,
//! read by every handler through a [`ConfigurationCache`] that notices a new version within its
//! time to live (a minute on Lambda), and at once where the API that saved it shares the
//! cache (the local runner). Changes go through [`change`]: read, edit, check whole, store
//! as the next version, or read again when another change came first.

use crate::accounts::{AccountsDocument, ConfigError, Configuration};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use socialcare_domain::configuration::{ConfigurationChange, ConfigurationVersion};
use socialcare_domain::ports::{CommitError, ConfigurationStore, StoreError};
use socialcare_domain::retry::{Round, optimistic};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a Lambda container uses what it read before asking the store for the version.
pub const LAMBDA_TTL: Duration = Duration::from_secs(60);

/// Reads the newest version when it is not `known`.
type Reader = Arc<
    dyn Fn(Option<u64>) -> BoxFuture<'static, Result<Option<ConfigurationVersion>, StoreError>>
        + Send
        + Sync,
>;

struct Cached {
    version: Option<u64>,
    configuration: Arc<Configuration>,
    checked_at: Instant,
}

/// The configuration a process uses, refreshed from the store at most every `ttl`.
#[derive(Clone)]
pub struct ConfigurationCache {
    reader: Option<Reader>,
    ttl: Duration,
    cached: Arc<Mutex<Cached>>,
    /// One refresh at a time; requests meanwhile use what is cached.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for ConfigurationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigurationCache")
            .field("ttl", &self.ttl)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl Default for ConfigurationCache {
    fn default() -> Self {
        Self::fixed(Configuration::default())
    }
}

/// Why a process could not read its configuration at start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading the configuration: {0}")]
    Store(#[from] StoreError),
    /// The document to import is refused, in the loader's words.
    #[error("{origin}: {error}")]
    Import { origin: String, error: ConfigError },
    /// What the store holds no longer reads (a document of a newer version of socialcare).
    #[error("the stored configuration (version {version}) is unreadable: {error}")]
    Stored { version: u64, error: String },
    /// The document to import could not be read (its file or secret).
    #[error("reading the configuration to import: {0}")]
    Source(String),
}

/// A TOML document to import into a store that has no configuration yet.
#[derive(Debug, Clone)]
pub struct Import {
    pub text: String,
    /// Where it came from, named in the change and in errors: `SOCIALCARE_CONFIG (path)`.
    pub origin: String,
}

fn decode(version: &ConfigurationVersion) -> Result<Configuration, String> {
    let document: AccountsDocument =
        serde_json::from_str(&version.document).map_err(|e| e.to_string())?;
    Configuration::of(document).map_err(|e| e.to_string())
}

/// The document as the store keeps it, checked to read back the same: a value JSON cannot
/// carry is never stored (every function would fail to start on it).
fn encode(document: &AccountsDocument) -> Result<String, StoreError> {
    let json = serde_json::to_string(document).map_err(|e| StoreError::invalid(e.to_string()))?;
    match serde_json::from_str::<AccountsDocument>(&json) {
        Ok(back) if &back == document => Ok(json),
        _ => Err(StoreError::invalid(
            "the configuration does not read back the same from JSON",
        )),
    }
}

impl ConfigurationCache {
    /// Always `configuration`: no store behind it (tests, and states built by hand).
    pub fn fixed(configuration: Configuration) -> Self {
        Self {
            reader: None,
            ttl: Duration::MAX,
            cached: Arc::new(Mutex::new(Cached {
                version: None,
                configuration: Arc::new(configuration),
                checked_at: Instant::now(),
            })),
            refreshing: Arc::default(),
        }
    }

    /// Always these rules (and no accounts): tests of what the rules drive.
    pub fn of_rules(rules: socialcare_domain::threading::Rules) -> Self {
        Self::fixed(Configuration {
            rules,
            ..Configuration::default()
        })
    }

    /// The configuration of `store`, read now. When the store has none, what `import` reads
    /// (a file, a secret) is stored as its first version; several processes starting at once
    /// import it once. Afterwards the store wins: the file or secret is not read again.
    pub async fn load<S, F>(
        store: S,
        ttl: Duration,
        import: impl FnOnce() -> F,
    ) -> Result<Self, LoadError>
    where
        S: ConfigurationStore + Clone + 'static,
        F: Future<Output = Result<Option<Import>, LoadError>>,
    {
        let mut stored = store.configuration().await?;
        let import = match stored {
            None => import().await?,
            Some(_) => None,
        };
        if let (None, Some(import)) = (&stored, import) {
            let configuration =
                Configuration::parse(&import.text).map_err(|error| LoadError::Import {
                    origin: import.origin.clone(),
                    error,
                })?;
            let first = ConfigurationVersion {
                version: 1,
                document: encode(&configuration.document)?,
                change: ConfigurationChange {
                    version: 1,
                    at: Utc::now(),
                    by: "import".into(),
                    summary: format!("imported from {}", import.origin),
                },
            };
            match store.put_configuration(&first).await {
                Ok(()) => {
                    tracing::info!(origin = %import.origin, "configuration imported as version 1")
                }
                Err(CommitError::Conflict | CommitError::Duplicate) => {}
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
            stored = store.configuration().await?;
        }
        let (version, configuration) = match &stored {
            Some(stored) => (
                Some(stored.version),
                decode(stored).map_err(|error| LoadError::Stored {
                    version: stored.version,
                    error,
                })?,
            ),
            None => (None, Configuration::default()),
        };
        let reader: Reader = Arc::new(move |known: Option<u64>| {
            let store = store.clone();
            Box::pin(async move {
                let newest = store.configuration_version().await?;
                if newest.is_none() || newest == known {
                    return Ok(None);
                }
                store.configuration().await
            })
        });
        Ok(Self {
            reader: Some(reader),
            ttl,
            cached: Arc::new(Mutex::new(Cached {
                version,
                configuration: Arc::new(configuration),
                checked_at: Instant::now(),
            })),
            refreshing: Arc::default(),
        })
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The version in use (`None`: nothing stored yet).
    pub fn version(&self) -> Option<u64> {
        self.cached().version
    }

    /// What is in use now, without asking the store.
    pub fn snapshot(&self) -> Arc<Configuration> {
        self.cached().configuration.clone()
    }

    /// The configuration in force: the cached one, read again from the store when it is
    /// older than the time to live. A store that cannot be read keeps the cached one in use.
    pub async fn current(&self) -> Arc<Configuration> {
        let Some(reader) = &self.reader else {
            return self.snapshot();
        };
        let due = || self.cached().checked_at.elapsed() >= self.ttl;
        if !due() {
            return self.snapshot();
        }
        let Ok(_refreshing) = self.refreshing.try_lock() else {
            return self.snapshot();
        };
        if !due() {
            return self.snapshot();
        }
        let known = self.version();
        match reader(known).await {
            Ok(Some(newer)) => match decode(&newer) {
                Ok(configuration) => self.install(newer.version, configuration),
                Err(error) => {
                    tracing::error!(version = newer.version, %error, "the stored configuration is unreadable; the one before stays in use");
                    self.cached().checked_at = Instant::now();
                }
            },
            Ok(None) => self.cached().checked_at = Instant::now(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the configuration's version; the cached one stays in use");
                self.cached().checked_at = Instant::now();
            }
        }
        self.snapshot()
    }

    /// Uses `configuration` as `version` from now on, unless a newer one is in use already.
    pub fn install(&self, version: u64, configuration: Configuration) {
        let mut cached = self.cached();
        if cached.version.is_some_and(|v| v > version) {
            return;
        }
        tracing::info!(version, "configuration in force");
        *cached = Cached {
            version: Some(version),
            configuration: Arc::new(configuration),
            checked_at: Instant::now(),
        };
    }
}

/// Why a change was not made.
#[derive(Debug)]
pub enum ChangeError<E> {
    /// The edit itself refused (the account exists already, the team is unknown, ...).
    Edit(E),
    /// The document it made is refused, in the loader's words.
    Invalid(ConfigError),
    Store(StoreError),
    /// Other changes kept coming first.
    Busy,
}

impl<E> From<StoreError> for ChangeError<E> {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Makes one change: `edit` the newest document, check it whole, store it as the next version
/// in `by`'s name with `summary`, install it in `cache`; read again when another change came
/// first. Returns the configuration now in force.
pub async fn change<S, E>(
    store: &S,
    cache: &ConfigurationCache,
    by: &str,
    summary: &str,
    at: DateTime<Utc>,
    edit: impl Fn(&mut AccountsDocument) -> Result<(), E>,
) -> Result<(u64, Arc<Configuration>), ChangeError<E>>
where
    S: ConfigurationStore,
{
    let edit = &edit;
    optimistic(
        || async move {
            let stored = store.configuration().await?;
            let (before, mut document) = match &stored {
                Some(stored) => {
                    let document: AccountsDocument = serde_json::from_str(&stored.document)
                        .map_err(|e| {
                            StoreError::invalid(format!(
                                "the stored configuration (version {}) is unreadable: {e}",
                                stored.version
                            ))
                        })?;
                    (stored.version, document)
                }
                None => (0, AccountsDocument::default()),
            };
            edit(&mut document).map_err(ChangeError::Edit)?;
            let configuration = Configuration::of(document).map_err(ChangeError::Invalid)?;
            let version = before + 1;
            let next = ConfigurationVersion {
                version,
                document: encode(&configuration.document)?,
                change: ConfigurationChange {
                    version,
                    at,
                    by: by.to_string(),
                    summary: summary.to_string(),
                },
            };
            match store.put_configuration(&next).await {
                Ok(()) => {
                    cache.install(version, configuration.clone());
                    Ok(Round::Done((version, Arc::new(configuration))))
                }
                Err(CommitError::Conflict | CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || ChangeError::Busy,
    )
    .await
}
