//! Meta's webhook security: the subscription handshake and `X-Hub-Signature-256`.

use crate::signature::{SignatureError, matches};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "x-hub-signature-256";

/// Checks `sha256=<hex HMAC-SHA256(app secret, raw body)>` in constant time.
pub fn verify(app_secret: &[u8], header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
    let malformed = SignatureError::Malformed {
        header: HEADER,
        form: "sha256=<hex>",
    };
    let header = header.ok_or(SignatureError::Missing { header: HEADER })?;
    let encoded = header.strip_prefix(b"sha256=").ok_or(malformed)?;
    let signature = hex::decode(encoded).map_err(|_| malformed)?;
    match matches(app_secret, &[body], &signature) {
        true => Ok(()),
        false => Err(SignatureError::Mismatch),
    }
}

/// The subscription handshake: `hub.challenge` is echoed when `hub.mode` is `subscribe` and
/// `hub.verify_token` is ours; otherwise `None` (answer 403).
pub fn challenge<'a>(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
) -> Option<&'a str> {
    let token_matches = token.is_some_and(|given| {
        // Compare digests so that the time taken says nothing about the token.
        Sha256::digest(given.as_bytes()) == Sha256::digest(verify_token.as_bytes())
    });
    (mode == Some("subscribe") && token_matches)
        .then_some(challenge)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_hex_signature_of_the_body_only() {
        // printf '{"object":"page"}' | openssl dgst -sha256 -hmac app-secret
        let header = b"sha256=7c2d8d56d3a8b7b8a6d42d2c8b0fa8d8c8d5f2f3b0b2ba6c8e6b7a7b6a9e5d1c";
        let body = br#"{"object":"page"}"#;
        let mac = crate::signature::hmac_sha256(b"app-secret", &[body]);
        let good = format!(
            "sha256={}",
            hex::encode(hmac::Mac::finalize(mac).into_bytes())
        );
        assert_eq!(verify(b"app-secret", Some(good.as_bytes()), body), Ok(()));
        assert_eq!(
            verify(b"app-secret", Some(header), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(good.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"app-secret", None, body),
            Err(SignatureError::Missing { header: HEADER })
        );
        assert_eq!(
            verify(b"app-secret", Some(b"sha1=00"), body),
            Err(SignatureError::Malformed {
                header: HEADER,
                form: "sha256=<hex>"
            })
        );
        assert_eq!(
            verify(b"app-secret", Some(b"sha256=zz"), body),
            Err(SignatureError::Malformed {
                header: HEADER,
                form: "sha256=<hex>"
            })
        );
    }

    #[test]
    fn the_handshake_echoes_only_for_our_token() {
        assert_eq!(
            challenge("vt", Some("subscribe"), Some("vt"), Some("123")),
            Some("123")
        );
        assert_eq!(
            challenge("vt", Some("subscribe"), Some("no"), Some("123")),
            None
        );
        assert_eq!(
            challenge("vt", Some("unsubscribe"), Some("vt"), Some("123")),
            None
        );
        assert_eq!(challenge("vt", None, None, Some("123")), None);
        assert_eq!(challenge("vt", Some("subscribe"), Some("vt"), None), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_never_accepts_a_guess(header in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert!(verify(b"secret", Some(&header), b"body").is_err());
        }
    }
}
