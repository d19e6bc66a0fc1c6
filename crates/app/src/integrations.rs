//! The registered integrations as the webhook sees them: looked up in the store by source,
//! kept for a short while (on Lambda, every request would otherwise read the table).

use futures::future::BoxFuture;
use socialcare_domain::integrations::{DEFAULT_INTEGRATION, Integration};
use socialcare_domain::ports::{IntegrationStore, StoreError};
use socialcare_platforms::SigningSecrets;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Lookup = Arc<
    dyn Fn(String) -> BoxFuture<'static, Result<Option<Integration>, StoreError>> + Send + Sync,
>;

/// What each source was found to be, and when.
type Remembered = Arc<Mutex<HashMap<String, (Instant, Option<Integration>)>>>;

/// How many sources are remembered; an attacker naming endless sources cannot grow it further.
const MAX_REMEMBERED: usize = 1_000;

/// Looks integrations up by source, remembering each answer (found or not) for `ttl`.
#[derive(Clone)]
pub struct IntegrationDirectory {
    lookup: Option<Lookup>,
    ttl: Duration,
    remembered: Remembered,
}

impl std::fmt::Debug for IntegrationDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationDirectory")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for IntegrationDirectory {
    fn default() -> Self {
        Self::none()
    }
}

impl IntegrationDirectory {
    /// No integration is registered: only the default one, with the configured secret.
    pub fn none() -> Self {
        Self {
            lookup: None,
            ttl: Duration::ZERO,
            remembered: Arc::default(),
        }
    }

    /// The integrations of `store`; a change is seen within `ttl` (zero: at once).
    pub fn of<S: IntegrationStore + Clone + 'static>(store: S, ttl: Duration) -> Self {
        let lookup: Lookup = Arc::new(move |source: String| {
            let store = store.clone();
            Box::pin(async move { store.get_integration(&source).await })
        });
        Self {
            lookup: Some(lookup),
            ttl,
            remembered: Arc::default(),
        }
    }

    /// The secrets that sign what is sent to `source`: its own once registered, else the
    /// default integration's once rotated, else `configured`.
    pub fn signing_secrets(&self, configured: Vec<u8>) -> SigningSecrets {
        let directory = self.clone();
        Arc::new(move |source: String| {
            let (directory, configured) = (directory.clone(), configured.clone());
            Box::pin(async move {
                let now = chrono::Utc::now();
                for name in [source.as_str(), DEFAULT_INTEGRATION] {
                    match directory.get(name).await {
                        Ok(Some(integration)) => {
                            return integration
                                .outbound_secrets(now)
                                .into_iter()
                                .map(<[u8]>::to_vec)
                                .collect();
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(source = name, error = %e, "integration lookup failed; signing with the configured secret");
                            break;
                        }
                    }
                }
                vec![configured]
            })
        })
    }

    /// Whether answers are remembered for a while (so that one may be out of date).
    pub fn remembers(&self) -> bool {
        self.lookup.is_some() && !self.ttl.is_zero()
    }

    pub async fn get(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        self.find(source, false).await
    }

    /// The same, read from the store whatever is remembered.
    pub async fn get_fresh(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        self.find(source, true).await
    }

    async fn find(&self, source: &str, fresh: bool) -> Result<Option<Integration>, StoreError> {
        let Some(lookup) = &self.lookup else {
            return Ok(None);
        };
        if !self.ttl.is_zero() && !fresh {
            let remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, found)) = remembered.get(source)
                && at.elapsed() < self.ttl
            {
                return Ok(found.clone());
            }
        }
        let found = lookup(source.to_string()).await?;
        if !self.ttl.is_zero() {
            let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
            remembered.insert(source.to_string(), (Instant::now(), found.clone()));
        }
        Ok(found)
    }
}
