//! The brand accounts' platform tokens and how each account is doing.
//!
//! A token is stored sealed: the API seals it with the deployment's key (bound to its
//! account) and only the functions that post can open it; no answer of the API carries it.
//! The health of an account is what its traffic showed last: a webhook received, a reply
//! posted (with the rate-limit headroom the platform reported), a token refused, the state of
//! the platform's subscription.

use crate::message::Source;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A brand account's token, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub source: Source,
    pub account: String,
    /// The sealed token (opaque; base64 of the sealer's output).
    pub sealed: String,
    /// Who the platform said the token acts as when it was checked: `@acme_care`, a page name.
    #[serde(default)]
    pub acts_as: Option<String>,
    pub set_at: DateTime<Utc>,
    /// The admin who set it (the name of their key).
    pub set_by: String,
}

/// The platform's rate limit as its last answer reported it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateHeadroom {
    pub remaining: u64,
    pub limit: u64,
    #[serde(default)]
    pub resets_at: Option<DateTime<Utc>>,
}

/// What an account's traffic showed last.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHealth {
    #[serde(default)]
    pub webhook_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub posted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rate: Option<RateHeadroom>,
    /// When the platform last refused the account's token, and its words.
    #[serde(default)]
    pub refused_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// Which token it refused: the one set at this time (a token connected since holds).
    #[serde(default)]
    pub refused_token_set_at: Option<DateTime<Utc>>,
    /// Whether the platform delivers the account's events to us, as last checked.
    #[serde(default)]
    pub subscribed: Option<bool>,
    #[serde(default)]
    pub subscription_checked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub subscription_detail: Option<String>,
}

/// One thing seen of an account, recorded into its [`AccountHealth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Webhook {
        at: DateTime<Utc>,
    },
    Posted {
        at: DateTime<Utc>,
        rate: Option<RateHeadroom>,
    },
    Refused {
        at: DateTime<Utc>,
        reason: String,
        /// The refused token's `set_at`, when the one who used it knew.
        token_set_at: Option<DateTime<Utc>>,
    },
    Subscription {
        at: DateTime<Utc>,
        active: bool,
        detail: Option<String>,
    },
}

impl AccountHealth {
    /// The same with `observation` recorded.
    pub fn with(mut self, observation: &Observation) -> Self {
        match observation {
            Observation::Webhook { at } => self.webhook_at = Some(*at),
            Observation::Posted { at, rate } => {
                self.posted_at = Some(*at);
                if rate.is_some() {
                    self.rate = *rate;
                }
            }
            Observation::Refused {
                at,
                reason,
                token_set_at,
            } => {
                self.refused_at = Some(*at);
                self.refusal = Some(reason.clone());
                self.refused_token_set_at = *token_set_at;
            }
            Observation::Subscription { at, active, detail } => {
                self.subscribed = Some(*active);
                self.subscription_checked_at = Some(*at);
                self.subscription_detail = detail.clone();
            }
        }
        self
    }

    /// Whether a token set at `set_at` still holds: the platform has not refused it (a
    /// refusal of another token, the one before it, is of no account; when which token was
    /// refused is not known, a refusal before it was set).
    pub fn token_holds(&self, set_at: DateTime<Utc>) -> bool {
        match (self.refused_at, self.refused_token_set_at) {
            (None, _) => true,
            (Some(_), Some(refused_token)) => refused_token != set_at,
            (Some(refused), None) => refused < set_at,
        }
    }
}

/// A connection under way: what the platform's answer to the admin's browser is checked
/// against. Single-use, bound to the browser of the admin who started it (a cookie only it
/// holds), gone after ten minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConnect {
    /// The `state` given to the platform (for X, the request token it names in the callback).
    pub state: String,
    /// Hex SHA-256 of the binding cookie given to the admin's browser when it started.
    pub binding: String,
    /// The admin who started it (the name of their key), the author of what it changes.
    pub by: String,
    /// `x` or `meta`.
    pub platform: String,
    /// What the flow needs again when the platform answers (the X request token's secret, a
    /// Meta user token), sealed for this state.
    #[serde(default)]
    pub sealed: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// How long an admin has to answer the platform's page.
pub const CONNECT_MINUTES: i64 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Review of issue 17: a sender still holding the token before a reconnect had it refused
    /// after the new one was set, and the new one showed as refused.
    #[test]
    fn a_refusal_of_the_token_before_does_not_mark_the_new_one() {
        let at = |m| Utc.with_ymd_and_hms(2026, 12, 1, 9, m, 0).unwrap();
        let (old, new) = (at(0), at(10));
        let health = AccountHealth::default().with(&Observation::Refused {
            at: at(11),
            reason: "Invalid or expired token.".into(),
            token_set_at: Some(old),
        });
        assert!(health.token_holds(new));
        assert!(!health.token_holds(old));
        let unknown = AccountHealth::default().with(&Observation::Refused {
            at: at(11),
            reason: "Invalid or expired token.".into(),
            token_set_at: None,
        });
        assert!(!unknown.token_holds(new), "refused after it was set");
        assert!(unknown.token_holds(at(12)), "set after the refusal");
        assert!(AccountHealth::default().token_holds(new));
    }
}
