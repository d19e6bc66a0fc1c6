//! X's webhook security: the CRC challenge and the payload signature, both HMAC-SHA256 with
//! the app's consumer secret, base64-encoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-twitter-webhooks-signature";

fn mac(consumer_secret: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(consumer_secret).expect("HMAC accepts any key length")
}

/// The `response_token` that answers `GET ?crc_token=`: `sha256=<base64 HMAC(secret, token)>`.
pub fn crc_response_token(consumer_secret: &[u8], crc_token: &str) -> String {
    let mut mac = mac(consumer_secret);
    mac.update(crc_token.as_bytes());
    format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the x-twitter-webhooks-signature header is missing")]
    Missing,
    #[error("the x-twitter-webhooks-signature header is not of the form sha256=<base64>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks `sha256=<base64 HMAC-SHA256(secret, raw body)>` in constant time.
pub fn verify(
    consumer_secret: &[u8],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let encoded = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let signature = STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(consumer_secret);
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The known vector from DESIGN.md.
    #[test]
    fn answers_the_crc_challenge() {
        assert_eq!(
            crc_response_token(
                b"z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu",
                "9b4507b3-9040-4669-9ca3-6b94edb50553"
            ),
            "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
        );
    }

    #[test]
    fn accepts_the_signature_of_the_body_only() {
        let secret = b"consumer-secret";
        // The same construction as the CRC: base64 HMAC of the bytes.
        let header = crc_response_token(secret, "{\"for_user_id\":\"1\"}");
        let body = b"{\"for_user_id\":\"1\"}";
        assert_eq!(verify(secret, Some(header.as_bytes()), body), Ok(()));
        assert_eq!(
            verify(secret, Some(header.as_bytes()), b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(header.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(secret, None, body), Err(SignatureError::Missing));
        assert_eq!(
            verify(secret, Some(b"sha1=abc"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(secret, Some(b"sha256=***"), body),
            Err(SignatureError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_never_accepts_a_guess(header in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert!(verify(b"secret", Some(&header), b"body").is_err());
        }
    }
}
