//! The report's counters, added from the table's change stream.
//!
//! A change's report samples ride on the item that records it (an ingested message, a reply,
//! an event: see `metrics::samples_attribute`), written in the change's transaction. Adding
//! them to the counters there billed every counter item twice and made a day's changes
//! conflict on them; here the stream's new items are read in batches and each counter item
//! gets one update per batch.
//!
//! Exactly once: each counter item keeps, per stream shard, the sequence number of the last
//! record added to it (`cp.<shard id>`), and an update adds only the records after it, on the
//! condition that it is still what was read. A catch-up that dies half way, or two that run at
//! once, add nothing twice; the shard's checkpoint item (`REPORT_FEED`, `<shard id>`) only
//! says where the next catch-up starts reading.
//!
//! The scheduler catches up every minute (the stream keeps 24 hours), and a report read
//! catches up first, so it counts every change written before it.

use super::keys::{METRICS_PREFIX, REPORT_FEED, metrics_pk};
use super::metrics::{Addition, REPORT_SAMPLES, additions_of};
use super::{DynamoStore, Item, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as StreamValue, OperationType, Record, ShardIteratorType,
};
use futures::StreamExt;
use socialcare_domain::ports::StoreError;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Pages of records read from one shard in one catch-up; what is left waits for the next.
const PAGES_PER_SHARD: usize = 100;
/// Counter items updated at once.
const CONCURRENT_UPDATES: usize = 8;

/// The prefix of a counter item's checkpoint attribute for one shard.
const CHECKPOINT_PREFIX: &str = "cp.";

/// Where a catch-up stands: when the last one that completed had started (a read that began
/// before it need not catch up again).
#[derive(Default)]
pub(super) struct FeedState {
    completed_start: Option<std::time::Instant>,
}

/// One counter item's additions from a page of records, each with its record's sequence
/// number, so that the ones it already has can be left out.
type Pending = Vec<(String, BTreeMap<String, i64>)>;

impl DynamoStore {
    /// Adds every change written before this call to the report's counters; returns how many
    /// stream records with samples it added.
    pub(super) async fn catch_up_report(&self) -> Result<usize, StoreError> {
        let asked = std::time::Instant::now();
        let mut state = self.feed.lock().await;
        // A catch-up that started after this call began has read what it must see.
        if state.completed_start.is_some_and(|start| start >= asked) {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        let added = self.catch_up_all().await?;
        state.completed_start = Some(started);
        Ok(added)
    }

    async fn stream_arn(&self) -> Result<String, StoreError> {
        let arn = self
            .stream_arn
            .get_or_try_init(|| async {
                let table = self
                    .client
                    .describe_table()
                    .table_name(&self.table)
                    .send()
                    .await
                    .map_err(|e| failed("describe table", e))?;
                table
                    .table
                    .and_then(|t| t.latest_stream_arn)
                    .ok_or_else(|| {
                        StoreError::invalid(format!(
                            "table {} has no stream: the report's counters come from it \
                             (StreamSpecification NEW_IMAGE in template.yaml)",
                            self.table
                        ))
                    })
            })
            .await?;
        Ok(arn.clone())
    }

    async fn catch_up_all(&self) -> Result<usize, StoreError> {
        let arn = self.stream_arn().await?;
        let shards = self.shards(&arn).await?;
        let checkpoints = self.feed_checkpoints().await?;
        let live: HashSet<&str> = shards.iter().map(String::as_str).collect();
        let mut added = 0;
        for shard in &shards {
            let checkpoint = checkpoints.get(shard.as_str());
            if checkpoint.is_some_and(|c| c.closed) {
                continue;
            }
            let after = checkpoint.map(|c| c.sequence.as_str());
            added += self.catch_up_shard(&arn, shard, after, &live).await?;
        }
        // A shard leaves the stream a day after it closed: its checkpoint goes with it.
        for gone in checkpoints
            .keys()
            .filter(|shard| !live.contains(shard.as_str()))
        {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(REPORT_FEED))
                .key("sk", s(gone.as_str()))
                .send()
                .await
                .map_err(|e| failed("delete feed checkpoint", e))?;
        }
        Ok(added)
    }

