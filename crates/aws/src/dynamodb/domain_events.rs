//! The events integrators hear, read from the table's stream: what each change wrote.
//!
//! | stream record                         | event                                      |
//! |---------------------------------------|--------------------------------------------|
//! | a new trail item (`EVENTS#<ticket>`)  | its kind's event (status, assignment, SLA, satisfaction) |
//! | a new message item with its arrival   | `ticket.created` or `message.received`     |
//! | a merge record, done                  | `customer.merged`                          |
//! | an erasure record, done               | `customer.erased`                          |
//! | a reply's item, sent or failed        | `reply.sent`, `reply.failed`               |
//! | a new incident; one resolved          | `incident.opened`, `incident.resolved`     |
//! | a new status update (`UPDATES#`)      | `incident.updated`                         |
//!
//! Only new items count for the trail and the updates: a message item rewritten (an edit, an
//! erasure) carries its arrival again, and is not a new arrival. An outcome (a reply sent, an
//! incident resolved) is read from the item as it is, so a later rewrite tells it again, with
//! the same id.

use super::items::{arrival_event, from_item};
use super::keys::{ERASURES, INCIDENTS, MERGES, MESSAGE_SK_PREFIX, TICKET_SK, ticket_pk};
use super::report_feed::from_stream;
use super::{DynamoStore, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::incidents::Incident;
use socialcare_domain::ports::StoreError;
use socialcare_domain::update::IncidentUpdate;
use socialcare_domain::{Erasure, Merge, Message, Ticket, TicketEvent};
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

fn told(change: &StreamChange) -> Result<Vec<Told>, StoreError> {
    let item = &change.image;
    let (Some(pk), Some(sk)) = (text(item, "pk"), text(item, "sk")) else {
        return Ok(Vec::new());
    };
    let mut told = Vec::new();
    if pk.starts_with("EVENTS#") && change.inserted {
        told.push(Told::Trail(from_item(item.clone())?));
    } else if pk.starts_with("TICKET#") && sk.starts_with(MESSAGE_SK_PREFIX) {
        if change.inserted {
            told.extend(arrival_event(item)?.map(Told::Trail));
        }
        if item.contains_key("delivery") {
            let reply: Message = from_item(item.clone())?;
            told.extend(DomainEvent::of_reply(&reply).map(Told::Whole));
        }
    } else if pk == ERASURES {
        let erasure: Erasure = from_item(item.clone())?;
        told.extend(DomainEvent::of_erasure(&erasure).map(Told::Whole));
    } else if pk == MERGES {
        let merge: Merge = from_item(item.clone())?;
        told.extend(DomainEvent::of_merge(&merge).map(Told::Whole));
    } else if pk == INCIDENTS {
        let incident: Incident = from_item(item.clone())?;
        told.extend(
            DomainEvent::of_incident(&incident, change.inserted)
                .into_iter()
                .map(Told::Whole),
        );
    } else if pk.starts_with("UPDATES#") && change.inserted {
        let update: IncidentUpdate = from_item(item.clone())?;
        told.push(Told::Whole(DomainEvent::of_incident_update(&update)));
    }
    Ok(told)
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
            // A record that does not read would fail its batch again and again, then be lost
            // with it: it is left out, loudly, and the rest published.
            match told(change) {
                Ok(told) => told_all.extend(told),
                Err(error) => {
                    let key =
                        |name: &str| text(&change.image, name).unwrap_or_default().to_string();
                    tracing::error!(%error, pk = %key("pk"), sk = %key("sk"), "a change of the table does not read as events; left out");
                }
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
