//! The ticket store on one DynamoDB table (see template.yaml for its keys and indexes).
//!
//! | item       | pk                    | sk                  | indexes                                  |
//! |------------|-----------------------|---------------------|------------------------------------------|
//! | ticket     | `TICKET#<id>`         | `#TICKET`           | gsi1: all, gsi2: by status, gsi3: by customer, gsi4: by owner, gsi5: next reminder due, gsi6: by incident |
//! | message    | `TICKET#<ticket id>`  | `MSG#<time>#<id>`   |                                          |
//! | dedupe key | `MSGKEY#<dedupe key>` | `#MSGKEY`           |                                          |
//! | customer   | `CUSTOMER#<id>`       | `#CUSTOMER`         |                                          |
//! | identity   | `IDENTITY#<key>`      | `#IDENTITY`         |                                          |
//! | event      | `EVENTS#<ticket id>`  | `<time>#<id>`       |                                          |
//! | API key    | `APIKEYS`             | `<key id>`          |                                          |
//! | template   | `TEMPLATES`           | `<template id>`     |                                          |
//! | SLA policies | `SETTINGS`          | `SLA_POLICIES`      | one document                             |
//! | account token | `ACCOUNT#<source>#<id>` | `#TOKEN`     | sealed (KMS), with who set it and when   |
//! | account health | `ACCOUNT#<source>#<id>` | `#HEALTH`   | attributes set one at a time (UpdateItem) |
//! | connect    | `CONNECT#<state>`     | `#CONNECT`          | a connection under way (TTL at its expiry) |
//! | configuration | `CONFIGURATION`    | `HEAD`, `V#<version>` | the newest version's number; each version (document and change) |
//! | report     | `METRICS#<account>#<grouping>#<shard>` | `<day>#<group>` | counters that only add |
//! | report accounts | `REPORT_ACCOUNTS` | `<account>`        | the accounts the report has counters of |
//! | report feed | `REPORT_FEED`       | `<stream shard id>` | where adding the stream's samples to the counters stands |
//! | samples    | `SAMPLES#<ticket id>` | `<version>`       | a change's report samples with nothing else to carry them (TTL 2 d) |
//! | topic counts | `TOPICS#<account>#<window start>` | `#COUNTS` | one number attribute per term (ADD) |
//! | incident   | `INCIDENTS`           | `<incident id>`     | newest first by id (time-ordered)        |
//! | active incident | `ACTIVE_INCIDENTS` | `<account>#<topic>` | one per account and topic          |
//! | team turns | `TEAM#<name>`         | `#TURNS`            | round-robin counter                      |
//! | session    | `SESSION#<token hash>` | `#SESSION`         | a console sign-in (TTL at its expiry)    |
//! | queued     | `QUEUED#<ticket id>`  | `#QUEUED`           | the ticket's reminder on the reminders queue (TTL a day after it is due) |
//! | awaited    | `AWAIT#<dedupe key>`  | `#AWAIT`            | a reply that came before its parent (TTL 7 d) |
//! | erasure    | `ERASURES`            | `<customer id>`     | the audit record of a customer's erasure |
//! | merge      | `MERGES`              | `<customer id>`     | where a customer merged away went, and who merged |
//! | webhook subscription | `WEBHOOKS`  | `<subscription id>` | its URL, event types and secret          |
//! | delivery   | `DELIVERIES#<subscription>` | `<event id>`  | one event's delivery, with its attempts  |
//! | purge      | `PURGES`              | `<ticket id>`       | a purge under way (ticket deleted, messages not yet) |
//! | search     | `SEARCH#<source>#<account>` | `<query digest>` | how far the query has read, what it heard |
//! | contact    | `CONTACT#<contact digest>` | `<customer id>` | a contact a customer gave (who else gave it) |
//! | customer's contact | `CONTACTS#<customer id>` | `<contact digest>` | the same note (what they gave) |
//!
//! A ticket and its messages share a partition, so one Query reads a whole conversation.
//! Every write of an ingested message is one transaction whose conditions make it idempotent.
//! The report's counters are added from the table's stream (`report_feed`), not in it.
//!
//! One file per port, with the same names as in the SQLite adapter (`socialcare-sqlite`'s
//! `store/`): `ingest` (IngestStore), `tickets` (TicketReads, TicketLists, TicketCommands), `customers`
//! (CustomerStore), `contacts` (ContactStore), `teams` (TeamTurns), `settings` (SettingsStore, ConfigurationStore, AccountStore, TemplateStore,
//! ApiKeyStore, IntegrationStore), `sessions` (SessionStore), `privacy` (PrivacyStore), `retention` (RetentionStore), `webhooks` (WebhookStore), `listening` (ListeningStore), `reminders` (ReminderStore), `metrics` (MetricsStore),
//! and IncidentStore in six: `spikes` (SpikeCounters), `incidents` (IncidentRecords, IncidentTickets, IncidentResolution),
//! `updates` (IncidentUpdateStore), `allowance` (PostAllowance). Beside them: `keys` (every key format of the table above) and
//! `items` (the mapping of the records several ports write: tickets, messages, events).

