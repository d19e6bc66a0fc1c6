//! Tickets: one customer problem, with its status and its messages.

use crate::customer::Customer;
use crate::ids::{CustomerId, TicketId};
use crate::message::{Message, Source};
use crate::page::{Cursor, Page};
use crate::timers::Timers;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    PendingCustomer,
    PendingInternal,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::Open,
        TicketStatus::PendingCustomer,
        TicketStatus::PendingInternal,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::PendingCustomer => "pending_customer",
            TicketStatus::PendingInternal => "pending_internal",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Whether an agent may move a ticket from this status to `next`. A closed ticket is
    /// final (the customer's next message opens a new one); a resolved one may be reopened.
    pub fn can_become(self, next: TicketStatus) -> bool {
        use TicketStatus::*;
        match (self, next) {
            (from, to) if from == to => false,
            (Closed, _) => false,
            (Resolved, Open | Closed) => true,
            (Resolved, _) => false,
            (Open | PendingCustomer | PendingInternal, _) => true,
        }
    }

    /// Whether a new message of the customer still joins this ticket.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TicketStatus::Open | TicketStatus::PendingCustomer | TicketStatus::PendingInternal
        )
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown ticket status {0:?}; expected one of open, pending_customer, pending_internal, resolved, closed"
)]
pub struct UnknownStatus(pub String);

impl FromStr for TicketStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// How soon a ticket needs an answer; it picks the service-level targets.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// One level up (an escalation); urgent stays urgent.
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority {0:?}; expected one of low, normal, high, urgent")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| UnknownPriority(s.to_string()))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub account: String,
    /// Where the customer first wrote from.
    pub source: Source,
    pub customer_id: CustomerId,
    pub status: TicketStatus,
    /// The start of the first message, to tell tickets apart in a list.
    pub subject: String,
    /// Platform time of the first message.
    pub created_at: DateTime<Utc>,
    /// Platform time of the latest message.
    pub last_message_at: DateTime<Utc>,
    pub message_count: u32,
    /// The agent who owns it (an API key's name), and the team it belongs to.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// Platform time of the brand's first answer (its earliest outbound message).
    #[serde(default)]
    pub first_response_at: Option<DateTime<Utc>>,
    /// Its earliest message is the brand's: outreach, or an answer to a customer's message
    /// socialcare never saw. It has no response time (none was waited for), never one of 0 s.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opened_by_brand: bool,
    /// Platform time of the brand's first answer of any kind, an acknowledgement included.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was last resolved (cleared when it reopens).
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub priority: Priority,
    /// What is due on it and when: its service-level deadlines and follow-ups.
    #[serde(default)]
    pub timers: Timers,
    /// The customer's answer to the satisfaction survey, 1 (poor) to 5 (great).
    #[serde(default)]
    pub satisfaction: Option<u8>,
    /// What triage made of the first message: intent, sentiment, urgency, reach, language, and
    /// why the priority is what it is.
    #[serde(default)]
    pub triage: Option<Triage>,
    /// The key terms of the first message, for spike detection.
    #[serde(default)]
    pub topics: Vec<String>,
    /// The incident it belongs to, when it is one of many complaints about the same thing.
    #[serde(default)]
    pub incident_id: Option<crate::ids::IncidentId>,
    /// When its customer's data was erased at their request (see [`crate::privacy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    /// Bumped on every write; writes are conditional on it.
    pub version: u64,
}

/// Why a status change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} ticket cannot become {to}")]
pub struct InvalidTransition {
    pub from: TicketStatus,
    pub to: TicketStatus,
}

