//! The local runner's sealer: AES-256-GCM under a key made once and kept in the data directory
//! (readable by its owner alone), the account as associated data. The store (the SQLite file)
//! holds only sealed tokens: a copy of the database alone opens none of them.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use socialcare_domain::ports::{SealError, Sealer};
use std::path::Path;
use std::sync::Arc;

/// Where the key is kept, in the data directory.
pub const KEY_FILE: &str = "sealing.key";

#[derive(Clone)]
pub struct LocalSealer {
    cipher: Arc<Aes256Gcm>,
}

impl LocalSealer {
    /// The key of `data`, made now if there is none.
    pub fn load_or_create(data: &Path) -> anyhow::Result<Self> {
        let path = data.join(KEY_FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(text) => {
                crate::credentials::keep_private(&path)?;
                hex::decode(text.trim())
                    .ok()
                    .filter(|key| key.len() == 32)
                    .with_context(|| format!("{} is not a 256-bit hex key", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // With --aws the tickets are in DynamoDB and the directory may not exist yet.
                std::fs::create_dir_all(data)
                    .with_context(|| format!("making {}", data.display()))?;
                let key = Aes256Gcm::generate_key(OsRng).to_vec();
                crate::credentials::write_private(&path, &hex::encode(&key))?;
                key
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Self {
            cipher: Arc::new(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key))),
        })
    }
}

const NONCE_BYTES: usize = 12;

impl Sealer for LocalSealer {
    async fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    async fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| SealError("the sealed token is not base64".into()))?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError("the sealed token is too short".into()));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                SealError("the sealed token does not open: another account's, or altered".into())
            })
    }
}
