//! Incidents: many customers complaining about one thing at once, as stored. [`crate::incidents`]
//! opens them from spikes and attaches the tickets.

use crate::ids::IncidentId;
use crate::message::Source;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A term's count in a window against its baseline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    pub window_start: DateTime<Utc>,
    pub window_minutes: u32,
    /// New complaints naming the term in the window.
    pub count: u64,
    /// The mean count of the windows before.
    pub baseline: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Active,
    Resolved,
}

/// Many customers complaining about one thing at once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    /// The platform of the brand account (where its status updates are posted).
    pub source: Source,
    pub account: String,
    /// The key term that spiked (normalized and stemmed, e.g. `outag` for outage/outages).
    pub topic: String,
    pub status: IncidentStatus,
    /// Platform time of the complaint that opened it.
    pub opened_at: DateTime<Utc>,
    /// The start of the complaint that opened it, to recognise the incident in a list.
    pub example: String,
    /// What opened it.
    pub spike: Spike,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the escalation target was told it opened (or found to have none).
    #[serde(default)]
    pub notified_at: Option<DateTime<Utc>>,
    pub version: u64,
}

/// What a worker needs to know of an active incident to attach tickets to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveIncident {
    pub id: IncidentId,
    pub account: String,
    pub topic: String,
}

impl Incident {
    /// The incident a spike of `topic` opens, with an id derived from the account, the term and
    /// the window: workers that see the same spike at once open the same incident.
    pub fn open(
        source: Source,
        account: &str,
        topic: &str,
        example: &str,
        at: DateTime<Utc>,
        spike: Spike,
    ) -> Self {
        Self {
            id: IncidentId::derive(
                spike.window_start,
                &format!("incident:{account}:{topic}:{}", spike.window_start),
            ),
            source,
            account: account.to_string(),
            topic: topic.to_string(),
            status: IncidentStatus::Active,
            opened_at: at,
            example: example.chars().take(120).collect(),
            spike,
            resolved_at: None,
            notified_at: None,
            version: 1,
        }
    }

    /// The incident resolved at `at` (as it was, when it already is).
    pub fn resolved(&self, at: DateTime<Utc>) -> Self {
        match self.status {
            IncidentStatus::Resolved => self.clone(),
            IncidentStatus::Active => Self {
                status: IncidentStatus::Resolved,
                resolved_at: Some(at),
                version: self.version + 1,
                ..self.clone()
            },
        }
    }

    pub fn active(&self) -> ActiveIncident {
        ActiveIncident {
            id: self.id.clone(),
            account: self.account.clone(),
            topic: self.topic.clone(),
        }
    }
}

/// What counting a message's terms gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCounts {
    /// Each term with its count after this message (0: not counted, the window being full).
    pub counts: Vec<(String, u64)>,
    /// The window had counted `capacity` messages already.
    pub full: bool,
}
