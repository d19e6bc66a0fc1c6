//! The events integrators hear (EventBridge on AWS): what happened to a ticket, a customer,
//! as one JSON shape per type, each with a stable id.
//!
//! They are read from what the change itself wrote (the trail's events, the erasure's record),
//! never written beside it, so a change and its event cannot disagree. The id derives from the
//! change: a change read twice (a stream record delivered again) is the same event, and a
//! consumer that keeps the ids it has seen acts once.

use crate::customer::Erasure;
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, MessageId, TicketId};
use crate::message::Direction;
use crate::sla::Measure;
use crate::ticket::{Ticket, TicketStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event for integrators: `{"id", "type", "created_at", "account", "data"}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Stable: the same change gives the same id however often it is read.
    pub id: String,
    /// When it happened: platform time for what a platform reported, the server's otherwise.
    pub created_at: DateTime<Utc>,
    /// The brand account (or integration) it concerns.
    pub account: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// The type (`type`) and what it says (`data`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    /// A customer's message opened a ticket: the ticket as it is when the event is read.
    #[serde(rename = "ticket.created")]
    TicketCreated { ticket: Box<Ticket> },
    /// A customer's message was added to a ticket.
    #[serde(rename = "message.received")]
    MessageReceived {
        ticket_id: TicketId,
        message_id: MessageId,
    },
    #[serde(rename = "ticket.status_changed")]
    StatusChanged {
        ticket_id: TicketId,
        from: TicketStatus,
        to: TicketStatus,
        actor: Actor,
    },
    #[serde(rename = "ticket.assigned")]
    Assigned {
        ticket_id: TicketId,
        owner: Option<String>,
        team: Option<String>,
        actor: Actor,
    },
    /// Most of the way to a service-level deadline.
    #[serde(rename = "sla.warning")]
    SlaWarning {
        ticket_id: TicketId,
        measure: Measure,
        due_at: DateTime<Utc>,
    },
    /// A service-level deadline passed unmet.
    #[serde(rename = "sla.breached")]
    SlaBreached {
        ticket_id: TicketId,
        measure: Measure,
        due_at: DateTime<Utc>,
    },
    /// The customer answered the satisfaction survey (1 poor to 5 great).
    #[serde(rename = "satisfaction.rated")]
    SatisfactionRated { ticket_id: TicketId, score: u8 },
    /// A customer's data was erased (see [`crate::privacy`]).
    #[serde(rename = "customer.erased")]
    CustomerErased {
        customer_id: CustomerId,
        tickets: u32,
        messages: u32,
    },
}

impl EventBody {
    /// Its `type`, e.g. `ticket.created` (EventBridge's detail-type).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::TicketCreated { .. } => "ticket.created",
            EventBody::MessageReceived { .. } => "message.received",
            EventBody::StatusChanged { .. } => "ticket.status_changed",
            EventBody::Assigned { .. } => "ticket.assigned",
            EventBody::SlaWarning { .. } => "sla.warning",
            EventBody::SlaBreached { .. } => "sla.breached",
            EventBody::SatisfactionRated { .. } => "satisfaction.rated",
            EventBody::CustomerErased { .. } => "customer.erased",
        }
    }
}

impl DomainEvent {
    /// The event a trail event of `ticket` tells integrators, if any (a note, a priority, an
    /// escalation notice are the brand's own business).
    pub fn of_trail(event: &TicketEvent, ticket: &Ticket) -> Option<DomainEvent> {
        let ticket_id = event.ticket_id.clone();
        let body = match &event.kind {
            EventKind::Created { .. } => EventBody::TicketCreated {
                ticket: Box::new(ticket.clone()),
            },
            EventKind::MessageAdded {
                message_id,
                direction: Direction::Inbound,
            } => EventBody::MessageReceived {
                ticket_id,
                message_id: message_id.clone(),
            },
            EventKind::StatusChanged { from, to } => EventBody::StatusChanged {
                ticket_id,
                from: *from,
                to: *to,
                actor: event.actor.clone(),
            },
            EventKind::Assigned { owner, team } => EventBody::Assigned {
                ticket_id,
                owner: owner.clone(),
                team: team.clone(),
                actor: event.actor.clone(),
            },
            EventKind::SlaWarning { measure, due_at } => EventBody::SlaWarning {
                ticket_id,
                measure: *measure,
                due_at: *due_at,
            },
            EventKind::SlaBreached { measure, due_at } => EventBody::SlaBreached {
                ticket_id,
                measure: *measure,
                due_at: *due_at,
            },
            EventKind::SatisfactionRated { score } => EventBody::SatisfactionRated {
                ticket_id,
                score: *score,
            },
            _ => return None,
        };
        Some(DomainEvent {
            // The trail event's id, derived from the change it records.
            id: event.id.to_string(),
            created_at: event.at,
            account: ticket.account.clone(),
            body,
        })
    }

    /// The event of a finished erasure.
    pub fn of_erasure(erasure: &Erasure) -> Option<DomainEvent> {
        let completed_at = erasure.completed_at?;
        Some(DomainEvent {
            id: format!("evt_erased_{}", erasure.customer_id),
            created_at: completed_at,
            account: erasure.account.clone(),
            body: EventBody::CustomerErased {
                customer_id: erasure.customer_id.clone(),
                tickets: erasure.tickets,
                messages: erasure.messages,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    }

    fn ticket(id: &TicketId) -> Ticket {
        Ticket {
            id: id.clone(),
            account: "acme".into(),
            source: crate::message::Source::Integration,
            customer_id: CustomerId::derive(at(), "c"),
            status: TicketStatus::Open,
            subject: "help".into(),
            created_at: at(),
            last_message_at: at(),
            message_count: 1,
            owner: None,
            team: None,
            first_response_at: None,
            acknowledged_at: None,
            resolved_at: None,
            priority: Default::default(),
            timers: Default::default(),
            satisfaction: None,
            triage: None,
            topics: Vec::new(),
            incident_id: None,
            erased_at: None,
            opened_by_brand: false,
            version: 1,
        }
    }

    fn trail(kind: EventKind) -> TicketEvent {
        let ticket_id = TicketId::derive(at(), "t");
        TicketEvent::new(
            ticket_id,
            at(),
            Actor::Agent { id: "sally".into() },
            kind,
            "k",
        )
    }

    #[test]
    fn a_status_change_reads_as_its_documented_shape() {
        let event = trail(EventKind::StatusChanged {
            from: TicketStatus::Open,
            to: TicketStatus::Resolved,
        });
        let ticket = ticket(&event.ticket_id);
        let told = DomainEvent::of_trail(&event, &ticket).unwrap();
        assert_eq!(told.id, event.id.to_string());
        assert_eq!(
            serde_json::to_value(&told).unwrap(),
            serde_json::json!({
                "id": event.id.as_str(),
                "type": "ticket.status_changed",
                "created_at": "2026-11-22T09:00:00Z",
                "account": "acme",
                "data": {
                    "ticket_id": event.ticket_id.as_str(),
                    "from": "open",
                    "to": "resolved",
                    "actor": {"type": "agent", "id": "sally"}
                }
            })
        );
        assert_eq!(told.body.kind(), "ticket.status_changed");
        let back: DomainEvent =
            serde_json::from_value(serde_json::to_value(&told).unwrap()).unwrap();
        assert_eq!(back, told);
    }

    #[test]
    fn the_brands_own_messages_and_notes_tell_integrators_nothing() {
        let ticket_id = TicketId::derive(at(), "t");
        let ticket = ticket(&ticket_id);
        for kind in [
            EventKind::MessageAdded {
                message_id: MessageId::derive(at(), "m"),
                direction: Direction::Outbound,
            },
            EventKind::Note { text: "x".into() },
            EventKind::Erased,
        ] {
            assert_eq!(
                DomainEvent::of_trail(&trail(kind.clone()), &ticket),
                None,
                "{kind:?}"
            );
        }
    }
}
