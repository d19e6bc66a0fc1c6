//! Who may call the API: keys with a role, kept as hashes, never in plain text.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do. Each role may do everything the one before it may.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Systems of the brand: read tickets and customers, link identities.
    Integrator,
    /// People answering customers: also reply, assign, change status, write notes.
    Agent,
    /// Also create and revoke keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Integrator => "integrator",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
}

/// A stored key: its hash stands in for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_` and the start of the hash: how a key is named without being shown.
    pub id: String,
    /// Who holds it (an agent's name, an integration's name); the actor of what it does.
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the key. Keys are long random strings, so a fast hash is enough.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Hex SHA-256 of a presented key.
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id a key is stored and revoked under, from its hash.
pub fn key_id(hash: &str) -> String {
    format!("key_{}", &hash[..hash.len().min(16)])
}

impl ApiKey {
    /// The stored form of a newly made key.
    pub fn new(key: &str, name: &str, role: Role, now: DateTime<Utc>) -> Self {
        let hash = key_hash(key);
        Self {
            id: key_id(&hash),
            name: name.to_string(),
            role,
            hash,
            created_at: now,
            revoked_at: None,
        }
    }

    /// Whether `presented` is this key, still valid. Compares hashes, in constant time.
    pub fn admits(&self, presented: &str) -> bool {
        let presented = key_hash(presented);
        let same = presented.len() == self.hash.len()
            && presented
                .bytes()
                .zip(self.hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same && self.revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_key_is_kept_as_its_hash_and_admits_only_itself() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let key = ApiKey::new("sc_secret_value", "sally", Role::Agent, now);
        assert_eq!(key.hash.len(), 64);
        assert!(!key.hash.contains("secret"));
        assert_eq!(key.id, format!("key_{}", &key.hash[..16]));
        assert!(key.admits("sc_secret_value"));
        assert!(!key.admits("sc_secret_valuE"));
        let revoked = ApiKey {
            revoked_at: Some(now),
            ..key
        };
        assert!(!revoked.admits("sc_secret_value"));
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Integrator < Role::Agent && Role::Agent < Role::Admin);
    }
}