impl Ticket {
    /// The ticket after an agent moves it to `next` at `at`.
    pub fn with_status(
        &self,
        next: TicketStatus,
        at: DateTime<Utc>,
    ) -> Result<Ticket, InvalidTransition> {
        if !self.status.can_become(next) {
            return Err(InvalidTransition {
                from: self.status,
                to: next,
            });
        }
        Ok(Ticket {
            status: next,
            resolved_at: match next {
                TicketStatus::Resolved => Some(at),
                TicketStatus::Closed => self.resolved_at.or(Some(at)),
                _ => None,
            },
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The ticket with what its customer wrote erased (the subject, the topic terms and the
    /// triage read from the first message), closed, with nothing left due on it. Its times,
    /// counts, owner and satisfaction stay: they are the report's, and name nobody.
    pub fn erased(&self, at: DateTime<Utc>) -> Ticket {
        Ticket {
            subject: String::new(),
            topics: Vec::new(),
            triage: None,
            status: TicketStatus::Closed,
            resolved_at: self.resolved_at.or(Some(at)),
            timers: Timers::default(),
            erased_at: Some(at),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// Where this ticket sits in a newest-first list.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.created_at, self.id.clone())
    }
}

/// A ticket with everything an agent needs to answer it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub customer: Option<Customer>,
    /// Oldest first, by platform time.
    pub messages: Vec<Message>,
}

/// Which tickets to list: newest first, optionally of one status, after a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketQuery {
    pub status: Option<TicketStatus>,
    /// Only tickets this agent owns.
    pub owner: Option<String>,
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl TicketQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    /// The first `limit` tickets of any status.
    pub fn newest(limit: u32) -> Self {
        Self {
            status: None,
            owner: None,
            limit,
            after: None,
        }
    }

    /// Stores fetch one ticket more than asked: whether it exists tells if a next page does.
    pub fn fetch_size(&self) -> u32 {
        self.limit + 1
    }

    /// The page of a fetch of [`Self::fetch_size`] tickets, newest first.
    pub fn page(&self, mut fetched: Vec<Ticket>) -> Page<Ticket> {
        let limit = self.limit as usize;
        let next = if fetched.len() > limit {
            fetched.truncate(limit);
            fetched.last().map(Ticket::cursor)
        } else {
            None
        };
        Page {
            items: fetched,
            next,
        }
    }
}

// What triage (crate::triage) made of the message that opened a ticket, kept on the ticket.

/// What the customer is doing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Complaint,
    Question,
    Praise,
    /// Spam, or nothing to answer.
    Noise,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Complaint => "complaint",
            Intent::Question => "question",
            Intent::Praise => "praise",
            Intent::Noise => "noise",
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The triage of one message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub intent: Intent,
    /// VADER compound score, -1 (most negative) to 1, rounded to 2 decimals.
    pub sentiment: f64,
    /// The urgency words found (normalized, e.g. "outage", "can't call", "emergency", "safety").
    pub urgent_terms: Vec<String>,
    /// The author's follower count when the platform gave it.
    pub followers: Option<u64>,
    /// ISO 639-1 code when the language is told reliably (e.g. "en", "es"), else none.
    pub language: Option<String>,
    /// The priority that follows from the above.
    pub priority: Priority,
    /// Why, in short human sentences, one per rule that set or raised the priority (e.g.
    /// "urgent words: outage", "very negative (-0.81)", "reach: 120000 followers", "praise").
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_lifecycle() {
        use TicketStatus::*;
        let allowed = |from: TicketStatus| -> Vec<TicketStatus> {
            TicketStatus::ALL
                .into_iter()
                .filter(|to| from.can_become(*to))
                .collect()
        };
        assert_eq!(
            allowed(Open),
            [PendingCustomer, PendingInternal, Resolved, Closed]
        );
        assert_eq!(
            allowed(PendingCustomer),
            [Open, PendingInternal, Resolved, Closed]
        );
        assert_eq!(
            allowed(PendingInternal),
            [Open, PendingCustomer, Resolved, Closed]
        );
        assert_eq!(allowed(Resolved), [Open, Closed]);
        assert_eq!(allowed(Closed), []);
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for status in TicketStatus::ALL {
            assert_eq!(status.as_str().parse::<TicketStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        let err = "archived".parse::<TicketStatus>().unwrap_err();
        assert!(err.to_string().contains("archived"));
    }
}
