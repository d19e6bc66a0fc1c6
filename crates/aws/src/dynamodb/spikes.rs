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
        terms: &[(String, u64)],
        messages: u64,
        capacity: u32,
    ) -> Result<TopicCounts, StoreError> {
        if terms.is_empty() {
            return Ok(TopicCounts {
                counts: Vec::new(),
                full: false,
            });
        }
        // One item per account and window, one number per term: a single UpdateItem adds to
        // every term of the batch's messages (and to the window's message count, while it is
        // under its capacity, which bounds the item's size) and returns the counts after.
        let names: Vec<(String, String)> = terms
            .iter()
            .enumerate()
            .map(|(i, (term, _))| (format!("#t{i}"), term_attribute(term)))
            .collect();
        let adds: Vec<String> = (0..terms.len()).map(|i| format!("#t{i} :n{i}")).collect();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(topics_pk(account, window_start)))
            .key("sk", s(COUNTS_SK))
            .set_expression_attribute_names(Some(names.iter().cloned().collect()))
            .set_expression_attribute_values(Some(named_values(terms)))
            .expression_attribute_names("#m", WINDOW_MESSAGES)
            .expression_attribute_values(":messages", AttributeValue::N(messages.to_string()))
            .expression_attribute_values(":capacity", AttributeValue::N(capacity.to_string()))
            .condition_expression("attribute_not_exists(#m) OR #m < :capacity")
            .update_expression(format!("ADD #m :messages, {}", adds.join(", ")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        let after = match update.send().await {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let counts = self
                    .count_known_topics(account, window_start, terms, &names)
                    .await?;
                return Ok(TopicCounts {
                    counts: terms
                        .iter()
                        .map(|(term, _)| term.clone())
                        .zip(counts)
                        .collect(),
                    full: true,
                });
            }
            Err(e) => return Err(failed("count topics", e)),
        };
        Ok(TopicCounts {
            counts: terms
                .iter()
                .map(|(term, _)| (term.clone(), number(after.get(&term_attribute(term)))))
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
    /// A full window's counts: adds to the terms it already has (no attribute is added, so
    /// the item does not grow) and 0 for the others. Terms are never removed from a window, so
    /// the ones read are still there when the update runs.
    async fn count_known_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[(String, u64)],
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
        let present: Vec<usize> = (0..names.len())
            .filter(|&i| known.contains_key(&names[i].1))
            .collect();
        if present.is_empty() {
            return Ok(vec![0; names.len()]);
        }
        let adds: Vec<String> = present
            .iter()
            .map(|i| format!("{} :n{i}", names[*i].0))
            .collect();
        let values = named_values(terms)
            .into_iter()
            .filter(|(name, _)| present.iter().any(|i| *name == format!(":n{i}")))
            .collect();
        let after = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .set_expression_attribute_names(Some(
                present.iter().map(|i| names[*i].clone()).collect(),
            ))
            .set_expression_attribute_values(Some(values))
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

/// The expression values `:n<i>`: how many messages named the `i`th term.
fn named_values(terms: &[(String, u64)]) -> HashMap<String, AttributeValue> {
    terms
        .iter()
        .enumerate()
        .map(|(i, (_, named))| (format!(":n{i}"), AttributeValue::N(named.to_string())))
        .collect()
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
