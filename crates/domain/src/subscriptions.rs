//! Webhook subscriptions: an integrator's URL that receives the events it chose, each POSTed
//! signed with the subscription's own secret, and the record of every event's delivery.

use crate::domain_events::DomainEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where events go, and which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscription {
    /// `whk_<ULID>`.
    pub id: String,
    /// An `https://` URL (the outbound guard refuses private addresses).
    pub url: String,
    /// The event types it receives (`ticket.created`, ...); none: every type.
    #[serde(default)]
    pub events: Vec<String>,
    /// Signs every delivery (`X-Socialcare-Signature`); shown once, when made or rotated.
    pub secret: String,
    /// The secret before the last rotation, which signs beside the new one until
    /// `previous_until` (a day), so a subscriber can switch without refusing a delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Set when it failed for a day on end (or by hand): nothing more is sent.
    #[serde(default)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (cleared by one that arrives).
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// Bumped on every write; writes are conditional on it.
    pub version: u64,
}

impl WebhookSubscription {
    /// How long a rotated-out secret still signs.
    pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::days(1);

    /// The subscription with `secret` signing from `now`, the current one beside it for a day.
    pub fn rotated(&self, secret: String, now: DateTime<Utc>) -> Self {
        Self {
            previous_secret: Some(self.secret.clone()),
            previous_until: Some(now + Self::ROTATION_OVERLAP),
            secret,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The secrets a delivery at `now` is signed with: the current one, and the one before it
    /// during the day after a rotation.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && now < until
        {
            secrets.push(previous.as_str());
        }
        secrets
    }

    /// Whether it receives events of type `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.disabled_at.is_none()
            && (self.events.is_empty() || self.events.iter().any(|e| e == kind))
    }
}

/// Where one event's delivery to one subscription stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// On the queue, or waiting for its next attempt.
    Pending,
    /// The subscriber answered 2xx.
    Delivered,
    /// Every attempt for a day failed (or the subscription went): given up.
    Dead,
}

/// One POST of an event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The subscriber's answer, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One event's delivery to one subscription, with its attempts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDelivery {
    pub subscription_id: String,
    pub event: DomainEvent,
    pub outcome: DeliveryOutcome,
    /// The oldest first; the latest [`EventDelivery::KEPT_ATTEMPTS`].
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// When the first attempt was made (the day of retries counts from it).
    #[serde(default)]
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// Not before this (the subscriber's `Retry-After`).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// A worker is POSTing it since then: another job of it waits (one POST at a time).
    #[serde(default)]
    pub attempting_since: Option<DateTime<Utc>>,
    pub version: u64,
}

impl EventDelivery {
    pub const KEPT_ATTEMPTS: usize = 30;

    pub fn pending(subscription_id: &str, event: &DomainEvent) -> Self {
        Self {
            subscription_id: subscription_id.to_string(),
            event: event.clone(),
            outcome: DeliveryOutcome::Pending,
            attempts: Vec::new(),
            first_attempt_at: None,
            not_before: None,
            attempting_since: None,
            version: 1,
        }
    }
}

/// What one POST of an event got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// A 2xx answer.
    Accepted { status: u16 },
    /// Anything else: another answer, none in time, a refused address.
    Refused {
        status: Option<u16>,
        reason: String,
        /// The subscriber's `Retry-After`.
        retry_at: Option<DateTime<Utc>>,
    },
}
