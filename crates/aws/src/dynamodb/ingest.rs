//! IngestStore: one transaction per ingested message, made idempotent by its dedupe record.

use super::items::{
    ARRIVAL_EVENT, dedupe_record, event_item, from_item, message_item, new_message,
    records_arrival, ticket_item, to_item,
};
use super::keys::{
    AWAIT_SK, CUSTOMER_SK, IDENTITY_SK, MSGKEY_SK, TICKET_SK, customer_pk, identity_pk, message_sk,
    msgkey_pk, ticket_pk,
};
use super::metrics::samples_attribute;
use super::{DynamoStore, Item, failed, put_new, put_versioned, s};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use socialcare_domain::ports::{
    CommitError, IngestChange, IngestStore, LookedUp, Lookup, MessageRef, StoreError,
};
use socialcare_domain::{Customer, Message, MessageId, Ticket, TicketId};
use std::collections::HashMap;

impl DynamoStore {
    /// Reads why a transaction was cancelled: the dedupe key taken (the first write) means a
    /// duplicate; any other failed condition or a conflicting transaction means retry.
    async fn cancellation(
        &self,
        error: SdkError<TransactWriteItemsError>,
        dedupe_key: &str,
    ) -> CommitError {
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                cancelled.cancellation_reasons().to_vec()
            }
            _ => return CommitError::Store(failed("transact write", error)),
        };
        let first_failed = reasons
            .first()
            .and_then(|reason| reason.code())
            .is_some_and(|code| code == "ConditionalCheckFailed");
        if first_failed {
            return CommitError::Duplicate;
        }
        if !reasons.is_empty() {
            return CommitError::Conflict;
        }
        // No reasons given: look at the dedupe key to tell the two apart.
        match self.find_message(dedupe_key).await {
            Ok(Some(_)) => CommitError::Duplicate,
            Ok(None) => CommitError::Conflict,
            Err(e) => CommitError::Store(e),
        }
    }
}

/// The stored message a dedupe record files.
fn message_ref(item: &Item, dedupe_key: &str) -> Result<MessageRef, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let message_id = text("message_id").and_then(MessageId::parse);
    let ticket_id = text("ticket_id").and_then(TicketId::parse);
    match (message_id, ticket_id) {
        (Some(message_id), Some(ticket_id)) => Ok(MessageRef {
            message_id,
            ticket_id,
        }),
        _ => Err(StoreError::invalid(format!(
            "malformed dedupe record for {dedupe_key:?}"
        ))),
    }
}

/// The ticket an awaited-parent record names.
fn awaited_ticket(item: &Item, dedupe_key: &str) -> Result<TicketId, StoreError> {
    match item.get("ticket_id") {
        Some(AttributeValue::S(id)) => {
            TicketId::parse(id).ok_or_else(|| StoreError::invalid(format!("bad ticket id {id:?}")))
        }
        _ => Err(StoreError::invalid(format!(
            "malformed awaited record for {dedupe_key:?}"
        ))),
    }
}

/// The customer id an identity record names.
fn identity_customer(item: &Item, identity_key: &str) -> Result<String, StoreError> {
    match item.get("customer_id") {
        Some(AttributeValue::S(id)) => Ok(id.clone()),
        _ => Err(StoreError::invalid(format!(
            "malformed identity record for {identity_key:?}"
        ))),
    }
}

/// The partition of the record of a ticket awaiting the message of `dedupe_key` as parent.
fn awaited_pk(dedupe_key: &str) -> String {
    format!("AWAIT#{dedupe_key}")
}

impl IngestStore for DynamoStore {
    async fn find_message(&self, dedupe_key: &str) -> Result<Option<MessageRef>, StoreError> {
        let item = self.get(msgkey_pk(dedupe_key), MSGKEY_SK).await?;
        item.map(|item| message_ref(&item, dedupe_key)).transpose()
    }

    async fn find_awaiting(&self, dedupe_key: &str) -> Result<Option<TicketId>, StoreError> {
        let item = self.get(awaited_pk(dedupe_key), AWAIT_SK).await?;
        item.map(|item| awaited_ticket(&item, dedupe_key))
            .transpose()
    }

    async fn find_customer(&self, identity_key: &str) -> Result<Option<Customer>, StoreError> {
        let Some(item) = self.get(identity_pk(identity_key), IDENTITY_SK).await? else {
            return Ok(None);
        };
        self.get_customer(&identity_customer(&item, identity_key)?)
            .await
    }

    /// The records in one BatchGetItem, then the customer by id: two requests where the
    /// lookups one by one were four or five.
    async fn look_up(&self, keys: &Lookup<'_>) -> Result<LookedUp, StoreError> {
        let mut wanted = vec![
            (msgkey_pk(keys.dedupe_key), MSGKEY_SK.to_string()),
            (awaited_pk(keys.dedupe_key), AWAIT_SK.to_string()),
            (identity_pk(keys.identity_key), IDENTITY_SK.to_string()),
        ];
        // A request may not name a key twice: a message given as its own parent (a hostile
        // payload can) reads its record once.
        if let Some(parent_key) = keys.parent_key.filter(|parent| *parent != keys.dedupe_key) {
            wanted.push((msgkey_pk(parent_key), MSGKEY_SK.to_string()));
        }
        let items = self.batch_get(wanted, None, "look up").await?;
        let of = |pk: String| {
            items.iter().find(
                |item| matches!(item.get("pk"), Some(AttributeValue::S(found)) if *found == pk),
            )
        };
        let stored = of(msgkey_pk(keys.dedupe_key))
            .map(|item| message_ref(item, keys.dedupe_key))
            .transpose()?;
        let parent = match keys.parent_key {
            Some(parent_key) => of(msgkey_pk(parent_key))
                .map(|item| message_ref(item, parent_key))
                .transpose()?,
            None => None,
        };
        let awaiting = of(awaited_pk(keys.dedupe_key))
            .map(|item| awaited_ticket(item, keys.dedupe_key))
            .transpose()?;
        let customer = match of(identity_pk(keys.identity_key)) {
            // A duplicate is told without its customer.
            Some(identity) if stored.is_none() => {
                self.get_customer(&identity_customer(identity, keys.identity_key)?)
                    .await?
            }
            _ => None,
        };
        Ok(LookedUp {
            stored,
            parent,
            awaiting,
            customer,
        })
    }

