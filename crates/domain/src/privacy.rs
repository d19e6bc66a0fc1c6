//! A customer's data rights: everything about them as one document (export), and erasure.
//!
//! Erasure keeps what the report counts and what keeps a message from being stored twice:
//! the tickets stay (closed, their subjects erased), the messages keep their platform ids and
//! places (their texts, attachments and the author's names go), the dedupe records stay. A
//! replayed webhook of an erased message is therefore a duplicate, and stays out. The
//! customer and their identities are deleted; an [`Erasure`] record, which names nobody,
//! says who asked and when. Each step is idempotent and the customer goes last, so an erasure
//! cut short (a timeout, a crash) finishes when it is asked again.

use crate::customer::{ContactNote, Customer, Erasure};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, TicketId};
use crate::message::Direction;
use crate::message::Message;
use crate::ports::{
    CommitError, ContactStore, CustomerStore, IncidentRecords, IngestStore, PrivacyStore,
    StoreError, TicketCommands, TicketReads, TicketUpdate,
};
use crate::retry::{Round, optimistic};
use crate::ticket::{Ticket, TicketQuery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many messages or events one read of a ticket takes.
const PAGE: u32 = 200;

/// Everything socialcare holds about a customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerExport {
    pub exported_at: DateTime<Utc>,
    /// The profile with every identity.
    pub customer: Customer,
    /// Their tickets, newest first.
    pub tickets: Vec<TicketExport>,
    /// What they wrote on other customers' tickets (answers in someone else's public thread).
    pub elsewhere: Vec<Message>,
    /// The contacts they gave (addresses, phone numbers, order numbers), as noted.
    pub contacts: Vec<ContactNote>,
    /// Their addresses mail is not sent to, and why.
    #[serde(default)]
    pub marks: Vec<crate::customer::ContactMark>,
}

/// One ticket of an export: the ticket (its satisfaction score included), every message
/// (attachments as the platforms' URLs) and the trail, oldest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketExport {
    pub ticket: Ticket,
    /// Theirs and the brand's; another person's message in the thread is theirs to ask for,
    /// and is only counted.
    pub messages: Vec<Message>,
    pub others_left_out: u32,
    pub events: Vec<TicketEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    #[error("no customer {0}")]
    NotFound(CustomerId),
    #[error("the customer's data kept changing; ask again")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The customer's export, or `None` when there is no such customer.
