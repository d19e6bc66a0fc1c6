//! What the three signature schemes share: HMAC-SHA256 and the ways a signature can fail.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {header} header is missing")]
    Missing { header: &'static str },
    #[error("the {header} header is not of the form {form}")]
    Malformed {
        header: &'static str,
        form: &'static str,
    },
    #[error("the signature timestamp is more than 300 seconds away from now")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// HMAC-SHA256 keyed with `secret`, fed `parts` in order.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Checks `signature` against the HMAC of `parts`, in constant time.
pub fn matches(secret: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    hmac_sha256(secret, parts).verify_slice(signature).is_ok()
}
