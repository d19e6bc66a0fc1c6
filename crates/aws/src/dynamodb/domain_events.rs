//! The events integrators hear, read from the table's stream: what each change wrote.
//!
//! | stream record                         | event                                      |
//! |---------------------------------------|--------------------------------------------|
//! | a new trail item (`EVENTS#<ticket>`)  | its kind's event (status, assignment, SLA, satisfaction) |
//! | a new message item with its arrival   | `ticket.created` or `message.received`     |
//! | an erasure record, done               | `customer.erased`                          |
//!
//! Only new items count for the trail: a message item rewritten (an edit, an erasure) carries
//! its arrival again, and is not a new arrival.

use super::items::{arrival_event, from_item};
use super::keys::{ERASURES, MESSAGE_SK_PREFIX, TICKET_SK, ticket_pk};
use super::report_feed::from_stream;
use super::{DynamoStore, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::ports::StoreError;
use socialcare_domain::{Erasure, Ticket, TicketEvent};
use std::collections::{BTreeSet, HashMap};

/// One record of the table's stream: the item as the change left it.
#[derive(Debug, Clone)]
pub struct StreamChange {
    /// The change added the item (`INSERT`), rather than rewrote it.
    pub inserted: bool,
    pub image: HashMap<String, AttributeValue>,
}

impl StreamChange {
    /// A record as the streams API gives it (`GetRecords`); `None` for a removal.
    pub fn of_record(record: &aws_sdk_dynamodbstreams::types::Record) -> Option<StreamChange> {
        use aws_sdk_dynamodbstreams::types::OperationType;
        let inserted = match record.event_name.as_ref()? {
            OperationType::Insert => true,
            OperationType::Modify => false,
            _ => return None,
        };
        let image = record.dynamodb.as_ref()?.new_image.as_ref()?;
        Some(StreamChange {
            inserted,
            image: image
                .iter()
                .map(|(name, value)| (name.clone(), from_stream(value)))
                .collect(),
        })
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// What a change tells: a trail event (its ticket still to read), or an event already whole.
enum Told {
    Trail(TicketEvent),
    Whole(DomainEvent),
}

fn told(change: &StreamChange) -> Result<Option<Told>, StoreError> {
    let item = &change.image;
    let (Some(pk), Some(sk)) = (text(item, "pk"), text(item, "sk")) else {
        return Ok(None);
    };
    if pk.starts_with("EVENTS#") && change.inserted {
        return Ok(Some(Told::Trail(from_item(item.clone())?)));
    }
    if pk.starts_with("TICKET#") && sk.starts_with(MESSAGE_SK_PREFIX) && change.inserted {
        return Ok(arrival_event(item)?.map(Told::Trail));
    }
    if pk == ERASURES {
        let erasure: Erasure = from_item(item.clone())?;
        return Ok(DomainEvent::of_erasure(&erasure).map(Told::Whole));
    }
    Ok(None)
}

impl DynamoStore {
    /// The events the stream's `changes` tell, in their order. A trail event's ticket is read
    /// (one BatchGetItem for all of them): it gives the account, and `ticket.created` carries
    /// it. A ticket gone since (purged) tells nothing.
    pub async fn domain_events(
        &self,
        changes: &[StreamChange],
    ) -> Result<Vec<DomainEvent>, StoreError> {
        let mut told_all = Vec::new();
        for change in changes {
            if let Some(told) = told(change)? {
                told_all.push(told);
            }
        }
        let tickets: BTreeSet<String> = told_all
            .iter()
            .filter_map(|told| match told {
                Told::Trail(event) => Some(event.ticket_id.to_string()),
                Told::Whole(_) => None,
            })
            .collect();
        let tickets: HashMap<String, Ticket> = match tickets.is_empty() {
            true => HashMap::new(),
            false => self
                .batch_get(
                    tickets
                        .iter()
                        .map(|id| (ticket_pk(id), TICKET_SK.to_string())),
                    None,
                    "read the events' tickets",
                )
                .await?
                .into_iter()
                .map(from_item::<Ticket>)
                .map(|ticket| ticket.map(|t| (t.id.to_string(), t)))
                .collect::<Result<_, _>>()?,
        };
        Ok(told_all
            .into_iter()
            .filter_map(|told| match told {
                Told::Whole(event) => Some(event),
                Told::Trail(event) => tickets
                    .get(event.ticket_id.as_str())
                    .and_then(|ticket| DomainEvent::of_trail(&event, ticket)),
            })
            .collect())
    }
}
