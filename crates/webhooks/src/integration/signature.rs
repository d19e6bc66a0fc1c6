//! The socialcare signature: `X-Socialcare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
//! over `"<t>.<raw body>"`. Integrators sign what they send us; we sign what we send them.
//!
//! Up to [`MAX_SIGNATURES`] `v1=` entries may be given (while a secret is being rotated); one
//! match is enough.

use crate::signature::{SignatureError, hmac_sha256};
use chrono::{DateTime, Utc};
use hmac::Mac;
use subtle::ConstantTimeEq;

pub const HEADER: &str = "x-socialcare-signature";
/// How far the signed time may be from ours, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

const MALFORMED: SignatureError = SignatureError::Malformed {
    header: "X-Socialcare-Signature",
    form: "t=<unix seconds>,v1=<hex>",
};

/// The header value that signs `body` at `at`.
pub fn sign(secret: &[u8], at: DateTime<Utc>, body: &[u8]) -> String {
    sign_with_each(&[secret], at, body)
}

/// The header value with one `v1=` entry per secret (the current one first): during a
/// rotation the receiver may check either.
pub fn sign_with_each(secrets: &[&[u8]], at: DateTime<Utc>, body: &[u8]) -> String {
    let timestamp = at.timestamp().to_string();
    let mut header = format!("t={timestamp}");
    for secret in secrets.iter().take(MAX_SIGNATURES) {
        let mac = hmac_sha256(secret, &[timestamp.as_bytes(), b".", body]);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

/// The most `v1=` entries a header may carry: two during a rotation, with room to spare.
pub const MAX_SIGNATURES: usize = 4;
/// The most entries of any scheme; more is not a header anyone sends.
const MAX_ENTRIES: usize = 8;

/// Checks a header value against the raw body, in constant time, before anything parses it.
///
/// The MAC of the body is computed once, whatever the header holds: a header with many
/// entries costs no more to refuse than one with a single entry.
pub fn verify(
    secret: &[u8],
    header: Option<&[u8]>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    verify_any(&[secret], header, body, now).map(|_| ())
}

/// [`verify`] against each of `secrets` (the current one and, during a rotation, the one
/// before it); answers the index of the secret that signed. One MAC per secret.
pub fn verify_any(
    secrets: &[&[u8]],
    header: Option<&[u8]>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<usize, SignatureError> {
    SignedHeader::read(header, now)?.matches(secrets, body)
}

/// A header that is well formed and recent, not yet checked against any secret: read it
/// first, so that a request that can never pass costs nothing more (no store read, no MAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeader {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

impl SignedHeader {
    pub fn read(header: Option<&[u8]>, now: DateTime<Utc>) -> Result<Self, SignatureError> {
        let header = header.ok_or(SignatureError::Missing {
            header: "X-Socialcare-Signature",
        })?;
        let header = std::str::from_utf8(header).map_err(|_| MALFORMED)?;
        let mut timestamp: Option<i64> = None;
        let mut signatures: Vec<Vec<u8>> = Vec::new();
        for (index, part) in header.split(',').enumerate() {
            if index >= MAX_ENTRIES {
                return Err(MALFORMED);
            }
            match part.trim().split_once('=') {
                Some((_, "")) => return Err(MALFORMED),
                Some(("t", value)) if timestamp.is_none() => {
                    timestamp = Some(value.parse().map_err(|_| MALFORMED)?)
                }
                Some(("v1", value)) if signatures.len() < MAX_SIGNATURES => {
                    signatures.push(hex::decode(value).map_err(|_| MALFORMED)?)
                }
                Some(("t" | "v1", _)) => return Err(MALFORMED),
                // Unknown schemes are skipped, so a future v2 can be sent beside v1.
                Some(_) => {}
                None => return Err(MALFORMED),
            }
        }
        let timestamp = timestamp.ok_or(MALFORMED)?;
        if signatures.is_empty() {
            return Err(MALFORMED);
        }
        if now.timestamp().abs_diff(timestamp) > TOLERANCE_SECONDS as u64 {
            return Err(SignatureError::Stale);
        }
        Ok(Self {
            timestamp,
            signatures,
        })
    }

    /// The index of the secret that signed `body`; an empty secret never signs (anyone could
    /// compute its MAC).
    pub fn matches(&self, secrets: &[&[u8]], body: &[u8]) -> Result<usize, SignatureError> {
        let signed = self.timestamp.to_string();
        for (index, secret) in secrets.iter().enumerate() {
            if secret.is_empty() {
                continue;
            }
            let expected = hmac_sha256(secret, &[signed.as_bytes(), b".", body])
                .finalize()
                .into_bytes();
            // Every entry is compared, in constant time, so the time taken tells nothing.
            let matched = self
                .signatures
                .iter()
                .fold(subtle::Choice::from(0), |found, given| {
                    found | expected.as_slice().ct_eq(given.as_slice())
                });
            if bool::from(matched) {
                return Ok(index);
            }
        }
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
    }

    #[test]
    fn signs_as_documented() {
        // Computed independently: printf '1795341600.{}' | openssl dgst -sha256 -hmac whsec_test_0123456789
        assert_eq!(
            sign(SECRET, now(), b"{}"),
            "t=1795341600,v1=de61f717d6be5e41a4afa505abc265431cef34aa8db83e227e96bc60c9331027"
        );
    }

    #[test]
    fn accepts_its_own_signature() {
        let header = sign(SECRET, now(), b"body");
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"body", now()),
            Ok(())
        );
    }

    #[test]
    fn accepts_any_matching_v1_during_rotation() {
        let good = sign(SECRET, now(), b"body");
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t={},v1={},v1={v1}", now().timestamp(), "00".repeat(32));
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"body", now()),
            Ok(())
        );
    }

    #[test]
    fn refuses_a_changed_body_or_another_secret() {
        let header = sign(SECRET, now(), b"body");
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"bodY", now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(header.as_bytes()), b"body", now()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_old_and_future_timestamps_beyond_five_minutes() {
        let header = sign(SECRET, now(), b"body");
        let later = now() + chrono::Duration::seconds(301);
        let earlier = now() - chrono::Duration::seconds(301);
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"body", later),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"body", earlier),
            Err(SignatureError::Stale)
        );
        let edge = now() + chrono::Duration::seconds(300);
        assert_eq!(
            verify(SECRET, Some(header.as_bytes()), b"body", edge),
            Ok(())
        );
    }

    /// Issue 14: `t=now` and 2,000 empty `v1=` entries cost one HMAC of the body per entry.
    #[test]
    fn refuses_many_or_empty_entries_as_malformed() {
        let t = now().timestamp();
        let good = sign(SECRET, now(), b"body");
        let v1 = good.split_once(",v1=").unwrap().1;
        let many_empty = format!("t={t}{}", ",v1=".repeat(2000));
        let five = format!("t={t}{}", format!(",v1={v1}").repeat(5));
        let four = format!("t={t}{}", format!(",v1={v1}").repeat(4));
        let cases = [
            many_empty,
            five,
            format!("t={t},v1="),
            format!("t={t},v1={v1},"),
            format!("t={t},,v1={v1}"),
            format!("t={t},t={t},v1={v1}"),
            format!("t={t}{},v1={v1}", ",v2=00".repeat(8)),
        ];
        for header in cases {
            assert_eq!(
                verify(SECRET, Some(header.as_bytes()), b"body", now()),
                Err(MALFORMED),
                "{header:.80}"
            );
        }
        assert_eq!(
            verify(SECRET, Some(four.as_bytes()), b"body", now()),
            Ok(())
        );
    }

    /// Anyone can compute the MAC of an empty key: it never signs.
    #[test]
    fn an_empty_secret_never_signs() {
        let header = sign(b"", now(), b"body");
        assert_eq!(
            verify(b"", Some(header.as_bytes()), b"body", now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_any(
                &[b"", SECRET],
                Some(sign(SECRET, now(), b"body").as_bytes()),
                b"body",
                now()
            ),
            Ok(1)
        );
    }

    #[test]
    fn names_what_is_wrong_with_the_header() {
        let cases: [(&[u8], SignatureError); 6] = [
            (b"", MALFORMED),
            (b"t=abc,v1=00", MALFORMED),
            (b"t=1795341600", MALFORMED),
            (b"v1=00", MALFORMED),
            (b"t=1795341600,v1=zz", MALFORMED),
            (b"\xff\xfe", MALFORMED),
        ];
        for (header, expected) in cases {
            assert_eq!(
                verify(SECRET, Some(header), b"x", now()),
                Err(expected),
                "{header:?}"
            );
        }
        assert_eq!(
            verify(SECRET, None, b"x", now()),
            Err(SignatureError::Missing {
                header: "X-Socialcare-Signature"
            })
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_any_header(header in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = verify(SECRET, Some(&header), b"x", now());
        }

        #[test]
        fn never_accepts_a_forged_header(header in "t=[0-9]{1,12},v1=[0-9a-f]{64}") {
            prop_assert!(verify(SECRET, Some(header.as_bytes()), b"x", now()).is_err());
        }
    }
}
