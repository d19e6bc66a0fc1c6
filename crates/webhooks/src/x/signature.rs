//! X's webhook security: the CRC challenge and the payload signature, both HMAC-SHA256 with
//! the app's consumer secret, base64-encoded.

use crate::signature::{SignatureError, hmac_sha256, matches};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;

pub const HEADER: &str = "x-twitter-webhooks-signature";

/// The longest `crc_token` answered. X's tokens are short (a UUID or base64 of one).
pub const MAX_CRC_TOKEN_CHARS: usize = 128;

/// Why a `crc_token` is not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CrcTokenError {
    #[error("crc_token is required")]
    Missing,
    #[error("crc_token must be 1 to 128 letters, digits or any of - _ . ~ + / =")]
    Shape,
}

/// The `response_token` that answers `GET ?crc_token=`: `sha256=<base64 HMAC(secret, token)>`.
///
/// The answer is the same HMAC that signs a webhook body, so answering any string would let
/// anyone have a forged body signed. Only tokens shaped like X's are answered: URL-safe and
/// base64 characters, bounded in length, which no JSON document can be.
pub fn crc_response_token(
    consumer_secret: &[u8],
    crc_token: &str,
) -> Result<String, CrcTokenError> {
    check_crc_token(crc_token)?;
    let mac = hmac_sha256(consumer_secret, &[crc_token.as_bytes()]);
    Ok(format!(
        "sha256={}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn check_crc_token(token: &str) -> Result<(), CrcTokenError> {
    if token.is_empty() {
        return Err(CrcTokenError::Missing);
    }
    let shaped = token.len() <= MAX_CRC_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b));
    match shaped {
        true => Ok(()),
        false => Err(CrcTokenError::Shape),
    }
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
            Ok("sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8=".to_string())
        );
        // base64 tokens, padding included, are answered too.
        assert!(crc_response_token(b"s", "OWI0NTA3YjMtOTA0MC00NjY5LTljYTM=").is_ok());
    }

    /// The CRC oracle: the answer to a token is the signature of a body equal to the token,
    /// so a token that could be a delivery body must never be answered.
    #[test]
    fn never_signs_a_body() {
        let secret = b"consumer-secret";
        let body = r#"{"for_user_id":"1","tweet_create_events":[]}"#;
        assert_eq!(crc_response_token(secret, body), Err(CrcTokenError::Shape));
        for token in ["[]", "\"a\"", "a b", "a\nb", "é", &"a".repeat(129)] {
            assert_eq!(
                crc_response_token(secret, token),
                Err(CrcTokenError::Shape),
                "{token}"
            );
        }
        assert_eq!(crc_response_token(secret, ""), Err(CrcTokenError::Missing));
        assert!(crc_response_token(secret, &"a".repeat(128)).is_ok());
    }

    #[test]
    fn accepts_the_signature_of_the_body_only() {
        let secret = b"consumer-secret";
        let body = b"{\"for_user_id\":\"1\"}";
        let mac = hmac_sha256(secret, &[body]);
        let header = format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()));
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
        fn never_answers_a_token_that_could_be_json(token in ".{0,40}[{\\[\"].{0,40}") {
            prop_assert!(crc_response_token(b"secret", &token).is_err());
        }

        #[test]
        fn never_panics_and_never_accepts_a_guess(header in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert!(verify(b"secret", Some(&header), b"body").is_err());
        }
    }
}
