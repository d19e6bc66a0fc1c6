//! The events integrators hear (EventBridge on AWS): what happened to a ticket, a customer,
//! as one JSON shape per type, each with a stable id.
//!
//! They are read from what the change itself wrote (the trail's events, the erasure's record),
//! never written beside it, so a change and its event cannot disagree. The id derives from the
//! change: a change read twice (a stream record delivered again) is the same event, and a
//! consumer that keeps the ids it has seen acts once.

use crate::customer::{Erasure, Merge};
use crate::delivery::DeliveryState;
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, EventId, IncidentId, MessageId, TicketId, UpdateId};
use crate::incident::{Incident, IncidentStatus, Spike};
use crate::message::{Direction, Message};
use crate::sla::Measure;
use crate::ticket::{Ticket, TicketStatus};
use crate::update::IncidentUpdate;
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
    /// A reply written through socialcare reached the platform (or the integrator).
    #[serde(rename = "reply.sent")]
    ReplySent {
        ticket_id: TicketId,
        message_id: MessageId,
        /// The platform's id of the post.
        platform_id: Option<String>,
        sent_at: Option<DateTime<Utc>>,
    },
    /// A reply could not be posted (the reason is on the ticket).
    #[serde(rename = "reply.failed")]
    ReplyFailed {
        ticket_id: TicketId,
        message_id: MessageId,
        reason: Option<String>,
    },
    /// A spike of complaints about one thing opened an incident (its example, a customer's
    /// words, is not sent: `GET /v1/incidents/{id}` has it).
    #[serde(rename = "incident.opened")]
    IncidentOpened {
        incident_id: IncidentId,
        topic: String,
        opened_at: DateTime<Utc>,
        spike: Spike,
    },
    /// An agent posted a status update on an incident (one answer for all).
    #[serde(rename = "incident.updated")]
    IncidentUpdated {
        incident_id: IncidentId,
        update_id: UpdateId,
        text: String,
        resolves: bool,
        author: String,
    },
    #[serde(rename = "incident.resolved")]
    IncidentResolved { incident_id: IncidentId },
    /// Two customers were found to be one person: `merged` (gone now) moved into
    /// `customer_id`, with their identities and tickets (see [`crate::customers`]).
    #[serde(rename = "customer.merged")]
    CustomerMerged {
        customer_id: CustomerId,
        merged: CustomerId,
        identities: u32,
        tickets: u32,
        merged_by: String,
    },
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
            EventBody::ReplySent { .. } => "reply.sent",
            EventBody::ReplyFailed { .. } => "reply.failed",
            EventBody::IncidentOpened { .. } => "incident.opened",
            EventBody::IncidentUpdated { .. } => "incident.updated",
            EventBody::IncidentResolved { .. } => "incident.resolved",
            EventBody::CustomerMerged { .. } => "customer.merged",
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

    /// The event of a reply's delivery, once it is sent or failed for good. Its id derives
    /// from the reply and the outcome: a later rewrite of the reply is the same event.
    pub fn of_reply(reply: &Message) -> Option<DomainEvent> {
        let delivery = reply.delivery.as_ref()?;
        if reply.body.direction != Direction::Outbound || reply.erased_at.is_some() {
            return None;
        }
        let (ticket_id, message_id) = (reply.ticket_id.clone(), reply.id.clone());
        let (body, at) = match delivery.state {
            DeliveryState::Sent => (
                EventBody::ReplySent {
                    ticket_id,
                    message_id,
                    platform_id: delivery.platform_id.clone(),
                    sent_at: delivery.sent_at,
                },
                delivery.sent_at.unwrap_or(reply.body.created_at),
            ),
            DeliveryState::Failed => (
                EventBody::ReplyFailed {
                    ticket_id,
                    message_id,
                    reason: delivery.error.clone(),
                },
                reply.body.created_at,
            ),
            _ => return None,
        };
        Some(DomainEvent {
            id: EventId::derive(at, &format!("{}:{}", body.kind(), reply.id)).to_string(),
            created_at: at,
            account: reply.body.account.clone(),
            body,
        })
    }

    /// The events a stored incident tells: its opening when it is new, its resolution once
    /// resolved.
    pub fn of_incident(incident: &Incident, new: bool) -> Vec<DomainEvent> {
        let event = |at: DateTime<Utc>, body: EventBody| DomainEvent {
            id: EventId::derive(at, &format!("{}:{}", body.kind(), incident.id)).to_string(),
            created_at: at,
            account: incident.account.clone(),
            body,
        };
        let mut told = Vec::new();
        if new {
            told.push(event(
                incident.opened_at,
                EventBody::IncidentOpened {
                    incident_id: incident.id.clone(),
                    topic: incident.topic.clone(),
                    opened_at: incident.opened_at,
                    spike: incident.spike.clone(),
                },
            ));
        }
        if let Some(at) = incident
            .resolved_at
            .filter(|_| incident.status == IncidentStatus::Resolved)
        {
            told.push(event(
                at,
                EventBody::IncidentResolved {
                    incident_id: incident.id.clone(),
                },
            ));
        }
        told
    }

    /// The event of a new status update on an incident.
    pub fn of_incident_update(update: &IncidentUpdate) -> DomainEvent {
        let body = EventBody::IncidentUpdated {
            incident_id: update.incident_id.clone(),
            update_id: update.id.clone(),
            text: update.text.clone(),
            resolves: update.resolves,
            author: update.author.clone(),
        };
        DomainEvent {
            id: EventId::derive(update.created_at, &format!("{}:{}", body.kind(), update.id))
                .to_string(),
            created_at: update.created_at,
            account: update.account.clone(),
            body,
        }
    }

    /// The event of a finished merge.
    pub fn of_merge(merge: &Merge) -> Option<DomainEvent> {
        let completed_at = merge.completed_at?;
        Some(DomainEvent {
            id: EventId::derive(
                completed_at,
                &format!("customer.merged:{}", merge.customer_id),
            )
            .to_string(),
            created_at: completed_at,
            account: merge.account.clone(),
            body: EventBody::CustomerMerged {
                customer_id: merge.into.clone(),
                merged: merge.customer_id.clone(),
                identities: merge.identities,
                tickets: merge.tickets,
                merged_by: merge.merged_by.clone(),
            },
        })
    }

    /// The event of a finished erasure.
    pub fn of_erasure(erasure: &Erasure) -> Option<DomainEvent> {
        let completed_at = erasure.completed_at?;
        Some(DomainEvent {
            id: EventId::derive(
                completed_at,
                &format!("customer.erased:{}", erasure.customer_id),
            )
            .to_string(),
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

    #[test]
    fn an_incident_tells_its_opening_once_and_its_resolution_once_resolved() {
        use crate::incident::{IncidentStatus, Spike};
        let incident = Incident {
            id: IncidentId::derive(at(), "fibre"),
            source: crate::message::Source::X,
            account: "acme".into(),
            topic: "fibr".into(),
            status: IncidentStatus::Active,
            opened_at: at(),
            example: "fibre down again".into(),
            spike: Spike {
                window_start: at(),
                window_minutes: 10,
                count: 25,
                baseline: 1.5,
            },
            resolved_at: None,
            notified_at: None,
            version: 1,
        };
        let opened = DomainEvent::of_incident(&incident, true);
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].body.kind(), "incident.opened");
        assert_eq!(opened[0].account, "acme");
        let data = serde_json::to_value(&opened[0]).unwrap()["data"].clone();
        assert_eq!(data["topic"], "fibr");
        assert!(!data.to_string().contains("fibre down again"), "{data}");
        assert_eq!(DomainEvent::of_incident(&incident, false), vec![]);
        let resolved = Incident {
            status: IncidentStatus::Resolved,
            resolved_at: Some(at() + chrono::Duration::hours(2)),
            version: 2,
            ..incident.clone()
        };
        let told = DomainEvent::of_incident(&resolved, false);
        assert_eq!(told.len(), 1);
        assert_eq!(
            serde_json::to_value(&told[0]).unwrap()["data"],
            serde_json::json!({"incident_id": incident.id.as_str()})
        );
        assert_eq!(told[0].created_at, at() + chrono::Duration::hours(2));
        // Rewritten later (its notice recorded): the same event, by id.
        let notified = Incident {
            notified_at: Some(at()),
            version: 3,
            ..resolved
        };
        assert_eq!(DomainEvent::of_incident(&notified, false), told);
        assert_ne!(opened[0].id, told[0].id);
    }
}
