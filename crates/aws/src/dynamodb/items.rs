//! The mapping between records and items: `serde_dynamo` both ways, plus the keys and index
//! attributes of the records several ports write (tickets, messages and their dedupe records,
//! events).

use super::keys::{
    ALL_TICKETS, DUE, LIST_SORT_KEY, MSGKEY_SK, TICKET_SK, customer_pk, due_sort_key, events_pk,
    incident_pk, message_sk, msgkey_pk, shard_of, status_pk, ticket_pk,
};
use super::metrics::REPORT_SAMPLES;
use super::{Item, StoreError, put_new, s};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socialcare_domain::page::sortable_time;
use socialcare_domain::{EventKind, Message, Ticket, TicketEvent};
use std::collections::HashMap;

/// `value` as an item under `keys`, without its empty fields: a field that is `None` would
/// be stored as a NULL attribute, its name billed on every write of the item (a ticket had a
/// dozen), and reads back as `None` just the same when it is missing.
pub(super) fn to_item<T: Serialize>(
    value: &T,
    keys: [(&str, String); 2],
) -> Result<Item, StoreError> {
    let mut item = encode(value)?;
    for (name, key) in keys {
        item.insert(name.to_string(), s(key));
    }
    Ok(item)
}

/// `value`'s attributes, without its empty fields.
fn encode<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)
        .map_err(|e| StoreError::invalid(format!("encoding item: {e}")))?;
    without_nulls(&mut item);
    Ok(item)
}

/// Removes the NULL attributes of `item` and of the maps in it (a struct's fields; list
/// elements stay, their places are their meaning).
fn without_nulls(item: &mut Item) {
    item.retain(|_, value| !matches!(value, AttributeValue::Null(_)));
    for value in item.values_mut() {
        if let AttributeValue::M(fields) = value {
            without_nulls(fields);
        }
    }
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::invalid(format!("decoding item: {e}")))
}

pub(super) fn ticket_item(ticket: &Ticket) -> Result<Item, StoreError> {
    let sort_key = ticket.cursor().sort_key();
    let mut item = to_item(
        ticket,
        [
            ("pk", ticket_pk(ticket.id.as_str())),
            ("sk", TICKET_SK.into()),
        ],
    )?;
    let shard = shard_of(&ticket.id);
    item.insert(LIST_SORT_KEY.into(), s(sort_key));
    item.insert("gsi1pk".into(), s(format!("{ALL_TICKETS}#{shard}")));
    item.insert(
        "gsi2pk".into(),
        s(format!("{}#{shard}", status_pk(ticket.status.as_str()))),
    );
    item.insert("gsi3pk".into(), s(customer_pk(ticket.customer_id.as_str())));
    if let Some(owner) = &ticket.owner {
        item.insert("gsi4pk".into(), s(format!("OWNER#{owner}")));
    }
    // The due index: the next reminder, until the scheduler takes it out (sparse, sharded like
    // the lists so a burst of new tickets spreads over partitions).
    if let Some(reminder) = ticket.timers.next(&ticket.id) {
        let json = serde_json::to_string(&reminder)
            .map_err(|e| StoreError::invalid(format!("encoding reminder: {e}")))?;
        item.insert("gsi5pk".into(), s(format!("{DUE}#{shard}")));
        item.insert("gsi5sk".into(), s(due_sort_key(&reminder)));
        item.insert("reminder".into(), s(json));
    }
    if let Some(incident) = &ticket.incident_id {
        item.insert("gsi6pk".into(), s(incident_pk(incident)));
    }
    Ok(item)
}

pub(super) fn event_item(event: &TicketEvent) -> Result<Item, StoreError> {
    to_item(
        event,
        [
            ("pk", events_pk(event.ticket_id.as_str())),
            ("sk", event.sort_key()),
        ],
    )
}

/// The record that files a message under a dedupe key (its own, or the platform's id of a
/// posted reply): it must be new.
pub(super) fn dedupe_record(
    table: &str,
    dedupe_key: &str,
    message: &Message,
) -> Result<TransactWriteItem, StoreError> {
    let mut msgkey: Item = HashMap::new();
    msgkey.insert("pk".into(), s(msgkey_pk(dedupe_key)));
    msgkey.insert("sk".into(), s(MSGKEY_SK));
    msgkey.insert("message_id".into(), s(message.id.as_str()));
    msgkey.insert("ticket_id".into(), s(message.ticket_id.as_str()));
    msgkey.insert("message_sk".into(), s(message_sk(message)));
    put_new(table, msgkey)
}

pub(super) fn message_item(message: &Message) -> Result<Item, StoreError> {
    to_item(
        message,
        [
            ("pk", ticket_pk(message.ticket_id.as_str())),
            ("sk", message_sk(message)),
        ],
    )
}