pub async fn export_customer<S: CustomerStore + TicketReads + ContactStore>(
    store: &S,
    id: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Option<CustomerExport>, StoreError> {
    let Some(customer) = store.get_customer(id).await? else {
        return Ok(None);
    };
    let theirs: Vec<String> = customer.identities.iter().map(|i| i.key()).collect();
    let by_them = |m: &Message| theirs.contains(&m.body.author_key());
    let mut tickets = Vec::new();
    for ticket in all_tickets(store, id).await? {
        let (messages, others): (Vec<Message>, Vec<Message>) = all_messages(store, &ticket.id)
            .await?
            .into_iter()
            .partition(|m| m.body.direction == Direction::Outbound || by_them(m));
        let events = all_events(store, &ticket.id).await?;
        tickets.push(TicketExport {
            ticket,
            messages,
            others_left_out: others.len() as u32,
            events,
        });
    }
    let mut elsewhere = Vec::new();
    for ticket in &customer.elsewhere {
        elsewhere.extend(
            all_messages(store, ticket)
                .await?
                .into_iter()
                .filter(|m| m.body.direction == Direction::Inbound && by_them(m)),
        );
    }
    let contacts = store.customer_contacts(id).await?;
    // What the mail system said of the addresses they write from (a bounce, a complaint); an
    // address they only typed may be someone else's.
    let mut marks = Vec::new();
    for address in mail_addresses(&customer) {
        if let Some(mark) = store.contact_marks(&address).await?.mark {
            marks.push(mark);
        }
    }
    Ok(Some(CustomerExport {
        exported_at: now,
        customer,
        tickets,
        elsewhere,
        contacts,
        marks,
    }))
}

/// Erases the customer (see the module's description) at the request of `by` (an API key's
/// name) and returns the record of it. Asking again for an erased customer returns the same
/// record; for an erasure cut short, it finishes it.
pub async fn erase_customer<S>(
    store: &S,
    id: &CustomerId,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Erasure, ErasureError>
where
    S: CustomerStore
        + TicketReads
        + TicketCommands
        + IngestStore
        + PrivacyStore
        + IncidentRecords
        + ContactStore,
{
    let recorded = store.get_erasure(id).await?;
    let customer = store.get_customer(id).await?;
    let mut erasure = match (recorded, &customer) {
        (Some(done), _) if done.completed_at.is_some() => return Ok(done),
        (Some(started), _) => started,
        (None, None) => return Err(ErasureError::NotFound(id.clone())),
        (None, Some(customer)) => Erasure {
            customer_id: id.clone(),
            account: customer.account.clone(),
            requested_by: by.to_string(),
            requested_at: now,
            completed_at: None,
            tickets: 0,
            messages: 0,
            elsewhere: 0,
        },
    };
    // Recorded first: a request cut short is still on the record, and is finished by the next.
    store.put_erasure(&erasure).await?;
    // While the customer still says which addresses are theirs.
    if let Some(customer) = &customer {
        for address in mail_addresses(customer) {
            store.forget_marks(&address).await?;
        }
    }
    erase_tickets(store, id, by, now).await?;
    // What they wrote in other customers' threads goes with the customer who lists those
    // tickets: each try of the delete erases them first, from the customer it deletes.
    erasure.elsewhere += delete_customer(store, id, now).await?;
    // Once more after the customer is gone: a message that was being ingested while the
    // tickets were erased may have opened one.
    erase_tickets(store, id, by, now).await?;
    // Last, so that a message ingested meanwhile leaves no contact behind, nor a mail of theirs
    // or a report about a reply to them a mark.
    store.forget_contacts(id).await?;
    if let Some(customer) = &customer {
        for address in mail_addresses(customer) {
            store.forget_marks(&address).await?;
        }
    }

    let tickets = all_tickets(store, id).await?;
    erasure.tickets = tickets.len() as u32;
    erasure.messages = tickets
        .iter()
        .map(|ticket| ticket.message_count)
        .sum::<u32>()
        + erasure.elsewhere;
    erasure.completed_at = Some(now);
    store.put_erasure(&erasure).await?;
    Ok(erasure)
}

async fn erase_tickets<S>(
    store: &S,
    id: &CustomerId,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), ErasureError>
where
    S: CustomerStore + TicketReads + TicketCommands + IngestStore + PrivacyStore + IncidentRecords,
{
    for ticket in all_tickets(store, id).await? {
        // A ticket is marked erased last, so a marked one has nothing left to erase.
        if ticket.erased_at.is_none() {
            erase_ticket(store, &ticket.id, by, now).await?;
        }
    }
    Ok(())
}

/// Erases the ticket's messages, then its notes, then the ticket; a message that joined
/// meanwhile moves the ticket's version, and the next round erases it too.
async fn erase_ticket<S>(
    store: &S,
    id: &TicketId,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), ErasureError>
where
    S: TicketReads + TicketCommands + IngestStore + PrivacyStore + IncidentRecords,
{
    optimistic(
        move || async move {
            let Some(ticket) = store.get_ticket(id).await? else {
                return Ok(Round::Done(()));
            };
            if ticket.erased_at.is_some() {
                return Ok(Round::Done(()));
            }
            erase_contents(store, id, now).await?;
            if let Some(incident) = &ticket.incident_id {
                erase_example(store, incident, &ticket.subject).await?;
            }
            let actor = Actor::Agent { id: by.to_string() };
            let erased = ticket.erased(now);
            let mut events = vec![TicketEvent::new(
                id.clone(),
                now,
                actor.clone(),
                EventKind::Erased,
                "erased",
            )];
            if ticket.status != erased.status {
                let mut closed = TicketEvent::new(
                    id.clone(),
                    now,
                    actor,
                    EventKind::StatusChanged {
                        from: ticket.status,
                        to: erased.status,
                    },
                    "erased:closed",
                );
                closed.seq = 1;
                events.push(closed);
            }
            let update = TicketUpdate {
                ticket: erased,
                version_before: ticket.version,
                events,
                replies: Vec::new(),
                samples: Vec::new(),
            };
            match store.update_ticket(&update).await {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || ErasureError::Contention,
    )
    .await
}

/// Erases what the ticket's messages and notes hold.
async fn erase_contents<S>(store: &S, id: &TicketId, now: DateTime<Utc>) -> Result<(), ErasureError>
where
    S: TicketReads + IngestStore + PrivacyStore,
{
    for message in all_messages(store, id).await? {
        if message.erased_at.is_none() {
            erase_message(store, message, now).await?;
        }
    }
    for event in all_events(store, id).await? {
        if let EventKind::Note { text } = &event.kind
            && !text.is_empty()
        {
            let erased = TicketEvent {
                kind: EventKind::Note {
                    text: String::new(),
                },
                ..event
            };
            store.replace_event(&erased).await?;
        }
    }
    Ok(())
}

async fn erase_message<S: IngestStore>(
    store: &S,
    first_read: Message,
    now: DateTime<Utc>,
) -> Result<(), ErasureError> {
    let key = &first_read.body.dedupe_key();
    let first_read = &first_read;
    let mut read_again = false;
    optimistic(
        move || {
            let again = std::mem::replace(&mut read_again, true);
            async move {
                // The page's copy the first time; the stored one after a conflict (a delivery
                // recorded on a reply, an edit).
                let message = match again {
                    false => first_read.clone(),
                    true => match store.get_message(key).await? {
                        Some(message) => message,
                        None => return Ok(Round::Done(())),
                    },
                };
                if message.erased_at.is_some() {
                    return Ok(Round::Done(()));
                }
                match store
                    .replace_message(&message.erased(now), message.version)
                    .await
                {
                    Ok(()) => Ok(Round::Done(())),
                    Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {
                        Ok(Round::ReadAgain)
                    }
                    Err(CommitError::Store(e)) => Err(e.into()),
                }
            }
        },
        || ErasureError::Contention,
    )
    .await
}

/// Erases the customer's own messages on the other customers' tickets they wrote in; returns
/// how many it erased (one erased before has no author left to recognise: it is not counted
/// again).
async fn erase_elsewhere<S>(
    store: &S,
    customer: &Customer,
    now: DateTime<Utc>,
) -> Result<u32, ErasureError>
where
    S: TicketReads + IngestStore,
{
    let theirs: Vec<String> = customer.identities.iter().map(|i| i.key()).collect();
    let mut count = 0;
    for ticket in &customer.elsewhere {
        for message in all_messages(store, ticket).await? {
            let by_them = message.body.direction == Direction::Inbound
                && theirs.contains(&message.body.author_key());
            // An erased message has no author left to recognise: it was erased as theirs
            // (or as its own customer's) already.
            if !by_them || message.erased_at.is_some() {
                continue;
            }
            count += 1;
            erase_message(store, message, now).await?;
        }
    }
    Ok(count)
}

/// Erases the incident's example when it is the start of this ticket's subject (the customer's
/// first message opened the incident).
async fn erase_example<S: IncidentRecords>(
    store: &S,
    id: &crate::ids::IncidentId,
    subject: &str,
) -> Result<(), ErasureError> {
    optimistic(
        move || async move {
            let Some(incident) = store.get_incident(id).await? else {
                return Ok(Round::Done(()));
            };
            // The example is the opening ticket's subject, cut as an incident cuts it.
            let opened_it = incident.example == subject.chars().take(120).collect::<String>();
            if incident.example.is_empty() || !opened_it {
                return Ok(Round::Done(()));
            }
            let erased = crate::incident::Incident {
                example: String::new(),
                version: incident.version + 1,
                ..incident.clone()
            };
            match store.put_incident(&erased, incident.version).await {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || ErasureError::Contention,
    )
    .await
}

/// Deletes the customer, their messages on others' tickets erased first (a message that
/// joined one meanwhile moves the customer's version, and the next round erases it too);
/// returns how many of those it erased.
async fn delete_customer<S>(
    store: &S,
    id: &CustomerId,
    now: DateTime<Utc>,
) -> Result<u32, ErasureError>
where
    S: CustomerStore + PrivacyStore + TicketReads + IngestStore,
{
    let erased = &std::sync::atomic::AtomicU32::new(0);
    optimistic(
        move || async move {
            let Some(customer) = store.get_customer(id).await? else {
                return Ok(Round::Done(()));
            };
            let elsewhere = erase_elsewhere(store, &customer, now).await?;
            erased.fetch_add(elsewhere, std::sync::atomic::Ordering::Relaxed);
            match store.delete_customer(&customer).await {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || ErasureError::Contention,
    )
    .await?;
    Ok(erased.load(std::sync::atomic::Ordering::Relaxed))
}

pub(crate) async fn all_tickets<S: CustomerStore>(
    store: &S,
    id: &CustomerId,
) -> Result<Vec<Ticket>, StoreError> {
    let mut tickets = Vec::new();
    let mut query = TicketQuery::newest(TicketQuery::MAX_LIMIT);
    loop {
        let page = store.customer_tickets(id, &query).await?;
        tickets.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(tickets),
        }
    }
}

async fn all_messages<S: TicketReads>(
    store: &S,
    id: &TicketId,
) -> Result<Vec<Message>, StoreError> {
    let mut messages: Vec<Message> = Vec::new();
    loop {
        let after = messages.last().map(Message::sort_key);
        let page = store.ticket_messages(id, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE as usize;
        messages.extend(page);
        if !full {
            return Ok(messages);
        }
    }
}

async fn all_events<S: TicketReads>(
    store: &S,
    id: &TicketId,
) -> Result<Vec<TicketEvent>, StoreError> {
    let mut events: Vec<TicketEvent> = Vec::new();
    loop {
        let after = events.last().map(TicketEvent::sort_key);
        let page = store.ticket_events_page(id, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE as usize;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

/// The e-mail addresses the customer writes from (their e-mail identities), as contacts.
pub fn mail_addresses(customer: &crate::customer::Customer) -> Vec<crate::customer::Contact> {
    let mut addresses: Vec<_> = customer
        .identities
        .iter()
        .filter(|identity| identity.source == crate::message::Source::Email)
        .map(|identity| crate::mail_feedback::email_contact(&identity.user_id))
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}
