//! RetentionStore: deleting a ticket whose retention passed.

use super::keys::{MESSAGE_SK_PREFIX, TICKET_SK, events_pk, ticket_pk};
use super::{DynamoStore, Item, failed, s};
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use chrono::{DateTime, Utc};
use socialcare_domain::Ticket;
use socialcare_domain::ports::{RetentionStore, StoreError};

/// A BatchWriteItem holds at most 25 writes.
const MOST_WRITES: usize = 25;

fn key_of(item: &Item) -> Option<(String, String)> {
    match (item.get("pk")?, item.get("sk")?) {
        (
            aws_sdk_dynamodb::types::AttributeValue::S(pk),
            aws_sdk_dynamodb::types::AttributeValue::S(sk),
        ) => Some((pk.clone(), sk.clone())),
        _ => None,
    }
}

impl DynamoStore {
    /// Deletes the items of `keys`, 25 a request, sending again what the table left
    /// unprocessed (throttled) until none is left.
    async fn delete_all(&self, keys: Vec<(String, String)>) -> Result<(), StoreError> {
        for chunk in keys.chunks(MOST_WRITES) {
            let mut writes = chunk
                .iter()
                .map(|(pk, sk)| {
                    let delete = DeleteRequest::builder()
                        .key("pk", s(pk.as_str()))
                        .key("sk", s(sk.as_str()))
                        .build()
                        .map_err(|e| StoreError::invalid(e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            for attempt in 0u32.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, writes)
                    .send()
                    .await
                    .map_err(|e| failed("purge ticket", e))?;
                writes = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if writes.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::throttled(
                        "purge ticket: writes left unprocessed",
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }
}

impl RetentionStore for DynamoStore {
    async fn purge_ticket(
        &self,
        ticket: &Ticket,
        _now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let id = ticket.id.as_str();
        // The messages' dedupe records (MSGKEY#) are items of their own, and stay.
        let conversation = self.partition(ticket_pk(id), "purge ticket").await?;
        let trail = self.partition(events_pk(id), "purge ticket").await?;
        let mut keys: Vec<(String, String)> = conversation
            .iter()
            .chain(&trail)
            .filter_map(key_of)
            .filter(|(_, sk)| sk != TICKET_SK)
            .collect();
        let messages = keys
            .iter()
            .filter(|(_, sk)| sk.starts_with(MESSAGE_SK_PREFIX))
            .count();
        self.delete_all(std::mem::take(&mut keys)).await?;
        // The ticket last: a purge cut short finds it again and finishes.
        self.delete_all(vec![(ticket_pk(id), TICKET_SK.to_string())])
            .await?;
        Ok(messages)
    }
}
