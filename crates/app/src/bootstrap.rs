//! The bootstrap admin key: the one key that exists before any is made through the API. It can
//! be rotated without a redeploy: its secret may hold several keys (one per line, or separated
//! by commas), each accepted, and on Lambda the secret is read again every few minutes. Put
//! "new,old" in it, switch the clients, then leave "new".

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a reload failed: whatever the secret's store said (the keys read before stay).
pub type ReloadError = Box<dyn std::error::Error + Send + Sync>;

/// Reads the secret's current text again.
pub type Reload = Arc<dyn Fn() -> BoxFuture<'static, Result<String, ReloadError>> + Send + Sync>;

/// The accepted bootstrap keys, as SHA-256 digests (so comparing says nothing about a key).
#[derive(Clone)]
pub struct BootstrapKeys {
    state: Arc<Mutex<Loaded>>,
    reload: Option<(Reload, Duration)>,
}

struct Loaded {
    digests: Vec<[u8; 32]>,
    at: Instant,
}

/// The keys a secret's text holds: split on commas and whitespace, empty parts dropped.
pub fn digests_of(text: &str) -> Vec<[u8; 32]> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|key| !key.is_empty())
        .map(|key| Sha256::digest(key.as_bytes()).into())
        .collect()
}

impl BootstrapKeys {
    /// The keys in `text`, for good.
    pub fn fixed(text: &str) -> Self {
        Self {
            state: Arc::new(Mutex::new(Loaded {
                digests: digests_of(text),
                at: Instant::now(),
            })),
            reload: None,
        }
    }

    /// The keys in `text` now, read again through `reload` once they are `every` old.
    pub fn reloading(text: &str, reload: Reload, every: Duration) -> Self {
        Self {
            reload: Some((reload, every)),
            ..Self::fixed(text)
        }
    }

    /// Whether `presented` is one of the keys. A failed reload keeps the keys it had.
    pub async fn admits(&self, presented: &str) -> bool {
        self.admits_digest(Sha256::digest(presented.as_bytes()).into())
            .await
    }

    /// Whether the key with this hex SHA-256 (a console session's) is still one of the keys.
    pub async fn admits_hash(&self, hex_digest: &str) -> bool {
        match hex::decode(hex_digest)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
        {
            Some(digest) => self.admits_digest(digest).await,
            None => false,
        }
    }

    async fn admits_digest(&self, digest: [u8; 32]) -> bool {
        if let Some((reload, every)) = &self.reload {
            let stale = self.lock().at.elapsed() >= *every;
            if stale {
                match reload().await {
                    Ok(text) => {
                        // An emptied secret switches the bootstrap key off.
                        let mut loaded = self.lock();
                        loaded.digests = digests_of(&text);
                        loaded.at = Instant::now();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the bootstrap key again; keeping the keys read before");
                        self.lock().at = Instant::now();
                    }
                }
            }
        }
        self.lock().digests.contains(&digest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_key_of_the_secret_is_accepted() {
        let keys = BootstrapKeys::fixed("sk_new,sk_old\n");
        assert!(keys.admits("sk_new").await);
        assert!(keys.admits("sk_old").await);
        assert!(!keys.admits("sk_new,sk_old").await);
        assert!(!keys.admits("").await);
        assert!(!BootstrapKeys::fixed("").admits("").await);
        let hash = socialcare_domain::access::key_hash("sk_old");
        assert!(keys.admits_hash(&hash).await);
        assert!(
            !keys
                .admits_hash(&socialcare_domain::access::key_hash("sk_other"))
                .await
        );
        assert!(!keys.admits_hash("not hex").await);
    }

    /// Issue 14: rotating the bootstrap key needed a redeploy.
    #[tokio::test]
    async fn a_rotation_is_seen_when_the_secret_is_read_again() {
        let texts = ["sk_new,sk_old", "sk_new,sk_old", "sk_new", ""];
        let reads = Arc::new(AtomicUsize::new(0));
        let reload: Reload = {
            let reads = reads.clone();
            Arc::new(move || {
                let n = reads.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    match texts.get(n) {
                        Some(text) => Ok(text.to_string()),
                        None => Err("unavailable".into()),
                    }
                })
            })
        };
        let keys = BootstrapKeys::reloading("sk_old", reload, Duration::ZERO);
        assert!(keys.admits("sk_old").await, "during the switch, both");
        assert!(keys.admits("sk_new").await);
        assert!(!keys.admits("sk_old").await, "after it, only the new one");
        // An emptied secret switches the bootstrap key off.
        assert!(!keys.admits("sk_new").await);
        // The secret cannot be read: the keys read before stay (none, here).
        assert!(!keys.admits("sk_new").await);
        assert_eq!(reads.load(Ordering::SeqCst), 5);
    }
}
