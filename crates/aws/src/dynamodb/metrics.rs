//! MetricsStore: the report's counters, added to by ingest and ticket changes, read per day.
//!
//! The day grouping is not stored: every change adds the same counters to its day, its agent
//! and its channel, so a day's counters are the sum of its channels' (the rows' sort key starts
//! with the day), and a change writes two counter items, not three.

use super::keys::{LIST_SHARDS, REPORT_ACCOUNTS, metrics_pk, shard_of};
use super::{DynamoStore, s};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::NaiveDate;
use socialcare_domain::TicketId;
use socialcare_domain::ports::{MetricsStore, StoreError};
use socialcare_domain::report::{Counters, GroupBy, Sample};

/// The writes that add a change's samples to the report (the day grouping is read from the
/// channels').
pub(super) fn add_counters(
    table: &str,
    samples: &[Sample],
    ticket: &TicketId,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    samples
        .iter()
        .filter(|sample| sample.group_by != GroupBy::Day)
        .map(|sample| add_sample(table, sample, ticket))
        .collect()
}

fn add_sample(
    table: &str,
    sample: &Sample,
    ticket: &TicketId,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .key(
            "pk",
            s(metrics_pk(
                &sample.account,
                sample.group_by,
                shard_of(ticket),
            )),
        )
        .key("sk", s(format!("{}#{}", sample.day, sample.group)));
    let mut adds = Vec::new();
    for (n, (name, value)) in sample.counters.iter().enumerate() {
        adds.push(format!("#c{n} :c{n}"));
        update = update
            .expression_attribute_names(format!("#c{n}"), name)
            .expression_attribute_values(format!(":c{n}"), AttributeValue::N(value.to_string()));
    }
    let update = update
        .update_expression(format!("ADD {}", adds.join(", ")))
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl DynamoStore {
    /// Records the accounts of `samples` as accounts the report has counters of: one small
    /// item each, put before the counters (so the report over all accounts never misses one),
    /// once per account in this process (the put is idempotent; the cache only saves writes).
    pub(super) async fn note_report_accounts(&self, samples: &[Sample]) -> Result<(), StoreError> {
        for sample in samples {
            let known = self
                .report_accounts_noted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&sample.account);
            if known {
                continue;
            }
            let mut item = std::collections::HashMap::new();
            item.insert("pk".to_string(), s(REPORT_ACCOUNTS));
            item.insert("sk".to_string(), s(sample.account.as_str()));
            self.put_item(item, "note report account").await?;
            self.report_accounts_noted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(sample.account.clone());
        }
        Ok(())
    }
}

impl MetricsStore for DynamoStore {
    async fn report_accounts(&self) -> Result<Vec<String>, StoreError> {
        let mut accounts: Vec<String> = self
            .partition(REPORT_ACCOUNTS.into(), "query report accounts")
            .await?
            .into_iter()
            .filter_map(|item| match item.get("sk") {
                Some(AttributeValue::S(account)) => Some(account.clone()),
                _ => None,
            })
            .collect();
        accounts.sort();
        Ok(accounts)
    }

    async fn metric_rows(
        &self,
        account: &str,
        group_by: GroupBy,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, Counters)>, StoreError> {
        let (first, last) = (format!("{from}#"), format!("{to}#\u{10ffff}"));
        // A day's counters are its channels' rows, grouped by their day.
        let stored = match group_by {
            GroupBy::Day => GroupBy::Channel,
            other => other,
        };
        let mut rows = Vec::new();
        for shard in 0..LIST_SHARDS {
            let pk = metrics_pk(account, stored, shard);
            let range = Some((first.as_str(), last.as_str()));
            for item in self.partition_between(pk, range, "query metrics").await? {
                let group = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => {
                        sk.split_once('#').map(|(day, group)| match group_by {
                            GroupBy::Day => day.to_string(),
                            _ => group.to_string(),
                        })
                    }
                    _ => None,
                }
                .ok_or_else(|| StoreError::invalid("a metrics item without its group"))?;
                let counters = item
                    .iter()
                    .filter_map(|(name, value)| match value {
                        AttributeValue::N(n) => Some((name.clone(), n.parse().ok()?)),
                        _ => None,
                    })
                    .collect();
                rows.push((group, counters));
            }
        }
        Ok(rows)
    }
}