    async fn shards(&self, arn: &str) -> Result<Vec<String>, StoreError> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|e| failed("describe stream", e))?;
            let Some(description) = output.stream_description else {
                return Ok(shards);
            };
            shards.extend(
                description
                    .shards
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|shard| shard.shard_id),
            );
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    async fn feed_checkpoints(&self) -> Result<HashMap<String, Checkpoint>, StoreError> {
        Ok(self
            .partition(REPORT_FEED.into(), "query feed checkpoints")
            .await?
            .into_iter()
            .filter_map(|item| {
                let shard = text(&item, "sk")?;
                let sequence = text(&item, "sequence")?;
                let closed = matches!(item.get("closed"), Some(AttributeValue::Bool(true)));
                Some((shard, Checkpoint { sequence, closed }))
            })
            .collect())
    }

    async fn catch_up_shard(
        &self,
        arn: &str,
        shard: &str,
        after: Option<&str>,
        live: &HashSet<&str>,
    ) -> Result<usize, StoreError> {
        let mut iterator = Some(self.shard_iterator(arn, shard, after).await?);
        let mut position = after.map(str::to_string);
        let (mut added, mut closed, mut foreign) = (0, false, false);
        for _ in 0..PAGES_PER_SHARD {
            let Some(current) = iterator.take() else {
                break;
            };
            let page = self
                .streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| failed("get stream records", e))?;
            let records = page.records.unwrap_or_default();
            added += self.add_records(shard, &records, live).await?;
            foreign |= records.iter().any(|record| !feeds_own(record));
            if let Some(last) = records
                .iter()
                .filter_map(|r| r.dynamodb.as_ref()?.sequence_number.clone())
                .next_back()
            {
                position = Some(last);
            }
            closed = page.next_shard_iterator.is_none();
            if records.is_empty() {
                break;
            }
            iterator = page.next_shard_iterator;
        }
        // The feed's own writes (its checkpoint, the counters) are records of the stream too:
        // a checkpoint written for them alone would be one more record for the next catch-up
        // to read and write a checkpoint for, every minute, forever. Past them alone it stays
        // put; the next catch-up reads them again (a page, no write).
        if foreign || closed {
            let sequence = position.as_deref().unwrap_or("0");
            self.put_feed_checkpoint(shard, sequence, closed).await?;
        }
        Ok(added)
    }

    async fn shard_iterator(
        &self,
        arn: &str,
        shard: &str,
        after: Option<&str>,
    ) -> Result<String, StoreError> {
        let request = |after: Option<&str>| {
            let request = self
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(shard);
            match after {
                Some(sequence) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(sequence),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            }
        };
        let output = match request(after).send().await {
            Ok(output) => output,
            // The checkpoint is older than the stream keeps (the scheduler stopped for a day):
            // what was trimmed is lost to the counters; read on from the oldest record kept.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                tracing::error!(
                    shard,
                    "report feed: records trimmed before they were counted"
                );
                request(None)
                    .send()
                    .await
                    .map_err(|e| failed("get shard iterator", e))?
            }
            Err(e) => return Err(failed("get shard iterator", e)),
        };
        output
            .shard_iterator
            .ok_or_else(|| StoreError::invalid("a shard iterator missing from the answer"))
    }

    async fn put_feed_checkpoint(
        &self,
        shard: &str,
        sequence: &str,
        closed: bool,
    ) -> Result<(), StoreError> {
        let item: Item = HashMap::from([
            ("pk".to_string(), s(REPORT_FEED)),
            ("sk".to_string(), s(shard)),
            ("sequence".to_string(), s(sequence)),
            ("closed".to_string(), AttributeValue::Bool(closed)),
        ]);
        self.put_item(item, "put feed checkpoint").await
    }

    /// Adds the samples of a page of one shard's records to their counter items.
    async fn add_records(
        &self,
        shard: &str,
        records: &[Record],
        live: &HashSet<&str>,
    ) -> Result<usize, StoreError> {
        let mut pending: BTreeMap<(String, String), Pending> = BTreeMap::new();
        let mut added = 0;
        for record in records {
            // Only a new item carries a change's samples (a rewrite of one never adds them).
            if record.event_name != Some(OperationType::Insert) {
                continue;
            }
            let Some(change) = record.dynamodb.as_ref() else {
                continue;
            };
            let (Some(sequence), Some(image)) = (&change.sequence_number, &change.new_image) else {
                continue;
            };
            // Only the samples are read: the rest of the image (a message's text) is not.
            let Some(samples) = image.get(REPORT_SAMPLES) else {
                continue;
            };
            let carried = Item::from([(REPORT_SAMPLES.to_string(), from_stream(samples))]);
            // A record that does not read (written by hand, or by a version that wrote them
            // otherwise) would stop the feed for good if it failed the catch-up: it is left
            // out, loudly, and the rest counted.
            let additions = match additions_of(&carried) {
                Ok(additions) => additions,
                Err(error) => {
                    tracing::error!(%error, shard, sequence = %sequence, "a change's report samples do not read; left out of the report's counters");
                    continue;
                }
            };
            if additions.is_empty() {
                continue;
            }
            added += 1;
            for Addition {
                account,
                group_by,
                sort_key,
                counters,
            } in additions
            {
                let key = (metrics_pk(&account, group_by, 0), sort_key);
                pending
                    .entry(key)
                    .or_default()
                    .push((sequence.clone(), counters));
            }
        }
        if pending.is_empty() {
            return Ok(added);
        }
        // The page's counter items in one read; an update refused because another catch-up
        // moved the item meanwhile reads that item again, consistently.
        let stored = self
            .batch_get(pending.keys().cloned(), None, "read counters")
            .await?;
        let mut stored: HashMap<(String, String), Item> = stored
            .into_iter()
            .filter_map(|item| Some(((text(&item, "pk")?, text(&item, "sk")?), item)))
            .collect();
        let updates = pending.into_iter().map(|(key, pending)| {
            let item = stored.remove(&key);
            self.add_to_counter(shard, key, item, pending, live)
        });
        let mut updates = futures::stream::iter(updates).buffer_unordered(CONCURRENT_UPDATES);
        while let Some(result) = updates.next().await {
            result?;
        }
        Ok(added)
    }

    /// Adds to one counter item (`stored` as read) the additions after its checkpoint for
    /// `shard`, on the condition that the checkpoint is still the one read.
    async fn add_to_counter(
        &self,
        shard: &str,
        (pk, sk): (String, String),
        mut stored: Option<Item>,
        pending: Pending,
        live: &HashSet<&str>,
    ) -> Result<(), StoreError> {
        let checkpoint_name = format!("{CHECKPOINT_PREFIX}{shard}");
        for _ in 0..8 {
            let checkpoint = stored
                .as_ref()
                .and_then(|item| text(item, &checkpoint_name));
            let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
            let mut last: Option<&str> = None;
            for (sequence, counters) in &pending {
                if checkpoint
                    .as_deref()
                    .is_some_and(|done| !sequence_after(sequence, done))
                {
                    continue;
                }
                for (name, value) in counters {
                    *sums.entry(name.as_str()).or_default() += value;
                }
                last = Some(sequence.as_str());
            }
            let Some(last) = last else {
                return Ok(());
            };
            // The checkpoints of shards the stream no longer has go: each is 60-odd bytes
            // billed on every later write of the item.
            let stale: Vec<String> = stored
                .iter()
                .flat_map(|item| item.keys())
                .filter(|name| {
                    name.strip_prefix(CHECKPOINT_PREFIX)
                        .is_some_and(|s| !live.contains(s))
                })
                .cloned()
                .collect();
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .expression_attribute_names("#cp", &checkpoint_name)
                .expression_attribute_values(":last", s(last));
            let mut adds = Vec::new();
            for (n, (name, value)) in sums.iter().enumerate() {
                adds.push(format!("#c{n} :c{n}"));
                update = update
                    .expression_attribute_names(format!("#c{n}"), *name)
                    .expression_attribute_values(
                        format!(":c{n}"),
                        AttributeValue::N(value.to_string()),
                    );
            }
            let mut expression = format!("SET #cp = :last ADD {}", adds.join(", "));
            if !stale.is_empty() {
                let removes: Vec<String> = (0..stale.len()).map(|n| format!("#r{n}")).collect();
                for (n, name) in stale.iter().enumerate() {
                    update = update.expression_attribute_names(format!("#r{n}"), name);
                }
                expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            update = update.update_expression(expression);
            update = match &checkpoint {
                Some(done) => update
                    .condition_expression("#cp = :done")
                    .expression_attribute_values(":done", s(done.as_str())),
                None => update.condition_expression("attribute_not_exists(#cp)"),
            };
            match update.send().await {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    stored = self.get_consistent(pk.clone(), &sk).await?;
                }
                Err(e) => return Err(failed("add to counters", e)),
            }
        }
        Err(StoreError::invalid(format!(
            "counter {pk} {sk}: its checkpoint kept moving"
        )))
    }
}

