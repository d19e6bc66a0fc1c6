//! Integrations: the brand's own systems (a CRM, an e-mail bridge, a web form) that send
//! messages in as `POST /webhooks/generic/{source}` and get replies back on their callback
//! URL. Each is registered under its `source` with a signing secret of its own, so that one
//! integrator cannot write as another (and take over its customers, or redirect their
//! replies), and a separate outbound secret that signs what socialcare sends it.
//!
//! A rotation makes new secrets while the previous ones stay valid for
//! [`rotation_overlap`]: the integrator switches without a moment of refused events.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The integration that the single configured secret (`IntegrationSecret`,
/// `SOCIALCARE_INTEGRATION_SECRET`) signs for, on `POST /webhooks/generic`.
pub const DEFAULT_INTEGRATION: &str = "default";

/// How long the secrets before a rotation keep working.
pub fn rotation_overlap() -> Duration {
    Duration::hours(24)
}

/// One signing secret: the current one, or the one before it until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// Set on the previous secret when a rotation replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

impl SigningSecret {
    fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }
}

/// A registered integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// The name its events carry in `source` (and its customers are filed under).
    pub source: String,
    /// Verifies what it sends: the current secret first, then the previous one.
    pub inbound: Vec<SigningSecret>,
    /// Signs what is sent to it: the current secret first, then the previous one.
    pub outbound: Vec<SigningSecret>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
    /// Bumped on every write; writes are conditional on it.
    pub version: u64,
}

/// Why a source name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source must be 1 to 64 letters, digits, '-', '_' or '.'")]
pub struct BadSource;

/// The names a source may have: the same rule as the `source` field of an event.
pub fn check_source(source: &str) -> Result<(), BadSource> {
    let ok = !source.is_empty()
        && source.len() <= 64
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    match ok {
        true => Ok(()),
        false => Err(BadSource),
    }
}

impl Integration {
    /// A new integration with the given secrets (made by the caller from real randomness).
    pub fn new(source: &str, inbound: String, outbound: String, now: DateTime<Utc>) -> Self {
        let secret = |secret| SigningSecret {
            secret,
            created_at: now,
            valid_until: None,
        };
        Self {
            source: source.to_string(),
            inbound: vec![secret(inbound)],
            outbound: vec![secret(outbound)],
            created_at: now,
            rotated_at: None,
            version: 1,
        }
    }

    /// The same integration with new current secrets; the current ones stay valid for
    /// [`rotation_overlap`], and any older ones are dropped.
    pub fn rotated(&self, inbound: String, outbound: String, now: DateTime<Utc>) -> Self {
        let next = |list: &[SigningSecret], secret: String| {
            let mut kept = vec![SigningSecret {
                secret,
                created_at: now,
                valid_until: None,
            }];
            if let Some(current) = list.first() {
                kept.push(SigningSecret {
                    valid_until: Some(now + rotation_overlap()),
                    ..current.clone()
                });
            }
            kept
        };
        Self {
            inbound: next(&self.inbound, inbound),
            outbound: next(&self.outbound, outbound),
            rotated_at: Some(now),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The same with every secret but the current ones expired at `now`: after a leak, the
    /// previous secret must not keep working for a day.
    pub fn without_previous(mut self, now: DateTime<Utc>) -> Self {
        for list in [&mut self.inbound, &mut self.outbound] {
            for secret in list.iter_mut().skip(1) {
                secret.valid_until = Some(now);
            }
        }
        self
    }

    /// The secrets an event may be signed with at `now`.
    pub fn inbound_secrets(&self, now: DateTime<Utc>) -> Vec<&[u8]> {
        valid(&self.inbound, now)
    }

    /// The secrets to sign with at `now` (each gives one `v1=` entry).
    pub fn outbound_secrets(&self, now: DateTime<Utc>) -> Vec<&[u8]> {
        valid(&self.outbound, now)
    }

    /// Until when the secrets before the last rotation work, if they still do.
    pub fn previous_valid_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inbound
            .iter()
            .skip(1)
            .find_map(|s| s.valid_until.filter(|until| now < *until))
    }
}

fn valid(list: &[SigningSecret], now: DateTime<Utc>) -> Vec<&[u8]> {
    list.iter()
        .filter(|s| s.valid_at(now))
        .map(|s| s.secret.as_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn a_rotation_keeps_the_previous_secrets_for_a_day() {
        let first = Integration::new("crm", "in-1".into(), "out-1".into(), at(0));
        assert_eq!(first.inbound_secrets(at(0)), vec![b"in-1".as_slice()]);
        assert_eq!(first.outbound_secrets(at(0)), vec![b"out-1".as_slice()]);
        assert_eq!(first.previous_valid_until(at(0)), None);

        let second = first.rotated("in-2".into(), "out-2".into(), at(1));
        assert_eq!(second.version, 2);
        assert_eq!(second.rotated_at, Some(at(1)));
        assert_eq!(
            second.inbound_secrets(at(2)),
            vec![b"in-2".as_slice(), b"in-1".as_slice()]
        );
        assert_eq!(
            second.outbound_secrets(at(2)),
            vec![b"out-2".as_slice(), b"out-1".as_slice()]
        );
        assert_eq!(second.previous_valid_until(at(2)), Some(at(25)));
        assert_eq!(second.inbound_secrets(at(25)), vec![b"in-2".as_slice()]);
        assert_eq!(second.previous_valid_until(at(25)), None);

        // After a leak: the previous ones end at once.
        let revoked = second.clone().without_previous(at(2));
        assert_eq!(revoked.inbound_secrets(at(2)), vec![b"in-2".as_slice()]);
        assert_eq!(revoked.outbound_secrets(at(2)), vec![b"out-2".as_slice()]);
        assert_eq!(revoked.previous_valid_until(at(2)), None);

        // Two valid at once, never three: a second rotation drops the oldest.
        let third = second.rotated("in-3".into(), "out-3".into(), at(3));
        assert_eq!(
            third.inbound_secrets(at(3)),
            vec![b"in-3".as_slice(), b"in-2".as_slice()]
        );
    }

    #[test]
    fn sources_are_short_plain_names() {
        for good in ["crm", "help-desk_2", "mail.bridge", &"a".repeat(64)] {
            assert_eq!(check_source(good), Ok(()), "{good}");
        }
        for bad in ["", "has space", "a/b", "é", &"a".repeat(65)] {
            assert_eq!(check_source(bad), Err(BadSource), "{bad}");
        }
    }
}
