//! Retention: a closed ticket, with its messages and trail, is deleted once its account's
//! retention has passed since it was resolved (or closed).
//!
//! The messages' dedupe records stay (they hold ids only): a webhook replayed after the purge
//! is still a duplicate, never a ticket of its own. The customer stays, with their other
//! tickets; an erasure ([`crate::privacy`]) removes them.

use crate::message::Source;
use crate::page::Cursor;
use crate::ports::{RetentionStore, StoreError, TicketLists};
use crate::ticket::{Ticket, TicketQuery, TicketStatus};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// How many days each brand account keeps its closed tickets; an account not named keeps
/// them.
/// The longest retention an account may set: a century.
pub const MOST_DAYS: u32 = 36_500;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    days: HashMap<(Source, String), u32>,
}

impl Retention {
    pub fn keep(&mut self, source: Source, account: &str, days: u32) {
        self.days.insert((source, account.to_string()), days);
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// When the ticket is due to go, if its account sets a retention and it is closed.
    pub fn expiry(&self, ticket: &Ticket) -> Option<DateTime<Utc>> {
        let days = self.days.get(&(ticket.source, ticket.account.clone()))?;
        let closed = ticket
            .resolved_at
            .filter(|_| ticket.status == TicketStatus::Closed)?;
        closed.checked_add_signed(Duration::days(i64::from(*days)))
    }
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub tickets: usize,
    pub messages: usize,
}

/// Deletes the closed tickets whose retention has passed at `now`, at most `most` of them,
/// reading at most `read_most` closed tickets (the rest wait for the next run).
///
/// The closed tickets old enough to have expired are read newest first, and most of them
/// have not (an account that keeps its tickets, a longer retention, one resolved lately): a
/// run goes on where the last one stopped (the store keeps its place), and starts again from
/// the newest once it reached the oldest. What one run costs is bounded; a ticket waits for
/// the round to reach it.
pub async fn purge_expired<S: TicketLists + RetentionStore>(
    store: &S,
    retention: &Retention,
    now: DateTime<Utc>,
    most: usize,
    read_most: usize,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    let Some(shortest) = retention.days.values().min() else {
        return Ok(purged);
    };
    store.finish_purges().await?;
    // A ticket is resolved after it is opened: only tickets opened before the shortest
    // retention's start can have passed it. The list goes newest first from there.
    let Some(start) = now.checked_sub_signed(Duration::days(i64::from(*shortest))) else {
        return Ok(purged);
    };
    let start = start + Duration::seconds(1);
    let newest = Cursor::new(start, crate::ids::TicketId::derive(start, ""));
    let from = store
        .purge_cursor()
        .await?
        .filter(|kept| kept.sort_key() < newest.sort_key())
        .unwrap_or(newest);
    let page_size = |read: usize| (read_most - read).min(TicketQuery::MAX_LIMIT as usize) as u32;
    let mut read = 0;
    let mut query = TicketQuery {
        status: Some(TicketStatus::Closed),
        after: Some(from),
        ..TicketQuery::newest(page_size(0))
    };
    loop {
        let page = store.list_tickets(&query).await?;
        for ticket in &page.items {
            read += 1;
            if retention.expiry(ticket).is_some_and(|expiry| expiry <= now) {
                // A ticket a message reopened since the list was read is kept.
                let Some(messages) = store.purge_ticket(ticket, now).await? else {
                    continue;
                };
                purged.messages += messages;
                purged.tickets += 1;
                if purged.tickets >= most {
                    store.set_purge_cursor(Some(&ticket.cursor())).await?;
                    return Ok(purged);
                }
            }
        }
        match page.next {
            Some(next) if read < read_most => {
                query.after = Some(next);
                query.limit = page_size(read);
            }
            next => {
                // The oldest reached: the next round starts from the newest again.
                store.set_purge_cursor(next.as_ref()).await?;
                return Ok(purged);
            }
        }
    }
}
