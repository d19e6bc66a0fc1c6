//! ReminderStore: the due index of tickets' next reminders (gsi5).

use super::keys::{DUE, LIST_SHARDS, TICKET_SK, due_sort_key, ticket_pk};
use super::{DynamoStore, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{ReminderStore, StoreError};
use socialcare_domain::timers::Reminder;

impl ReminderStore for DynamoStore {
    async fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        // Every key of a reminder due at `until` sorts before this one.
        let until = format!("{}~", sortable_time(until));
        let shards = futures::future::join_all((0..LIST_SHARDS).map(|shard| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name("gsi5")
                .key_condition_expression("gsi5pk = :pk AND gsi5sk <= :until")
                .expression_attribute_values(":pk", s(format!("{DUE}#{shard}")))
                .expression_attribute_values(":until", s(until.clone()))
                .limit(limit as i32)
                .send()
        }))
        .await;
        let mut reminders = Vec::new();
        for shard in shards {
            let output = shard.map_err(|e| failed("query due reminders", e))?;
            for item in output.items.unwrap_or_default() {
                let Some(AttributeValue::S(json)) = item.get("reminder") else {
                    return Err(StoreError::invalid("a due ticket without its reminder"));
                };
                let reminder: Reminder = serde_json::from_str(json)
                    .map_err(|e| StoreError::invalid(format!("decoding reminder: {e}")))?;
                reminders.push(reminder);
            }
        }
        reminders.sort_by_key(due_sort_key);
        reminders.truncate(limit as usize);
        Ok(reminders)
    }

    async fn mark_queued(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(ticket_pk(reminder.ticket_id.as_str())))
            .key("sk", s(TICKET_SK))
            .update_expression("REMOVE gsi5pk, gsi5sk")
            .condition_expression("gsi5sk = :sk")
            .expression_attribute_values(":sk", s(due_sort_key(reminder)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The ticket has another reminder now (or none): that one stays due.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(failed("mark reminder queued", e)),
        }
    }
}
