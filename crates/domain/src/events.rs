//! The audit trail: every change to a ticket is an event with its actor and time.

use crate::ids::{CustomerId, EventId, MessageId, TicketId};
use crate::message::Direction;
use crate::sla::Measure;
use crate::ticket::{Priority, TicketStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub id: EventId,
    pub ticket_id: TicketId,
    /// Platform time for what came from a platform, the server's clock for API actions.
    pub at: DateTime<Utc>,
    /// Orders the events one change records at the same time (a message, then the reopening).
    #[serde(default)]
    pub seq: u32,
    pub actor: Actor,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Who caused an event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// socialcare itself (reminders, automatic rules).
    System,
    /// The customer, by writing.
    Customer { customer_id: CustomerId },
    /// The brand account, by writing on the platform.
    Brand { account: String },
    /// A person or system calling the API, by the name of their key.
    Agent { id: String },
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        message_id: MessageId,
    },
    MessageAdded {
        message_id: MessageId,
        direction: Direction,
    },
    StatusChanged {
        from: TicketStatus,
        to: TicketStatus,
    },
    Note {
        text: String,
    },
    Assigned {
        owner: Option<String>,
        team: Option<String>,
    },
    /// Most of the way to a service-level deadline.
    SlaWarning {
        measure: Measure,
        due_at: DateTime<Utc>,
    },
    /// A service-level deadline passed unmet.
    SlaBreached {
        measure: Measure,
        due_at: DateTime<Utc>,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    /// One of many complaints about the same thing: attached to the incident.
    AttachedToIncident {
        incident_id: crate::ids::IncidentId,
        topic: String,
    },
    /// The customer answered the satisfaction survey (1 poor to 5 great).
    SatisfactionRated {
        score: u8,
    },
    /// An escalation target was told (`target`: the team, or `account` for the account's own).
    Notified {
        notice_id: String,
        reason: NoticeReason,
        target: String,
    },
    /// The customer's data on the ticket was erased at their request (see
    /// [`crate::privacy`]).
    Erased,
    /// The ticket's customer was merged into another, who has the ticket now (see
    /// [`crate::customers::merge_customers`]).
    CustomerMerged {
        from: CustomerId,
        into: CustomerId,
    },
    /// The message the ticket's first message answers could not be fetched from the platform
    /// (deleted, protected, or no credentials to read it): what opened the ticket is unknown,
    /// and it has no response time.
    OpeningUnknown {
        /// The platform's id of the message that could not be fetched.
        external_id: String,
        reason: String,
    },
    /// An escalation target could not be told.
    NotificationFailed {
        notice_id: String,
        reason: NoticeReason,
        target: String,
        error: String,
    },
}

impl TicketEvent {
    /// An event whose id derives from what it records, so a retried write cannot add it twice.
    pub fn new(
        ticket_id: TicketId,
        at: DateTime<Utc>,
        actor: Actor,
        kind: EventKind,
        key: &str,
    ) -> Self {
        Self {
            id: EventId::derive(at, &format!("{ticket_id}:{key}")),
            ticket_id,
            at,
            seq: 0,
            actor,
            kind,
        }
    }

    /// Where it sits in its ticket's trail: by time, then by its place in its change.
    pub fn sort_key(&self) -> String {
        format!(
            "{}#{:04}#{}",
            crate::page::sortable_time(self.at),
            self.seq,
            self.id
        )
    }
}

// Why an escalation notice went out; here, with the events that record one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeReason {
    /// Most of the way to the deadline: the owner should answer now.
    SlaWarning,
    /// The deadline passed: the ticket was escalated.
    SlaBreach,
}

impl NoticeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeReason::SlaWarning => "sla_warning",
            NoticeReason::SlaBreach => "sla_breach",
        }
    }
}
