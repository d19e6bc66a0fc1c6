//! ReminderStore: the due index of tickets' next reminders (gsi5), and a small marker item per
//! ticket naming the reminder the scheduler put on the queue. Every write of a ticket puts its
//! next reminder in the index again (the item is written whole), so the index alone cannot say
//! which ones are queued: the marker does, and a queued reminder is not returned again.

use super::keys::{DUE, LIST_SHARDS, QUEUED_SK, due_sort_key, queued_pk};
use super::{DynamoStore, Item, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{ReminderStore, StoreError};
use socialcare_domain::timers::Reminder;
use std::collections::{HashMap, HashSet};

/// How long a marker outlives its reminder's due time: the worker acts on it well within.
fn marker_lifetime() -> Duration {
    Duration::days(1)
}

/// What a marker says: the reminder itself, so that another reminder of the ticket (another
/// time or kind) is not taken for it.
fn marker_of(reminder: &Reminder) -> String {
    serde_json::to_string(reminder).unwrap_or_default()
}

impl DynamoStore {
    /// Which of these reminders are on the queue already (each named as its JSON: the ticket,
    /// the time and the kind).
    async fn queued_of(&self, reminders: &[Reminder]) -> Result<HashSet<String>, StoreError> {
        let mut queued = HashSet::new();
        let keys = reminders
            .iter()
            .map(|reminder| (queued_pk(&reminder.ticket_id), QUEUED_SK.to_string()));
        for item in self
            .batch_get(keys, Some(("reminder", &[])), "read queued reminders")
            .await?
        {
            if let Some(AttributeValue::S(key)) = item.get("reminder") {
                queued.insert(key.clone());
            }
        }
        Ok(queued)
    }

    /// Up to `limit` reminders of one shard due by `until` and not queued yet, page after page.
    async fn due_in_shard(
        &self,
        shard: u32,
        until: &str,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        let mut due = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi5")
                .key_condition_expression("gsi5pk = :pk AND gsi5sk <= :until")
                .expression_attribute_values(":pk", s(format!("{DUE}#{shard}")))
                .expression_attribute_values(":until", s(until))
                .limit(limit as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| failed("query due reminders", e))?;
            let mut page = Vec::new();
            for item in output.items.unwrap_or_default() {
                let Some(AttributeValue::S(json)) = item.get("reminder") else {
                    return Err(StoreError::invalid("a due ticket without its reminder"));
                };
                let reminder: Reminder = serde_json::from_str(json)
                    .map_err(|e| StoreError::invalid(format!("decoding reminder: {e}")))?;
                page.push(reminder);
            }
            let queued = self.queued_of(&page).await?;
            due.extend(
                page.into_iter()
                    .filter(|reminder| !queued.contains(&marker_of(reminder))),
            );
            start = output.last_evaluated_key;
            if due.len() >= limit as usize || start.is_none() {
                due.truncate(limit as usize);
                return Ok(due);
            }
        }
    }
}

impl ReminderStore for DynamoStore {
    async fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        // Every key of a reminder due at `until` sorts before this one.
        let until = format!("{}~", sortable_time(until));
        let shards = futures::future::join_all(
            (0..LIST_SHARDS).map(|shard| self.due_in_shard(shard, &until, limit)),
        )
        .await;
        let mut reminders = Vec::new();
        for shard in shards {
            reminders.extend(shard?);
        }
        reminders.sort_by_key(due_sort_key);
        reminders.truncate(limit as usize);
        Ok(reminders)
    }

    // One small item, not an update of the ticket (which is billed by the whole item and its
    // index entry, and undone by the ticket's next write).
    async fn mark_queued(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let expires = (reminder.due_at + marker_lifetime()).timestamp();
        let item: Item = HashMap::from([
            ("pk".to_string(), s(queued_pk(&reminder.ticket_id))),
            ("sk".to_string(), s(QUEUED_SK)),
            ("reminder".to_string(), s(marker_of(reminder))),
            (
                "expires_at".to_string(),
                AttributeValue::N(expires.to_string()),
            ),
        ]);
        self.put_item(item, "mark reminder queued").await
    }
}
