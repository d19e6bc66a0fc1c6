//! RetentionStore: deleting a ticket whose retention passed.

use super::keys::{MESSAGE_SK_PREFIX, TICKET_SK, events_pk, ticket_pk};
use super::{DynamoStore, Item, s};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};
use socialcare_domain::ports::{CommitError, RetentionStore, StoreError};
use socialcare_domain::{Cursor, Ticket};

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
    /// Deletes the items of `keys` ([`DynamoStore::write_all`]).
    async fn delete_all(&self, keys: Vec<(String, String)>) -> Result<(), StoreError> {
        let deletes = keys
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
        self.write_all(deletes, "purge ticket").await
    }
}

/// The partition of the markers of purges under way: a ticket deleted, its messages and
/// trail not yet.
const PURGES: &str = "PURGES";
/// Where the last purge stopped reading (not in `PURGES`, which holds only markers).
const PURGE_CURSOR: &str = "PURGE_CURSOR";

impl DynamoStore {
    /// Deletes a purged ticket's messages and trail (the ticket is gone), then its marker.
    async fn purge_contents(&self, id: &str) -> Result<usize, StoreError> {
        // The messages' dedupe records (MSGKEY#) are items of their own, and stay.
        let conversation = self.partition(ticket_pk(id), "purge ticket").await?;
        let trail = self.partition(events_pk(id), "purge ticket").await?;
        let keys: Vec<(String, String)> = conversation
            .iter()
            .chain(&trail)
            .filter_map(key_of)
            .collect();
        let messages = keys
            .iter()
            .filter(|(_, sk)| sk.starts_with(MESSAGE_SK_PREFIX))
            .count();
        self.delete_all(keys).await?;
        self.delete_all(vec![(PURGES.to_string(), id.to_string())])
            .await?;
        Ok(messages)
    }
}

impl RetentionStore for DynamoStore {
    async fn purge_ticket(
        &self,
        ticket: &Ticket,
        _now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let id = ticket.id.as_str();
        // The ticket first, while it is still closed at the version the purge listed (a
        // message that reopened it since keeps it; one that comes after finds no ticket and
        // opens a new one), with a marker in the same transaction: a purge cut short after it
        // is finished by the next (`finish_purges`).
        let ticket_gone = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(ticket_pk(id)))
            .key("sk", s(TICKET_SK))
            .condition_expression("version = :version AND #status = :closed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":version", AttributeValue::N(ticket.version.to_string()))
            .expression_attribute_values(":closed", s("closed"))
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let mut marker: Item = std::collections::HashMap::new();
        marker.insert("pk".into(), s(PURGES));
        marker.insert("sk".into(), s(id));
        let marker = Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker))
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let writes = vec![
            TransactWriteItem::builder().delete(ticket_gone).build(),
            TransactWriteItem::builder().put(marker).build(),
        ];
        match self.transact(writes, "purge ticket").await {
            Ok(()) => {}
            Err(CommitError::Conflict) | Err(CommitError::Duplicate) => return Ok(None),
            Err(CommitError::Store(e)) => return Err(e),
        }
        self.purge_contents(id).await.map(Some)
    }

    async fn finish_purges(&self) -> Result<usize, StoreError> {
        let markers = self.partition(PURGES.into(), "finish purges").await?;
        let mut finished = 0;
        for (_, id) in markers.iter().filter_map(key_of) {
            self.purge_contents(&id).await?;
            finished += 1;
        }
        Ok(finished)
    }

    async fn purge_cursor(&self) -> Result<Option<Cursor>, StoreError> {
        let item = self
            .get_consistent(PURGE_CURSOR.into(), PURGE_CURSOR)
            .await?;
        // A place that does not read is no place: the round starts from the newest.
        Ok(item
            .as_ref()
            .and_then(|item| item.get("cursor"))
            .and_then(|value| value.as_s().ok())
            .and_then(|raw| Cursor::decode(raw).ok()))
    }

    async fn set_purge_cursor(&self, cursor: Option<&Cursor>) -> Result<(), StoreError> {
        match cursor {
            Some(cursor) => {
                let mut item: Item = std::collections::HashMap::new();
                item.insert("pk".into(), s(PURGE_CURSOR));
                item.insert("sk".into(), s(PURGE_CURSOR));
                item.insert("cursor".into(), s(cursor.encode()));
                self.put_item(item, "keep the purge's place").await
            }
            None => {
                self.delete_all(vec![(PURGE_CURSOR.to_string(), PURGE_CURSOR.to_string())])
                    .await
            }
        }
    }
}