/// Whether a stream record is of an item the feed itself writes: a counter or a checkpoint.
fn feeds_own(record: &Record) -> bool {
    let pk = record
        .dynamodb
        .as_ref()
        .and_then(|change| change.keys.as_ref())
        .and_then(|keys| keys.get("pk"))
        .and_then(|pk| pk.as_s().ok());
    pk.is_some_and(|pk| pk == REPORT_FEED || pk.starts_with(METRICS_PREFIX))
}

struct Checkpoint {
    sequence: String,
    closed: bool,
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

/// Whether stream sequence number `a` comes after `b`: they are decimal numbers of up to 40
/// digits (more than a u128 holds), so the longer is the later, else the greater string.
fn sequence_after(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// A stream image's value as the table's own type.
pub(super) fn from_stream(value: &StreamValue) -> AttributeValue {
    match value {
        StreamValue::S(v) => AttributeValue::S(v.clone()),
        StreamValue::N(v) => AttributeValue::N(v.clone()),
        StreamValue::Bool(v) => AttributeValue::Bool(*v),
        StreamValue::Null(v) => AttributeValue::Null(*v),
        StreamValue::Ss(v) => AttributeValue::Ss(v.clone()),
        StreamValue::Ns(v) => AttributeValue::Ns(v.clone()),
        StreamValue::B(v) => AttributeValue::B(v.clone()),
        StreamValue::Bs(v) => AttributeValue::Bs(v.clone()),
        StreamValue::L(v) => AttributeValue::L(v.iter().map(from_stream).collect()),
        StreamValue::M(v) => AttributeValue::M(
            v.iter()
                .map(|(name, value)| (name.clone(), from_stream(value)))
                .collect(),
        ),
        // A type added to the API later: not one the samples use.
        _ => AttributeValue::Null(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers_of_any_length() {
        assert!(sequence_after("100", "99"));
        assert!(!sequence_after("99", "100"));
        assert!(sequence_after("200", "199"));
        assert!(!sequence_after("200", "200"));
        let forty = "9".repeat(40);
        assert!(sequence_after(&forty, &"9".repeat(39)));
    }
}
