//! SpikeCounters: the topic counts of each account's windows, one item per window whose
//! attributes are the terms.

use super::keys::{COUNTS_SK, topics_pk};
use super::{DynamoStore, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use socialcare_domain::incidents::TopicCounts;
use socialcare_domain::ports::{SpikeCounters, StoreError};
use std::collections::HashMap;

impl SpikeCounters for DynamoStore {
    async fn count_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[String],
        capacity: u32,
    ) -> Result<TopicCounts, StoreError> {
        if terms.is_empty() {
            return Ok(TopicCounts {
                counts: Vec::new(),
                full: false,
            });
        }
        // One item per account and window, one number per term: a single UpdateItem adds one
        // to every term of the message (and to the window's message count, while it is under
        // its capacity, which bounds the item's size) and returns the counts after.
        let names: Vec<(String, String)> = terms
            .iter()
            .enumerate()
            .map(|(i, term)| (format!("#t{i}"), term_attribute(term)))
            .collect();
        let adds: Vec<String> = names
            .iter()
            .map(|(name, _)| format!("{name} :one"))
            .collect();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(topics_pk(account, window_start)))
            .key("sk", s(COUNTS_SK))
            .set_expression_attribute_names(Some(names.iter().cloned().collect()))
            .expression_attribute_names("#m", WINDOW_MESSAGES)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":capacity", AttributeValue::N(capacity.to_string()))
            .condition_expression("attribute_not_exists(#m) OR #m < :capacity")
            .update_expression(format!("ADD #m :one, {}", adds.join(", ")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        let after = match update.send().await {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let counts = self
                    .count_known_topics(account, window_start, &names)
                    .await?;
                return Ok(TopicCounts {
                    counts: terms.iter().cloned().zip(counts).collect(),
                    full: true,
                });
            }
            Err(e) => return Err(failed("count topics", e)),
        };
        Ok(TopicCounts {
            counts: terms
                .iter()
                .map(|term| (term.clone(), number(after.get(&term_attribute(term)))))
                .collect(),
            full: false,
        })
    }

    async fn topic_history(
        &self,
        account: &str,
        term: &str,
        windows: &[DateTime<Utc>],
    ) -> Result<Vec<u64>, StoreError> {
        // Each window is its own item (so a burst's hot counter stays off the others); the
        // baseline reads the one attribute of each.
        let mut counts = Vec::new();
        let keys = windows
            .iter()
            .map(|window| (topics_pk(account, *window), COUNTS_SK.to_string()));
        let attribute = term_attribute(term);
        let projection = ("#t", &[("#t", attribute.as_str())][..]);
        for item in self
            .batch_get(keys, Some(projection), "read topic history")
            .await?
        {
            if let Some(AttributeValue::N(n)) = item.get(&attribute) {
                counts.push(n.parse().unwrap_or(0));
            }
        }
        Ok(counts)
    }
}

impl DynamoStore {
    /// A full window's counts: adds one to the terms it already has (no attribute is added, so
    /// the item does not grow) and 0 for the others. Terms are never removed from a window, so
    /// the ones read are still there when the update runs.
    async fn count_known_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        names: &[(String, String)],
    ) -> Result<Vec<u64>, StoreError> {
        let key = || {
            HashMap::from([
                ("pk".to_string(), s(topics_pk(account, window_start))),
                ("sk".to_string(), s(COUNTS_SK)),
            ])
        };
        let projection: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        let known = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            // Terms added a moment ago by another worker must be seen.
            .consistent_read(true)
            .set_expression_attribute_names(Some(names.iter().cloned().collect()))
            .projection_expression(projection.join(", "))
            .send()
            .await
            .map_err(|e| failed("read full topic window", e))?
            .item
            .unwrap_or_default();
        let present: Vec<&(String, String)> = names
            .iter()
            .filter(|(_, attribute)| known.contains_key(attribute))
            .collect();
        if present.is_empty() {
            return Ok(vec![0; names.len()]);
        }
        let adds: Vec<String> = present
            .iter()
            .map(|(name, _)| format!("{name} :one"))
            .collect();
        let after = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .set_expression_attribute_names(Some(present.iter().map(|n| (*n).clone()).collect()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .update_expression(format!("ADD {}", adds.join(", ")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| failed("count topics in a full window", e))?
            .attributes
            .unwrap_or_default();
        Ok(names
            .iter()
            .map(|(_, attribute)| number(after.get(attribute)))
            .collect())
    }
}

/// Terms are attribute names on the counts item, apart from its keys.
/// The attribute of a window's topic record that counts its messages.
const WINDOW_MESSAGES: &str = "messages";

/// A number attribute's value; 0 when absent or not a number.
fn number(value: Option<&AttributeValue>) -> u64 {
    match value {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn term_attribute(term: &str) -> String {
    format!("t_{term}")
}
