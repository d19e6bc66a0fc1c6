//! X's webhook security: the CRC challenge and the payload signature, both HMAC-SHA256 with
//! the app's consumer secret, base64-encoded.

use crate::signature::{SignatureError, hmac_sha256, matches};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;

pub const HEADER: &str = "x-twitter-webhooks-signature";

/// The `response_token` that answers `GET ?crc_token=`: `sha256=<base64 HMAC(secret, token)>`.
pub fn crc_response_token(consumer_secret: &[u8], crc_token: &str) -> String {
    let mac = hmac_sha256(consumer_secret, &[crc_token.as_bytes()]);
    format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Checks `sha256=<base64 HMAC-SHA256(secret, raw body)>` in constant time.
pub fn verify(
    consumer_secret: &[u8],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let malformed = SignatureError::Malformed {
        header: HEADER,
        form: "sha256=<base64>",
    };
    let header = header.ok_or(SignatureError::Missing { header: HEADER })?;
    let encoded = header.strip_prefix(b"sha256=").ok_or(malformed)?;
    let signature = STANDARD.decode(encoded).map_err(|_| malformed)?;
    match matches(consumer_secret, &[body], &signature) {
        true => Ok(()),
        false => Err(SignatureError::Mismatch),
    }
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
        assert_eq!(
            verify(secret, None, body),
            Err(SignatureError::Missing { header: HEADER })
        );
        assert_eq!(
            verify(secret, Some(b"sha1=abc"), body),
            Err(SignatureError::Malformed {
                header: HEADER,
                form: "sha256=<base64>"
            })
        );
        assert_eq!(
            verify(secret, Some(b"sha256=***"), body),
            Err(SignatureError::Malformed {
                header: HEADER,
                form: "sha256=<base64>"
            })
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_never_accepts_a_guess(header in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert!(verify(b"secret", Some(&header), b"body").is_err());
        }
    }
}
