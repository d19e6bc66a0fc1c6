//! What agents do to a ticket through the API: move its status, set its priority, write
//! internal notes.

use crate::clocks::{Happened, retime};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::TicketId;
use crate::ports::{
    CommitError, IngestStore, SettingsStore, StoreError, TicketCommands, TicketUpdate,
};
use crate::report::Sample;
use crate::retry::{Round, optimistic};
use crate::ticket::{InvalidTransition, Priority, Ticket, TicketStatus};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no ticket {0}")]
    NotFound(TicketId),
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ticket kept changing; try again")]
    Contention,
}

/// A ticket after a command, and what the change added to the response-time report.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub ticket: Ticket,
    pub samples: Vec<Sample>,
}

/// Moves a ticket to `next`. Asking for the status it already has changes nothing (a retried
/// request is harmless); a transition the lifecycle forbids is refused.
pub async fn change_status<S: IngestStore + TicketCommands + SettingsStore>(
    store: &S,
    id: &TicketId,
    next: TicketStatus,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Changed, CommandError> {
    let policies = &store.sla_policies().await?;
    let actor = &actor;
    optimistic(
        move || async move {
            let ticket = store
                .get_ticket(id)
                .await?
                .ok_or_else(|| CommandError::NotFound(id.clone()))?;
            if ticket.status == next {
                return Ok(Round::Done(Changed {
                    ticket,
                    samples: Vec::new(),
                }));
            }
            let mut changed = ticket.with_status(next, now)?;
            let status = Happened::Status {
                from: ticket.status,
                to: next,
            };
            retime(&mut changed, status, now, policies.of(&ticket.account));
            let event = TicketEvent::new(
                id.clone(),
                now,
                actor.clone(),
                EventKind::StatusChanged {
                    from: ticket.status,
                    to: next,
                },
                &format!("status:{}", changed.version),
            );
            let actor_name = match &actor {
                Actor::Agent { id } => Some(id.as_str()),
                _ => None,
            };
            let samples = crate::report::samples(Some(&ticket), &changed, actor_name);
            write(store, &ticket, changed, event, samples).await
        },
        || CommandError::Contention,
    )
    .await
}

/// Sets a ticket's priority. Asking for the one it has changes nothing. The deadlines already
/// running stay as they are (as when an escalation raises the priority); those that start
/// later follow the new priority's targets.
pub async fn change_priority<S: IngestStore + TicketCommands>(
    store: &S,
    id: &TicketId,
    next: Priority,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket, CommandError> {
    let actor = &actor;
    optimistic(
        move || async move {
            let ticket = store
                .get_ticket(id)
                .await?
                .ok_or_else(|| CommandError::NotFound(id.clone()))?;
            if ticket.priority == next {
                return Ok(Round::Done(ticket));
            }
            let changed = Ticket {
                priority: next,
                version: ticket.version + 1,
                ..ticket.clone()
            };
            let event = TicketEvent::new(
                id.clone(),
                now,
                actor.clone(),
                EventKind::PriorityChanged {
                    from: ticket.priority,
                    to: next,
                },
                &format!("priority:{}", changed.version),
            );
            let written = write(store, &ticket, changed, event, Vec::new()).await?;
            Ok(match written {
                Round::Done(done) => Round::Done(done.ticket),
                Round::ReadAgain => Round::ReadAgain,
            })
        },
        || CommandError::Contention,
    )
    .await
}

/// Writes `changed` over `before` with its event and report samples; a version that moved
/// meanwhile (another writer) reads the ticket again.
async fn write<S: TicketCommands>(
    store: &S,
    before: &Ticket,
    changed: Ticket,
    event: TicketEvent,
    samples: Vec<Sample>,
) -> Result<Round<Changed>, CommandError> {
    let update = TicketUpdate {
        samples,
        ticket: changed,
        version_before: before.version,
        events: vec![event],
        replies: Vec::new(),
    };
    match store.update_ticket(&update).await {
        Ok(()) => Ok(Round::Done(Changed {
            ticket: update.ticket,
            samples: update.samples,
        })),
        Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

/// Adds an internal note (never shown to the customer) to the ticket's trail.
pub async fn add_note<S: IngestStore + TicketCommands>(
    store: &S,
    id: &TicketId,
    text: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<TicketEvent, CommandError> {
    if store.get_ticket(id).await?.is_none() {
        return Err(CommandError::NotFound(id.clone()));
    }
    let digest = Sha256::digest(text.as_bytes());
    let key = format!(
        "note:{}:{:x}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
    );
    let event = TicketEvent::new(
        id.clone(),
        now,
        actor,
        EventKind::Note {
            text: text.to_string(),
        },
        &key,
    );
    match store.add_event(&event).await {
        Ok(()) | Err(CommitError::Duplicate) => Ok(event),
        Err(CommitError::Conflict) => Err(CommandError::Contention),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}