/// The writes of a message not stored yet: its dedupe record first, then the message (with
/// the event of its `arrival` on its ticket, when it carries it: see [`ARRIVAL_EVENT`], and
/// the report samples of the change it is part of, when it carries them: see
/// [`REPORT_SAMPLES`]).
pub(super) fn new_message(
    table: &str,
    message: &Message,
    dedupe_key: &str,
    arrival: Option<&TicketEvent>,
    samples: Option<AttributeValue>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut item = message_item(message)?;
    if let Some(event) = arrival {
        item.insert(ARRIVAL_EVENT.into(), AttributeValue::M(encode(event)?));
    }
    if let Some(samples) = samples {
        item.insert(REPORT_SAMPLES.into(), samples);
    }
    Ok(vec![
        dedupe_record(table, dedupe_key, message)?,
        put_new(table, item)?,
    ])
}

/// The attribute of an ingested message's item that holds the event of its arrival (the
/// ticket's opening, or a message added). That event only repeats the message, and as an item
/// of its own it cost two write units more in every ingest transaction; the trail reads it
/// from the messages (`TicketStore::ticket_events`).
pub(super) const ARRIVAL_EVENT: &str = "arrival_event";

/// Whether `event` records `message`'s arrival at the time the message sorts by, so that it
/// can ride on the message's item and be read back in the trail's order.
pub(super) fn records_arrival(event: &TicketEvent, message: &Message) -> bool {
    let recorded = match &event.kind {
        EventKind::Created { message_id } | EventKind::MessageAdded { message_id, .. } => {
            message_id
        }
        _ => return false,
    };
    *recorded == message.id
        && event.ticket_id == message.ticket_id
        && sortable_time(event.at) == sortable_time(message.body.created_at)
}

/// The arrival event a message's item carries.
pub(super) fn arrival_event(item: &Item) -> Result<Option<TicketEvent>, StoreError> {
    match item.get(ARRIVAL_EVENT) {
        Some(AttributeValue::M(fields)) => from_item(fields.clone()).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use socialcare_domain::TicketId;
    use socialcare_domain::{Author, Channel, Direction, NormalizedMessage, Source};

    /// An X mention from Ann at 10:00 on 22 November 2026.
    fn mention() -> Message {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let body = NormalizedMessage {
            source: Source::X,
            account: "42".into(),
            channel: Channel::Public,
            direction: Direction::Inbound,
            external_id: "1".into(),
            in_reply_to: Some("0".into()),
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: "7".into(),
                name: Some("Ann".into()),
                handle: Some("ann".into()),
                email: None,
                followers: Some(12345),
                verified_email: false,
            },
            text: "hello".into(),
            attachments: vec![],
            created_at: at,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        };
        Message::new(TicketId::derive(at, "t"), body, at)
    }

    // The mapping must survive serde_dynamo both ways, flattened fields and numbers included.
    #[test]
    fn a_message_round_trips_through_an_item() {
        let message = mention();
        let item = to_item(&message, [("pk", "p".into()), ("sk", "s".into())]).unwrap();
        assert_eq!(item.get("text"), Some(&s("hello")));
        let back: Message = from_item(item).unwrap();
        assert_eq!(back, message);
    }

    fn nulls_in(item: &Item, path: &str, found: &mut Vec<String>) {
        for (name, value) in item {
            match value {
                AttributeValue::Null(_) => found.push(format!("{path}{name}")),
                AttributeValue::M(fields) => nulls_in(fields, &format!("{path}{name}."), found),
                _ => {}
            }
        }
    }

    // A field that is None is left out of the item, at any depth (it was a NULL attribute
    // whose name every write paid for), and reads back as None.
    #[test]
    fn empty_fields_are_left_out_and_read_back_as_none() {
        let mut message = mention();
        message.body.in_reply_to = None;
        message.body.author.name = None;
        message.body.author.handle = None;
        message.body.author.followers = None;
        let plain = serde_dynamo::to_item::<_, Item>(&message).unwrap();
        let mut before = Vec::new();
        nulls_in(&plain, "", &mut before);
        assert!(before.contains(&"in_reply_to".to_string()), "{before:?}");
        assert!(before.contains(&"author.handle".to_string()), "{before:?}");

        let item = message_item(&message).unwrap();
        let mut after = Vec::new();
        nulls_in(&item, "", &mut after);
        assert_eq!(after, Vec::<String>::new());
        assert_eq!(
            item.len(),
            plain.len() - before.iter().filter(|n| !n.contains('.')).count() + 2
        );
        let back: Message = from_item(item).unwrap();
        assert_eq!(back, message);
    }
}
