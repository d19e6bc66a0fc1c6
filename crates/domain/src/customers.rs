//! Customers across channels: linking the identities an integrator knows belong together,
//! and merging two customers who turn out to be one person.

use crate::customer::{ContactNote, Customer, Identity, Merge};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, TicketId};
use crate::ports::{
    CommitError, ContactStore, CustomerStore, IngestStore, PrivacyStore, StoreError,
    TicketCommands, TicketUpdate,
};
use crate::retry::{Round, optimistic};
use crate::ticket::Ticket;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no customer {0}")]
    NotFound(CustomerId),
    #[error("that identity belongs to customer {0}; merge the two customers instead")]
    Taken(CustomerId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the customer kept changing; try again")]
    Contention,
}

/// Links `identity` to the customer: from then on, messages from it thread with the
/// customer's other identities and show in the same history. Linking twice changes nothing.
pub async fn link_identity<S: CustomerStore + IngestStore>(
    store: &S,
    id: &CustomerId,
    identity: Identity,
    now: DateTime<Utc>,
) -> Result<Customer, LinkError> {
    let identity = &identity;
    optimistic(
        move || async move {
            let customer = store
                .get_customer(id)
                .await?
                .ok_or_else(|| LinkError::NotFound(id.clone()))?;
            if let Some(owner) = store.find_customer(&identity.key()).await? {
                return match owner.id == customer.id {
                    true => Ok(Round::Done(customer)),
                    false => Err(LinkError::Taken(owner.id)),
                };
            }
            let mut identities = customer.identities.clone();
            identities.push(identity.clone());
            let linked = Customer {
                identities,
                updated_at: customer.updated_at.max(now),
                version: customer.version + 1,
                ..customer.clone()
            };
            match store
                .link_identity(&linked, customer.version, identity)
                .await
            {
                Ok(()) => Ok(Round::Done(linked)),
                // The identity was claimed meanwhile, or the customer moved: look again.
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || LinkError::Contention,
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no customer {0}")]
    NotFound(CustomerId),
    #[error("a customer cannot be merged with themselves")]
    Same,
    #[error("customer {customer} was merged into {into}")]
    MergedElsewhere {
        customer: CustomerId,
        into: CustomerId,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the customers kept changing; try again")]
    Contention,
}

/// A merge done: its record and the customer who has everything now.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub merge: Merge,
    pub customer: Customer,
}

/// Merges customer `other` into `into` at the request of `by` (an API key's name): their
/// tickets move, each with a trail event saying who merged, then their identities, so that
/// whatever either identity writes next (or a platform delivers again) threads to `into`;
/// `other` is deleted. Recorded first and resumable like an erasure: asking again returns the
/// same record, and finishes a merge cut short.
pub async fn merge_customers<S>(
    store: &S,
    into: &CustomerId,
    other: &CustomerId,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Merged, MergeError>
where
    S: CustomerStore + IngestStore + TicketCommands + PrivacyStore + ContactStore,
{
    if into == other {
        return Err(MergeError::Same);
    }
    // An erased customer is gone, and one being erased is going: neither merges (an erasure
    // would otherwise miss what moved, or the merge bring back what was erased).
    for id in [into, other] {
        if store.get_erasure(id).await?.is_some() {
            return Err(MergeError::NotFound(id.clone()));
        }
    }
    let mut merge = match store.get_merge(other).await? {
        Some(merge) if merge.into != *into => {
            return Err(MergeError::MergedElsewhere {
                customer: other.clone(),
                into: merge.into,
            });
        }
        Some(merge) if merge.completed_at.is_some() => {
            let customer = present(store, into).await?;
            return Ok(Merged { merge, customer });
        }
        Some(started) => started,
        None => {
            // Customers of two brand accounts merge too (an X customer who also e-mails the
            // support mailbox): the accounts are one brand's, and an agent sees them all.
            let absorbed = present(store, other).await?;
            let customer = present(store, into).await?;
            Merge {
                customer_id: other.clone(),
                into: into.clone(),
                account: customer.account,
                merged_by: by.to_string(),
                requested_at: now,
                completed_at: None,
                identities: absorbed.identities.len() as u32,
                tickets: 0,
            }
        }
    };
    // Where everything goes must be there and stay: not merged away, nor being merged away.
    present(store, into).await?;
    if let Some(elsewhere) = store.get_merge(into).await? {
        return Err(MergeError::MergedElsewhere {
            customer: into.clone(),
            into: elsewhere.into,
        });
    }
    // Recorded first: a merge cut short is still on the record, and is finished by the next;
    // a second merge of the same customer into another is refused by the record.
    record(store, &merge).await?;
    merge.tickets += move_tickets(store, &merge, now).await?;
    record(store, &merge).await?;
    absorb(store, &merge, now).await?;
    move_contacts(store, &merge).await?;
    // Once more after the identities moved: a message that was being ingested meanwhile may
    // have opened a ticket for the customer merged away.
    merge.tickets += move_tickets(store, &merge, now).await?;
    merge.completed_at = Some(now);
    record(store, &merge).await?;
    let customer = present(store, into).await?;
    Ok(Merged { merge, customer })
}

/// Files the contacts the customer merged away gave under the one they went into, then
/// forgets them under the first (both harmless to do again).
async fn move_contacts<S: ContactStore>(store: &S, merge: &Merge) -> Result<(), StoreError> {
    let notes: Vec<_> = store
        .customer_contacts(&merge.customer_id)
        .await?
        .into_iter()
        .map(|note| ContactNote {
            customer_id: merge.into.clone(),
            ..note
        })
        .collect();
    if !notes.is_empty() {
        store.note_contacts(&notes).await?;
        store.forget_contacts(&merge.customer_id).await?;
    }
    Ok(())
}

/// Stores the merge's record, or says which merge of the same customer got there first.
async fn record<S: CustomerStore>(store: &S, merge: &Merge) -> Result<(), MergeError> {
    match store.put_merge(merge).await {
        Ok(()) => Ok(()),
        Err(CommitError::Store(e)) => Err(e.into()),
        Err(_) => Err(match store.get_merge(&merge.customer_id).await? {
            Some(first) => MergeError::MergedElsewhere {
                customer: merge.customer_id.clone(),
                into: first.into,
            },
            None => MergeError::Contention,
        }),
    }
}

/// The customer, or why there is none: never was, or merged into another.
async fn present<S: CustomerStore>(store: &S, id: &CustomerId) -> Result<Customer, MergeError> {
    if let Some(customer) = store.get_customer(id).await? {
        return Ok(customer);
    }
    Err(match store.get_merge(id).await? {
        Some(merge) => MergeError::MergedElsewhere {
            customer: id.clone(),
            into: merge.into,
        },
        None => MergeError::NotFound(id.clone()),
    })
}

/// Moves every ticket of the customer merged away; returns how many moved.
async fn move_tickets<S>(store: &S, merge: &Merge, now: DateTime<Utc>) -> Result<u32, MergeError>
where
    S: CustomerStore + IngestStore + TicketCommands,
{
    let mut moved = 0;
    for ticket in crate::privacy::all_tickets(store, &merge.customer_id).await? {
        if move_ticket(store, &ticket.id, merge, now).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

async fn move_ticket<S>(
    store: &S,
    id: &TicketId,
    merge: &Merge,
    now: DateTime<Utc>,
) -> Result<bool, MergeError>
where
    S: IngestStore + TicketCommands,
{
    optimistic(
        move || async move {
            let Some(ticket) = store.get_ticket(id).await? else {
                return Ok(Round::Done(false));
            };
            if ticket.customer_id != merge.customer_id {
                return Ok(Round::Done(false));
            }
            let event = TicketEvent::new(
                id.clone(),
                now,
                Actor::Agent {
                    id: merge.merged_by.clone(),
                },
                EventKind::CustomerMerged {
                    from: merge.customer_id.clone(),
                    into: merge.into.clone(),
                },
                &format!("merged:{}", merge.customer_id),
            );
            let update = TicketUpdate {
                ticket: Ticket {
                    customer_id: merge.into.clone(),
                    version: ticket.version + 1,
                    ..ticket.clone()
                },
                version_before: ticket.version,
                events: vec![event],
                replies: Vec::new(),
                samples: Vec::new(),
            };
            match store.update_ticket(&update).await {
                Ok(()) => Ok(Round::Done(true)),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || MergeError::Contention,
    )
    .await
}

/// Moves the identities of the customer merged away to the other, and deletes them.
async fn absorb<S>(store: &S, merge: &Merge, now: DateTime<Utc>) -> Result<(), MergeError>
where
    S: CustomerStore + IngestStore,
{
    optimistic(
        move || async move {
            let Some(absorbed) = store.get_customer(&merge.customer_id).await? else {
                return Ok(Round::Done(()));
            };
            let customer = present(store, &merge.into).await?;
            let latest = latest_ticket(store, &customer, &absorbed).await?;
            let merged = combined(&customer, &absorbed, latest, now);
            match store
                .absorb_customer(&merged, customer.version, &absorbed)
                .await
            {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || MergeError::Contention,
    )
    .await
}

/// The ticket the merged customer's next message joins: of the two customers' latest, the
/// active one with the latest message (an active one over one that is not).
async fn latest_ticket<S: IngestStore>(
    store: &S,
    customer: &Customer,
    absorbed: &Customer,
) -> Result<Option<TicketId>, StoreError> {
    let mut candidates = Vec::new();
    for id in [&customer.latest_ticket_id, &absorbed.latest_ticket_id]
        .into_iter()
        .flatten()
    {
        if let Some(ticket) = store.get_ticket(id).await? {
            candidates.push(ticket);
        }
    }
    Ok(candidates
        .into_iter()
        .max_by_key(|t| {
            (
                t.status.is_active() && t.erased_at.is_none(),
                t.last_message_at,
            )
        })
        .map(|t| t.id)
        .or_else(|| customer.latest_ticket_id.clone()))
}

/// One customer made of two: every identity (the first one's first), the first one's name
/// and e-mail unless only the other has them.
fn combined(
    customer: &Customer,
    absorbed: &Customer,
    latest_ticket_id: Option<TicketId>,
    now: DateTime<Utc>,
) -> Customer {
    let mut identities = customer.identities.clone();
    for identity in &absorbed.identities {
        if !identities.iter().any(|known| known.key() == identity.key()) {
            identities.push(identity.clone());
        }
    }
    let mut merged = Customer {
        id: customer.id.clone(),
        account: customer.account.clone(),
        name: customer.name.clone().or_else(|| absorbed.name.clone()),
        email: customer.email.clone().or_else(|| absorbed.email.clone()),
        identities,
        latest_ticket_id,
        created_at: customer.created_at.min(absorbed.created_at),
        updated_at: customer.updated_at.max(now),
        acknowledged_at: customer.acknowledged_at.max(absorbed.acknowledged_at),
        elsewhere: customer.elsewhere.clone(),
        version: customer.version + 1,
    };
    for ticket in &absorbed.elsewhere {
        merged.wrote_elsewhere(ticket);
    }
    merged
}
