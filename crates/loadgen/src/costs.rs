//! The AWS requests a burst cost, per stored message, from the counts of `count-proxy`.
//!
//! The proxy sees every request the runner makes, not only ingest's: the background loops
//! (the scheduler's look at the due index every second, the consumers' polls of the queues)
//! and the store reads behind the verifier's own API calls. The counts are taken the moment
//! ingest is seen complete, before any ticket detail is read, so the verifier's share is its
//! ticket-list pages, which only query: their cost is measured after the burst (the queries
//! that an idle runner does not make) and subtracted. The background loops are not subtracted:
//! under load they slow down with the store, so their idle rate says little about their share;
//! the operations an idle runner makes too are shown with that rate, to be read with it.

use crate::counts::Counts;
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `GET /__counts` and `POST /__counts/reset` of a count-proxy.
pub struct CountsEndpoint {
    http: reqwest::Client,
    url: String,
}

impl CountsEndpoint {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the HTTP client")?,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    pub async fn reset(&self) -> anyhow::Result<()> {
        let url = format!("{}/reset", self.url);
        let answer = self
            .http
            .post(&url)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        anyhow::ensure!(
            answer.status().is_success(),
            "POST {url} answered {}",
            answer.status()
        );
        Ok(())
    }

    pub async fn read(&self) -> anyhow::Result<Counts> {
        let answer = self
            .http
            .get(&self.url)
            .send()
            .await
            .with_context(|| format!("GET {}", self.url))?;
        anyhow::ensure!(
            answer.status().is_success(),
            "GET {} answered {}",
            self.url,
            answer.status()
        );
        answer
            .json()
            .await
            .with_context(|| format!("reading the counts of {}", self.url))
    }
}

/// What was measured around the burst.
pub struct Measured {
    /// From the reset at the start of the burst until ingest was seen complete.
    pub burst: Counts,
    pub burst_window: Duration,
    /// With the runner idle, before the burst.
    pub idle: Counts,
    pub idle_window: Duration,
    /// One ticket-list page of the API, and how many the verifier read during `burst`.
    pub list_page: Counts,
    pub list_pages: u64,
}

/// Requests per stored message, by operation.
#[derive(Debug, Clone, Serialize)]
pub struct RequestCosts {
    pub messages: u64,
    pub window_seconds: f64,
    /// Net of the verifier's reads.
    pub per_message: BTreeMap<String, f64>,
    pub dynamodb_per_message: f64,
    pub sqs_per_message: f64,
    /// The table's and the indexes' write request units.
    pub write_units_per_message: f64,
    pub table_write_units_per_message: f64,
    pub index_write_units_per_message: BTreeMap<String, f64>,
    /// The table's write units by kind of item.
    pub table_write_units_per_message_by_item: BTreeMap<String, f64>,
    /// Read request units, net of the verifier's reads.
    pub read_units_per_message: f64,
    /// What the proxy counted, before any subtraction.
    pub raw: Counts,
    /// What the runner does when idle, per second (not subtracted).
    pub idle_per_second: BTreeMap<String, f64>,
    /// Subtracted: the verifier's ticket-list pages.
    pub verifier_requests: BTreeMap<String, f64>,
}

