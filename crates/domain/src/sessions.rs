//! Console sessions: a signed-in agent's browser holds an opaque token; the store keeps only
//! its hash, the hash of the API key it was opened with, and when it ends. A session ends at
//! its expiry, at sign-out, and as soon as its key is revoked (checked on every request).

use crate::access::Role;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a session lasts from sign-in: one working day, then the agent signs in again.
pub const LIFETIME_HOURS: i64 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Hex SHA-256 of the browser's token: a leaked store row opens nothing.
    pub id: String,
    /// Hex SHA-256 of the API key it was opened with, so revoking the key ends it.
    pub key_hash: String,
    /// Who signed in (the key's name), the actor of what the console does.
    pub name: String,
    pub role: Role,
    /// Sent with every form, compared before any change (the cookie alone changes nothing).
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The store's id of a session, from the token the browser presents.
pub fn session_id(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Session {
    /// A session for the holder of the key with hash `key_hash`, opened at `now` with a new
    /// random `token` (kept by the browser) and `csrf_token`.
    pub fn open(
        token: &str,
        csrf_token: &str,
        key_hash: &str,
        name: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: session_id(token),
            key_hash: key_hash.to_string(),
            name: name.to_string(),
            role,
            csrf_token: csrf_token.to_string(),
            created_at: now,
            ends_at: now + Duration::hours(LIFETIME_HOURS),
        }
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.ends_at
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn admits_csrf(&self, presented: &str) -> bool {
        let (a, b) = (presented.as_bytes(), self.csrf_token.as_bytes());
        !b.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_session_keeps_hashes_and_ends_after_its_lifetime() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let session = Session::open("tok", "csrf1", "abc", "sally", Role::Agent, now);
        assert_eq!(session.id, session_id("tok"));
        assert_eq!(session.id.len(), 64);
        assert_ne!(session.id, "tok");
        assert!(session.is_live(now + Duration::hours(11)));
        assert!(!session.is_live(now + Duration::hours(12)));
        assert!(session.admits_csrf("csrf1"));
        assert!(!session.admits_csrf("csrf2"));
        assert!(!session.admits_csrf(""));
        let empty = Session {
            csrf_token: String::new(),
            ..session
        };
        assert!(!empty.admits_csrf(""), "an empty token never matches");
    }
}
