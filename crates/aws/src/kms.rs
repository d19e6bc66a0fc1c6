//! Sealer on KMS: each token is encrypted under the key the template creates, with the account
//! as encryption context. The API may encrypt; only the functions that post may decrypt.

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use socialcare_domain::ports::{SealError, Sealer};

#[derive(Clone)]
pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSealer {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

/// The encryption context's key: the account the token belongs to.
const CONTEXT: &str = "socialcare:account";

impl Sealer for KmsSealer {
    async fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTEXT, context)
            .send()
            .await
            .map_err(|e| SealError(format!("kms encrypt: {}", DisplayErrorContext(e))))?;
        let blob = output
            .ciphertext_blob
            .ok_or_else(|| SealError("kms encrypt: no ciphertext".into()))?;
        Ok(STANDARD.encode(blob.as_ref()))
    }

    async fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let blob = STANDARD
            .decode(sealed)
            .map_err(|_| SealError("the sealed token is not base64".into()))?;
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTEXT, context)
            .send()
            .await
            .map_err(|e| SealError(format!("kms decrypt: {}", DisplayErrorContext(e))))?;
        output
            .plaintext
            .map(Blob::into_inner)
            .ok_or_else(|| SealError("kms decrypt: no plaintext".into()))
    }
}