    async fn get_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, StoreError> {
        self.get(ticket_pk(id.as_str()), TICKET_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn get_message(&self, dedupe_key: &str) -> Result<Option<Message>, StoreError> {
        let Some(record) = self.get(msgkey_pk(dedupe_key), MSGKEY_SK).await? else {
            return Ok(None);
        };
        let (Some(AttributeValue::S(ticket_id)), Some(AttributeValue::S(sk))) =
            (record.get("ticket_id"), record.get("message_sk"))
        else {
            return Err(StoreError::invalid(format!(
                "malformed dedupe record for {dedupe_key:?}"
            )));
        };
        self.get(ticket_pk(ticket_id), sk)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn replace_message(
        &self,
        message: &Message,
        version_before: u64,
    ) -> Result<(), CommitError> {
        // The item is replaced whole: the arrival event it carries goes over to the new one
        // (an edit or a removal is rare; the read is what keeps the trail whole).
        let mut item = message_item(message)?;
        let stored = self
            .get_item(
                ticket_pk(message.ticket_id.as_str()),
                &message_sk(message),
                true,
            )
            .await?;
        if let Some(arrival) = stored.and_then(|mut stored| stored.remove(ARRIVAL_EVENT)) {
            item.insert(ARRIVAL_EVENT.into(), arrival);
        }
        self.put_at_version(item, version_before, "replace message")
            .await
    }

    async fn record_delivery(
        &self,
        message: &Message,
        version_before: u64,
        platform_key: Option<&str>,
    ) -> Result<(), CommitError> {
        // A reply: it never carries an arrival event (only ingested messages do).
        let Some(platform_key) = platform_key else {
            return self
                .put_at_version(message_item(message)?, version_before, "record delivery")
                .await;
        };
        let writes = vec![
            put_versioned(&self.table, message_item(message)?, version_before)?,
            dedupe_record(&self.table, platform_key, message)?,
        ];
        self.transact(writes, "record delivery").await
    }

    async fn commit(&self, change: &IngestChange) -> Result<(), CommitError> {
        let table = self.table.as_str();
        let message = &change.message;
        let dedupe_key = message.body.dedupe_key();
        self.note_report_accounts(&change.samples).await?;

        // The dedupe record goes first: its failed condition is how a duplicate is recognised.
        // The event of the message's arrival rides on its item.
        let arrival = change
            .events
            .iter()
            .find(|event| records_arrival(event, message));
        // So do the report's samples of the change (the stream adds them to the counters).
        let samples = samples_attribute(&change.samples);
        let mut writes = new_message(table, message, &dedupe_key, arrival, samples)?;
        for reply in &change.replies {
            writes.extend(new_message(
                table,
                reply,
                &reply.body.dedupe_key(),
                None,
                None,
            )?);
        }

        let ticket = ticket_item(&change.ticket)?;
        writes.push(match change.ticket_version_before {
            None => put_new(table, ticket)?,
            Some(before) => put_versioned(table, ticket, before)?,
        });

        if change.customer_written {
            let customer = to_item(
                &change.customer,
                [
                    ("pk", customer_pk(change.customer.id.as_str())),
                    ("sk", CUSTOMER_SK.into()),
                ],
            )?;
            writes.push(match change.customer_version_before {
                None => put_new(table, customer)?,
                Some(before) => put_versioned(table, customer, before)?,
            });
        }

        for identity in &change.new_identities {
            let mut item: Item = HashMap::new();
            item.insert("pk".into(), s(identity_pk(&identity.key())));
            item.insert("sk".into(), s(IDENTITY_SK));
            item.insert("customer_id".into(), s(change.customer.id.as_str()));
            writes.push(put_new(table, item)?);
        }

        let others = change
            .events
            .iter()
            .filter(|event| arrival.is_none_or(|arrival| arrival.id != event.id));
        for event in others {
            writes.push(put_new(table, event_item(event)?)?);
        }
        if let Some(parent) = &change.awaited_parent {
            // Only useful while the parent may still come: the table's TTL removes it.
            let expires = chrono::Utc::now() + chrono::Duration::days(7);
            let mut awaited: Item = HashMap::new();
            awaited.insert("pk".into(), s(awaited_pk(parent)));
            awaited.insert("sk".into(), s(AWAIT_SK));
            awaited.insert("ticket_id".into(), s(change.ticket.id.as_str()));
            awaited.insert(
                "expires_at".into(),
                AttributeValue::N(expires.timestamp().to_string()),
            );
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(awaited))
                .build()
                .map_err(|e| StoreError::invalid(e.to_string()))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }

        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.cancellation(e, &dedupe_key).await),
        }
    }
}
