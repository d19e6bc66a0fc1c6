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
/// The least time between two reads of one source from the store, by default.
const MIN_REREAD: Duration = Duration::from_secs(5);

/// Looks integrations up by source, remembering each answer (found or not) for `ttl`.
#[derive(Clone)]
pub struct IntegrationDirectory {
    lookup: Option<Lookup>,
    ttl: Duration,
    min_reread: Duration,
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
            min_reread: MIN_REREAD,
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
            min_reread: MIN_REREAD,
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

    /// The same, reading one source again at most every `min_reread` (5 s by default).
    pub fn with_min_reread(self, min_reread: Duration) -> Self {
        Self { min_reread, ..self }
    }

    /// The same, read from the store unless it was read less than `min_reread` ago.
    pub async fn get_fresh(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        self.find(source, true).await
    }

    /// Whether `source` is a registered integration's, read again when remembered as free.
    pub async fn registered(&self, source: &str) -> Result<bool, StoreError> {
        match self.get(source).await? {
            Some(_) => Ok(true),
            None if self.remembers() => Ok(self.get_fresh(source).await?.is_some()),
            None => Ok(false),
        }
    }

    async fn find(&self, source: &str, fresh: bool) -> Result<Option<Integration>, StoreError> {
        let Some(lookup) = &self.lookup else {
            return Ok(None);
        };
        if !self.ttl.is_zero() {
            let remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, found)) = remembered.get(source) {
                // A fresh read is asked for when what is remembered does not fit; at most
                // one per source every few seconds, so that no request can make every one
                // read the store.
                let young = at.elapsed() < self.ttl;
                if young && (!fresh || at.elapsed() < self.min_reread) {
                    return Ok(found.clone());
                }
            }
        }
        let found = lookup(source.to_string()).await?;
        if !self.ttl.is_zero() {
            let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if remembered.len() >= MAX_REMEMBERED {
                let ttl = self.ttl;
                remembered.retain(|_, (at, _)| at.elapsed() < ttl);
                let oldest = remembered
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(source, _)| source.clone());
                if remembered.len() >= MAX_REMEMBERED
                    && let Some(oldest) = oldest
                {
                    remembered.remove(&oldest);
                }
            }
            remembered.insert(source.to_string(), (Instant::now(), found.clone()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socialcare_domain::ports::StoreError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(reads: Arc<AtomicUsize>, ttl: Duration) -> IntegrationDirectory {
        let lookup: Lookup = Arc::new(move |_source: String| {
            reads.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok::<_, StoreError>(None) })
        });
        IntegrationDirectory {
            lookup: Some(lookup),
            ttl,
            min_reread: MIN_REREAD,
            remembered: Arc::default(),
        }
    }

    /// Review of issue 14: a request naming an unknown source, or with a wrong signature,
    /// asked for a fresh read every time, so junk traffic read the store per request.
    #[tokio::test]
    async fn fresh_reads_are_at_most_one_per_source_every_few_seconds() {
        let reads = Arc::new(AtomicUsize::new(0));
        let directory = counting(reads.clone(), Duration::from_secs(60));
        for _ in 0..100 {
            assert_eq!(directory.get("junk").await.unwrap(), None);
            assert_eq!(directory.get_fresh("junk").await.unwrap(), None);
            assert!(!directory.registered("junk").await.unwrap());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_full_memory_forgets_the_oldest_not_everything() {
        let reads = Arc::new(AtomicUsize::new(0));
        let directory = counting(reads.clone(), Duration::from_secs(60));
        for i in 0..=MAX_REMEMBERED {
            directory.get(&format!("source-{i}")).await.unwrap();
        }
        assert_eq!(directory.remembered.lock().unwrap().len(), MAX_REMEMBERED);
        let before = reads.load(Ordering::SeqCst);
        directory
            .get(&format!("source-{MAX_REMEMBERED}"))
            .await
            .unwrap();
        assert_eq!(
            reads.load(Ordering::SeqCst),
            before,
            "the newest is still remembered"
        );
    }
}
