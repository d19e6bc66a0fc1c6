//! MetricsStore: the report's counters, added to from the samples that ingest and ticket
//! changes store with them (through the table's stream, `report_feed`), read per day.
//!
//! The day grouping is not stored: every change adds the same counters to its day, its agent
//! and its channel, so a day's counters are the sum of its channels' (the rows' sort key starts
//! with the day), and a change adds to two counter items, not three.
//!
//! The counters were spread over eight shards by ticket while each change added to them in its
//! own transaction (a burst made every transaction of the day wait on one item); the feed adds
//! a page of changes in one update per item, so new counts go to shard 0, and the others,
//! which hold counts from before, are still read.

use super::keys::{LIST_SHARDS, REPORT_ACCOUNTS, metrics_pk};
use super::{DynamoStore, Item, s};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use socialcare_domain::ports::{MetricsStore, StoreError};
use socialcare_domain::report::{Counters, GroupBy, Sample};
use std::collections::HashMap;

/// The attribute of the item recording a change (an ingested message, a reply, an event)
/// that holds the change's report samples, for the stream to add to the counters
/// (`report_feed`). The samples of one change share their counters across groupings, so
/// they are stored once per account, day and counters with the groups they go to (bytes here
/// are billed on the item's write).
pub(super) const REPORT_SAMPLES: &str = "report";

/// The value of [`REPORT_SAMPLES`] for the `samples` of a change; none when nothing
/// is added (the day grouping is not stored: it is read as the sum of the channels').
pub(super) fn samples_attribute(samples: &[Sample]) -> Option<AttributeValue> {
    let mut entries: Vec<(&Sample, Vec<AttributeValue>)> = Vec::new();
    for sample in samples.iter().filter(|s| s.group_by != GroupBy::Day) {
        let group = s(format!("{}#{}", sample.group_by.as_str(), sample.group));
        let same = entries.iter_mut().find(|(first, _)| {
            first.account == sample.account
                && first.day == sample.day
                && first.counters == sample.counters
        });
        match same {
            Some((_, groups)) => groups.push(group),
            None => entries.push((sample, vec![group])),
        }
    }
    if entries.is_empty() {
        return None;
    }
    Some(AttributeValue::L(
        entries
            .into_iter()
            .map(|(sample, groups)| {
                let counters = sample
                    .counters
                    .iter()
                    .map(|(name, value)| (name.clone(), AttributeValue::N(value.to_string())))
                    .collect();
                AttributeValue::M(HashMap::from([
                    ("account".to_string(), s(sample.account.as_str())),
                    ("day".to_string(), s(sample.day.to_string())),
                    ("groups".to_string(), AttributeValue::L(groups)),
                    ("counters".to_string(), AttributeValue::M(counters)),
                ]))
            })
            .collect(),
    ))
}

/// What one change adds to one counter item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Addition {
    pub account: String,
    pub group_by: GroupBy,
    /// The counter item's sort key: `<day>#<group>`.
    pub sort_key: String,
    pub counters: Counters,
}

/// The additions an item's [`REPORT_SAMPLES`] holds; none when it has none.
pub(super) fn additions_of(item: &Item) -> Result<Vec<Addition>, StoreError> {
    let Some(report) = item.get(REPORT_SAMPLES) else {
        return Ok(Vec::new());
    };
    let malformed = || StoreError::invalid("a malformed report attribute");
    let AttributeValue::L(entries) = report else {
        return Err(malformed());
    };
    let mut additions = Vec::new();
    for entry in entries {
        let AttributeValue::M(entry) = entry else {
            return Err(malformed());
        };
        let (
            Some(AttributeValue::S(account)),
            Some(AttributeValue::S(day)),
            Some(AttributeValue::L(groups)),
            Some(AttributeValue::M(counters)),
        ) = (
            entry.get("account"),
            entry.get("day"),
            entry.get("groups"),
            entry.get("counters"),
        )
        else {
            return Err(malformed());
        };
        let counters = counters
            .iter()
            .map(|(name, value)| match value {
                AttributeValue::N(n) => n.parse().map(|n| (name.clone(), n)).ok(),
                _ => None,
            })
            .collect::<Option<Counters>>()
            .ok_or_else(malformed)?;
        for group in groups {
            let AttributeValue::S(group) = group else {
                return Err(malformed());
            };
            let (group_by, group) = group.split_once('#').ok_or_else(malformed)?;
            let group_by = match group_by {
                "agent" => GroupBy::Agent,
                "channel" => GroupBy::Channel,
                _ => return Err(malformed()),
            };
            additions.push(Addition {
                account: account.clone(),
                group_by,
                sort_key: format!("{day}#{group}"),
                counters: counters.clone(),
            });
        }
    }
    Ok(additions)
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
    async fn catch_up(&self) -> Result<usize, StoreError> {
        self.catch_up_report().await
    }

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
        // The report counts every change written before it is read.
        self.catch_up_report().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(group_by: GroupBy, group: &str, counters: &[(&str, i64)]) -> Sample {
        Sample {
            account: "acme".into(),
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            group_by,
            group: group.into(),
            counters: counters.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn a_changes_samples_are_stored_once_per_counters_and_read_back_per_group() {
        let responded = [("responded", 1), ("response_seconds", 90)];
        let samples = [
            sample(GroupBy::Day, "2026-12-01", &responded),
            sample(GroupBy::Agent, "ann#1", &responded),
            sample(GroupBy::Channel, "x", &responded),
            sample(GroupBy::Agent, "bo", &[("resolved", 1)]),
        ];
        let attribute = samples_attribute(&samples).unwrap();
        // The agent's and the channel's samples share their counters: one entry.
        assert_eq!(attribute.as_l().unwrap().len(), 2);
        let item = HashMap::from([(REPORT_SAMPLES.to_string(), attribute)]);
        let additions = additions_of(&item).unwrap();
        let read: Vec<(GroupBy, &str, &Counters)> = additions
            .iter()
            .map(|a| (a.group_by, a.sort_key.as_str(), &a.counters))
            .collect();
        let counters = |c: &[(&str, i64)]| -> Counters {
            c.iter().map(|(n, v)| (n.to_string(), *v)).collect()
        };
        assert_eq!(
            read,
            [
                (GroupBy::Agent, "2026-12-01#ann#1", &counters(&responded)),
                (GroupBy::Channel, "2026-12-01#x", &counters(&responded)),
                (
                    GroupBy::Agent,
                    "2026-12-01#bo",
                    &counters(&[("resolved", 1)])
                ),
            ]
        );
        assert!(additions.iter().all(|a| a.account == "acme"));
        // Nothing to add (only the day, which is not stored): no attribute.
        assert_eq!(samples_attribute(&samples[..1]), None);
        assert_eq!(additions_of(&HashMap::new()).unwrap(), []);
        let broken = HashMap::from([(REPORT_SAMPLES.to_string(), s("x"))]);
        assert!(additions_of(&broken).is_err());
    }
}
