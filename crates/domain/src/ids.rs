//! Identifiers. They are ULIDs (time-ordered) prefixed with their kind, and they are derived
//! from what they identify: the same platform message always gets the same message id, and the
//! ticket it opens always gets the same ticket id. A redelivered event therefore cannot mint a
//! second ticket, and a replay of old traffic yields the same ids.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use ulid::Ulid;

macro_rules! id_type {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// The id of the thing first seen at `at` and known by `key`.
            pub fn derive(at: DateTime<Utc>, key: &str) -> Self {
                Self(format!("{}{}", $prefix, derived_ulid(at, key)))
            }

            /// Accepts an id given from outside (an API path) if it has this kind's shape.
            pub fn parse(raw: &str) -> Option<Self> {
                let rest = raw.strip_prefix($prefix)?;
                Ulid::from_string(rest).ok()?;
                Some(Self(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(TicketId, "tkt_");
id_type!(MessageId, "msg_");
id_type!(CustomerId, "cus_");
id_type!(EventId, "evt_");
id_type!(IncidentId, "inc_");
id_type!(UpdateId, "upd_");

/// A ULID whose time part is `at` and whose random part is the hash of `key`.
fn derived_ulid(at: DateTime<Utc>, key: &str) -> Ulid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let digest = Sha256::digest(key.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    Ulid::from_parts(millis, u128::from_be_bytes(random))
}

/// A stable, fixed-length hex digest of a key: for queue dedupe and group ids, which have a
/// length limit and a restricted alphabet.
pub fn key_digest(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn same_key_and_time_give_the_same_id() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        assert_eq!(TicketId::derive(at, "a"), TicketId::derive(at, "a"));
        assert_ne!(TicketId::derive(at, "a"), TicketId::derive(at, "b"));
    }

    #[test]
    fn ids_sort_by_time() {
        let early = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let late = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        assert!(MessageId::derive(early, "zzz") < MessageId::derive(late, "aaa"));
    }

    #[test]
    fn parse_checks_prefix_and_shape() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let id = TicketId::derive(at, "k");
        assert_eq!(TicketId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(MessageId::parse(id.as_str()), None);
        assert_eq!(TicketId::parse("tkt_not-a-ulid"), None);
        assert_eq!(TicketId::parse(""), None);
    }

    #[test]
    fn key_digest_is_64_hex_chars() {
        let d = key_digest("integration:acme:1");
        assert_eq!(d.len(), 64);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