mod allowance;
mod consumed;
mod contacts;
mod customers;
mod domain_events;
mod incidents;
mod ingest;
mod items;
mod keys;
mod listening;
mod metrics;
mod privacy;
mod reminders;
mod report_feed;
mod retention;
mod sessions;
mod settings;
mod spikes;
mod teams;
mod tickets;
mod updates;
mod webhooks;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, TransactWriteItem, WriteRequest,
};
use socialcare_domain::ports::{CommitError, StoreError};
use std::collections::HashMap;

pub use consumed::{CapacityMeter, Consumed, measured_client};
pub use domain_events::StreamChange;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    /// The table's change stream, which carries the report's samples to its counters.
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: std::sync::Arc<tokio::sync::OnceCell<String>>,
    feed: std::sync::Arc<tokio::sync::Mutex<report_feed::FeedState>>,
    table: String,
    /// The report accounts this process has written (see `metrics::note_report_accounts`).
    report_accounts_noted: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn failed<E, R>(action: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let failure = crate::failure::failure_of(&e);
    StoreError::new(
        failure,
        format!("dynamodb {action}: {}", DisplayErrorContext(e)),
    )
}

/// A put that only succeeds when no item has this key yet.
fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put that only succeeds when the stored item still has version `before`.
fn put_versioned(table: &str, item: Item, before: u64) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("version = :before")
        .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    /// Puts `item` over the stored one while that is still at version `before`; `Conflict`
    /// when it moved.
    async fn put_at_version(&self, item: Item, before: u64, what: &str) -> Result<(), CommitError> {
        let before = (":before", AttributeValue::N(before.to_string()));
        self.put_if(
            item,
            "version = :before",
            Some(before),
            CommitError::Conflict,
            what,
        )
        .await
    }

    /// Puts an item unless one with its key exists (then `CommitError::Duplicate`).
    async fn put_new_item(&self, item: Item, what: &str) -> Result<(), CommitError> {
        self.put_if(
            item,
            "attribute_not_exists(pk)",
            None,
            CommitError::Duplicate,
            what,
        )
        .await
    }

    /// Puts `item` when `condition` holds; `refused` when it does not.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        value: Option<(&str, AttributeValue)>,
        refused: CommitError,
        what: &str,
    ) -> Result<(), CommitError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some((name, value)) = value {
            put = put.expression_attribute_values(name, value);
        }
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(refused)
            }
            Err(e) => Err(CommitError::Store(failed(what, e))),
        }
    }

    /// Puts an item, replacing any with its key.
    async fn put_item(&self, item: Item, what: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| failed(what, e))?;
        Ok(())
    }

    /// Puts and deletes, not together: 25 a `BatchWriteItem`, sending again what the table
    /// left unprocessed (throttled) until none is left.
    async fn write_all(&self, writes: Vec<WriteRequest>, what: &str) -> Result<(), StoreError> {
        // A BatchWriteItem holds at most 25 writes.
        for chunk in writes.chunks(25) {
            let mut writes = chunk.to_vec();
            for attempt in 0u32.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, writes)
                    .send()
                    .await
                    .map_err(|e| failed(what, e))?;
                writes = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if writes.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::throttled(format!(
                        "{what}: writes left unprocessed"
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    /// Writes all or nothing; a failed condition (a version moved, a key taken) is
    /// `CommitError::Conflict`, to be read again and retried.
    async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
        what: &str,
    ) -> Result<(), CommitError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => {
                    Err(CommitError::Conflict)
                }
                _ => Err(CommitError::Store(failed(what, e))),
            },
        }
    }

    /// Every item of a partition, in sort-key order, page after page.
    async fn partition(&self, pk: String, what: &str) -> Result<Vec<Item>, StoreError> {
        self.partition_between(pk, None, what).await
    }

    /// [`Self::partition`], read strongly consistent: what was written before is in it.
    async fn partition_consistent(&self, pk: String, what: &str) -> Result<Vec<Item>, StoreError> {
        self.read_partition(pk, None, true, what).await
    }

    /// The items of a partition whose sort keys lie between `sk` (both included), or all of
    /// them, in sort-key order, page after page.
    async fn partition_between(
        &self,
        pk: String,
        sk: Option<(&str, &str)>,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.read_partition(pk, sk, false, what).await
    }

    async fn read_partition(
        &self,
        pk: String,
        sk: Option<(&str, &str)>,
        consistent: bool,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(consistent)
                .set_exclusive_start_key(start);
            if let Some((first, last)) = sk {
                query = query
                    .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                    .expression_attribute_values(":first", s(first))
                    .expression_attribute_values(":last", s(last));
            }
            let output = query.send().await.map_err(|e| failed(what, e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// At most `limit` items of a partition with sort keys above `first` (excluded) and up to
    /// `last`, in order: one Query, or a few when DynamoDB's 1 MB page cuts it short.
    async fn range_page(
        &self,
        pk: String,
        first: &str,
        last: &str,
        limit: u32,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let wanted = limit as usize - items.len();
            // One more than wanted: the item at `first` itself is read when it exists.
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":first", s(first))
                .expression_attribute_values(":last", s(last))
                .limit(i32::try_from(wanted + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| failed(what, e))?;
            let after_first = output.items.unwrap_or_default().into_iter().filter(
                |item| !matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == first),
            );
            items.extend(after_first);
            start = output.last_evaluated_key;
            if items.len() >= limit as usize || start.is_none() {
                items.truncate(limit as usize);
                return Ok(items);
            }
        }
    }

    /// The store on `table`, with its clients for DynamoDB and the table's stream.
    pub fn new(
        client: Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            streams,
            stream_arn: Default::default(),
            feed: Default::default(),
            table: table.into(),
            report_accounts_noted: Default::default(),
        }
    }

    /// The store on `table`, its clients made from `config`.
    pub fn connect(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(
            Client::new(config),
            aws_sdk_dynamodbstreams::Client::new(config),
            table,
        )
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        self.get_item(pk, sk, false).await
    }

    /// The items under these keys (`pk`, `sk`) that exist, in no particular order: one
    /// `BatchGetItem` per hundred keys (eventually consistent), the keys DynamoDB leaves
    /// unprocessed asked again after a short pause. `projection`: the attributes to read (with
    /// the names it uses), else all.
    async fn batch_get(
        &self,
        keys: impl IntoIterator<Item = (String, String)>,
        projection: Option<(&str, &[(&str, &str)])>,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = keys
            .into_iter()
            .map(|(pk, sk)| HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))]))
            .collect();
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut request = KeysAndAttributes::builder().set_keys(Some(chunk.to_vec()));
            if let Some((expression, names)) = projection {
                request = request.projection_expression(expression);
                for (placeholder, name) in names {
                    request = request.expression_attribute_names(*placeholder, *name);
                }
            }
            let request = request
                .build()
                .map_err(|e| StoreError::invalid(e.to_string()))?;
            let mut pending = Some(HashMap::from([(self.table.clone(), request)]));
            let mut pause = std::time::Duration::from_millis(25);
            while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
                let output = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(|e| failed(what, e))?;
                found.extend(
                    output
                        .responses
                        .unwrap_or_default()
                        .remove(&self.table)
                        .unwrap_or_default(),
                );
                pending = output.unprocessed_keys;
                if pending.as_ref().is_some_and(|p| !p.is_empty()) {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
        Ok(found)
    }

    /// A strongly consistent read (twice the read units): for what must be seen the moment it
    /// is written or removed, such as a session just opened or a key just revoked.
    async fn get_consistent(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        self.get_item(pk, sk, true).await
    }

    async fn get_item(
        &self,
        pk: String,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| failed("get", e))?;
        Ok(output.item)
    }
}