impl Measured {
    pub fn per_message(&self, messages: u64) -> RequestCosts {
        let idle_seconds = self.idle_window.as_secs_f64().max(f64::EPSILON);
        let idle_per_second: BTreeMap<String, f64> = self
            .idle
            .operations
            .iter()
            .filter(|(_, count)| count.requests > 0)
            .map(|(name, count)| (name.clone(), count.requests as f64 / idle_seconds))
            .collect();
        // A list page only reads; what else happened while it was measured (ingest still
        // going, a background loop) is not its cost.
        let verifier_requests: BTreeMap<String, f64> = self
            .list_page
            .operations
            .iter()
            .filter(|(name, count)| {
                let read = ["GetItem", "BatchGetItem", "Query", "Scan"]
                    .iter()
                    .any(|read| name.contains(&format!(".{read}")));
                count.requests > 0 && read && !idle_per_second.contains_key(*name)
            })
            .map(|(name, count)| (name.clone(), (count.requests * self.list_pages) as f64))
            .collect();
        let verifier_read_units: f64 = self
            .list_page
            .operations
            .iter()
            .filter(|(name, _)| verifier_requests.contains_key(*name))
            .map(|(_, count)| count.read_units * self.list_pages as f64)
            .sum();
        let per = |value: f64| value / messages.max(1) as f64;
        let per_message: BTreeMap<String, f64> = self
            .burst
            .operations
            .iter()
            .map(|(name, count)| {
                let verifier = verifier_requests.get(name).copied().unwrap_or(0.0);
                (
                    name.clone(),
                    per((count.requests as f64 - verifier).max(0.0)),
                )
            })
            .collect();
        let service_total = |prefix: &str| {
            per_message
                .iter()
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(_, value)| value)
                .sum()
        };
        RequestCosts {
            messages,
            window_seconds: self.burst_window.as_secs_f64(),
            // Not the stream's requests (`DynamoDBStreams_...`): the report feed reads it a
            // page a minute, whatever the traffic.
            dynamodb_per_message: service_total("DynamoDB_"),
            sqs_per_message: service_total("AmazonSQS"),
            write_units_per_message: per(self.burst.write_units as f64),
            table_write_units_per_message: per(self.burst.table_write_units as f64),
            index_write_units_per_message: self
                .burst
                .index_write_units
                .iter()
                .map(|(index, units)| (index.clone(), per(*units as f64)))
                .collect(),
            table_write_units_per_message_by_item: self
                .burst
                .table_write_units_by_item
                .iter()
                .map(|(kind, units)| (kind.clone(), per(*units as f64)))
                .collect(),
            read_units_per_message: per((self.burst.read_units - verifier_read_units).max(0.0)),
            per_message,
            raw: self.burst.clone(),
            idle_per_second,
            verifier_requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::WriteUnits;
    use crate::counts::{Billed, Request};

    /// Requests of an operation: how many, each one's table and gsi1 write units, and read
    /// units.
    fn counts(of: &[(&str, u64, u64)]) -> Counts {
        let mut counts = Counts::default();
        for (operation, times, write_units) in of {
            let read = operation.contains(".Query");
            let billed = Billed {
                write: WriteUnits {
                    table: *write_units,
                    indexes: match write_units {
                        0 => BTreeMap::new(),
                        _ => BTreeMap::from([("gsi1".to_string(), 1)]),
                    },
                    items: BTreeMap::new(),
                },
                read_units: if read { 0.5 } else { 0.0 },
                unpriced: false,
            };
            for _ in 0..*times {
                counts.record(
                    &Request {
                        operation: operation.to_string(),
                        queue: None,
                    },
                    &billed,
                    false,
                    Duration::ZERO,
                );
            }
        }
        counts
    }

    #[test]
    fn subtracts_the_verifiers_list_pages_only() {
        let measured = Measured {
            burst: counts(&[
                ("DynamoDB_20120810.TransactWriteItems", 100, 6),
                ("DynamoDB_20120810.Query gsi1", 16, 0),
                ("DynamoDB_20120810.Query gsi5", 80, 0),
                ("AmazonSQS.SendMessage", 100, 0),
            ]),
            burst_window: Duration::from_secs(10),
            // The scheduler: 8 queries of the due index a second when idle.
            idle: counts(&[("DynamoDB_20120810.Query gsi5", 16, 0)]),
            idle_window: Duration::from_secs(2),
            // A list page: 8 queries of gsi1, and a scheduler query and a write that happened
            // meanwhile, which are not its cost. The verifier read 2 pages.
            list_page: counts(&[
                ("DynamoDB_20120810.Query gsi1", 8, 0),
                ("DynamoDB_20120810.Query gsi5", 1, 0),
                ("DynamoDB_20120810.TransactWriteItems", 1, 6),
            ]),
            list_pages: 2,
        };
        let costs = measured.per_message(100);
        let per = |name: &str| costs.per_message[name];
        assert_eq!(per("DynamoDB_20120810.TransactWriteItems"), 1.0);
        assert_eq!(per("DynamoDB_20120810.Query gsi1"), 0.0);
        assert_eq!(per("DynamoDB_20120810.Query gsi5"), 0.8);
        assert_eq!(costs.idle_per_second["DynamoDB_20120810.Query gsi5"], 8.0);
        assert_eq!(costs.sqs_per_message, 1.0);
        // 6 units on the table and 1 on gsi1 for each transaction.
        assert_eq!(costs.write_units_per_message, 7.0);
        assert_eq!(costs.table_write_units_per_message, 6.0);
        assert_eq!(costs.index_write_units_per_message["gsi1"], 1.0);
        // 96 queries of half a unit, less the verifier's 16.
        assert_eq!(costs.read_units_per_message, (96.0 - 16.0) * 0.5 / 100.0);
    }
}
