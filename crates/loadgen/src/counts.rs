//! What AWS requests cost: each request's operation (DynamoDB and SQS JSON protocols name it in
//! `X-Amz-Target`, the query protocol in the `Action` field) and, for DynamoDB, the request
//! units it is billed under on-demand pricing, the table's and each index's (priced in
//! [`crate::capacity`] from the items the proxy keeps a copy of, see [`crate::shadow`]). A write
//! whose condition fails still consumes its units, so every request counts, whatever its answer.

use crate::capacity::{WriteUnits, item_kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The counts the proxy keeps, as `GET /__counts` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub requests: u64,
    /// Write request units of every DynamoDB write: the table's and the indexes'.
    pub write_units: u64,
    /// Of them, the table's.
    #[serde(default)]
    pub table_write_units: u64,
    /// Of them, each global secondary index's.
    #[serde(default)]
    pub index_write_units: BTreeMap<String, u64>,
    /// The table's units by kind of item (`TICKET.TICKET`, `TICKET.MSG`, `MSGKEY.MSGKEY`, ...).
    #[serde(default)]
    pub table_write_units_by_item: BTreeMap<String, u64>,
    /// Read request units of every DynamoDB read.
    #[serde(default)]
    pub read_units: f64,
    /// Writes the proxy could not price (the emulator did not answer its own reads): their
    /// units are missing from the figures, which are then too low.
    #[serde(default)]
    pub unpriced_writes: u64,
    /// By operation (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`, ...).
    pub operations: BTreeMap<String, OperationCount>,
    /// SQS requests by operation and queue (`AmazonSQS.ReceiveMessage inbound.fifo`), to tell
    /// the inbound queue's traffic from the outbox's and the reminders'.
    #[serde(default)]
    pub queues: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationCount {
    pub requests: u64,
    /// Answered with a status of 400 or more (a failed condition, a cancelled transaction, a
    /// throttle).
    pub failed: u64,
    /// The table's and the indexes' write units.
    pub write_units: u64,
    #[serde(default)]
    pub read_units: f64,
    /// Time spent waiting for the emulator's answers, summed: the emulator's own cost.
    #[serde(default)]
    pub upstream_seconds: f64,
}

/// What one request is, read from its headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub operation: String,
    /// The queue an SQS request names, by its last path segment.
    pub queue: Option<String>,
}

/// What one request was billed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Billed {
    pub write: WriteUnits,
    pub read_units: f64,
    /// A write whose units could not be told.
    pub unpriced: bool,
}

impl Counts {
    pub fn record(
        &mut self,
        request: &Request,
        billed: &Billed,
        failed: bool,
        upstream: std::time::Duration,
    ) {
        self.requests += 1;
        let write_units = billed.write.total();
        self.write_units += write_units;
        self.table_write_units += billed.write.table;
        for (index, units) in &billed.write.indexes {
            *self.index_write_units.entry(index.clone()).or_default() += units;
        }
        for (kind, units) in &billed.write.items {
            *self
                .table_write_units_by_item
                .entry(kind.clone())
                .or_default() += units;
        }
        self.read_units += billed.read_units;
        self.unpriced_writes += u64::from(billed.unpriced);
        let operation = self
            .operations
            .entry(request.operation.clone())
            .or_default();
        operation.requests += 1;
        operation.failed += u64::from(failed);
        operation.write_units += write_units;
        operation.read_units += billed.read_units;
        operation.upstream_seconds += upstream.as_secs_f64();
        if let Some(queue) = &request.queue {
            *self
                .queues
                .entry(format!("{} {queue}", request.operation))
                .or_default() += 1;
        }
    }

    /// The requests counted here and not in `earlier` (a snapshot of the same counter).
    pub fn since(&self, earlier: &Counts) -> Counts {
        let mut delta = Counts {
            requests: self.requests.saturating_sub(earlier.requests),
            write_units: self.write_units.saturating_sub(earlier.write_units),
            table_write_units: self
                .table_write_units
                .saturating_sub(earlier.table_write_units),
            read_units: (self.read_units - earlier.read_units).max(0.0),
            unpriced_writes: self.unpriced_writes.saturating_sub(earlier.unpriced_writes),
            ..Counts::default()
        };
        for (index, units) in &self.index_write_units {
            let before = earlier.index_write_units.get(index).copied().unwrap_or(0);
            delta
                .index_write_units
                .insert(index.clone(), units.saturating_sub(before));
        }
        for (kind, units) in &self.table_write_units_by_item {
            let before = earlier
                .table_write_units_by_item
                .get(kind)
                .copied()
                .unwrap_or(0);
            delta
                .table_write_units_by_item
                .insert(kind.clone(), units.saturating_sub(before));
        }
        for (name, count) in &self.operations {
            let before = earlier.operations.get(name).cloned().unwrap_or_default();
            delta.operations.insert(
                name.clone(),
                OperationCount {
                    requests: count.requests.saturating_sub(before.requests),
                    failed: count.failed.saturating_sub(before.failed),
                    write_units: count.write_units.saturating_sub(before.write_units),
                    read_units: (count.read_units - before.read_units).max(0.0),
                    upstream_seconds: (count.upstream_seconds - before.upstream_seconds).max(0.0),
                },
            );
        }
        for (name, count) in &self.queues {
            let before = earlier.queues.get(name).copied().unwrap_or_default();
            delta
                .queues
                .insert(name.clone(), count.saturating_sub(before));
        }
        delta
    }
}

/// Reads the operation of a request: `X-Amz-Target` (for DynamoDB queries and scans, with the
/// index read), else the query protocol's `Action` (in the form body or the query string), else
/// the method and path. `parsed` is the body read as JSON, when it is.
pub fn classify(
    target: Option<&str>,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    parsed: Option<&Value>,
) -> Request {
    if let Some(target) = target {
        let queue = parsed
            .and_then(|body| body.get("QueueUrl"))
            .and_then(Value::as_str)
            .map(queue_name);
        // Queries and scans are told apart by the index they read: the ticket lists, the due
        // index the scheduler polls and ingest's lookups are different costs; a query of the
        // table and a GetItem by the kind of item they read, to tell whose reads they are.
        let text = |value: Option<&Value>| {
            value
                .and_then(|v| v.get("S"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let operation = match (target.rsplit_once('.'), parsed) {
            (Some((_, "Query" | "Scan")), Some(body)) => {
                match body.get("IndexName").and_then(Value::as_str) {
                    Some(index) => format!("{target} {index}"),
                    None => {
                        let values = body.get("ExpressionAttributeValues");
                        match text(values.and_then(|v| v.get(":pk"))) {
                            Some(pk) => format!("{target} table {}", item_kind(&pk, "")),
                            None => format!("{target} table"),
                        }
                    }
                }
            }
            (Some((_, "GetItem")), Some(body)) => {
                let key = body.get("Key");
                let part = |name| text(key.and_then(|k| k.get(name)));
                match (part("pk"), part("sk")) {
                    (Some(pk), Some(sk)) => format!("{target} {}", item_kind(&pk, &sk)),
                    _ => target.to_string(),
                }
            }
            _ => target.to_string(),
        };
        return Request { operation, queue };
    }
    let form = std::str::from_utf8(body).unwrap_or_default();
    let field = |name: &str| form_field(form, name).or_else(|| form_field(query?, name));
    match field("Action") {
        Some(action) => Request {
            operation: action,
            queue: field("QueueUrl").map(|url| queue_name(&url)),
        },
        None => Request {
            operation: format!("{method} {path}"),
            queue: None,
        },
    }
}

fn queue_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or(url).to_string()
}

/// The value of `name` in an `application/x-www-form-urlencoded` string.
fn form_field(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(raw: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some((high, low)), _) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn classify_json(target: &str, body: Value) -> Request {
        classify(Some(target), "POST", "/", None, b"", Some(&body))
    }

    #[test]
    fn reads_the_operation_from_the_target_or_the_action() {
        let put = classify_json(
            "DynamoDB_20120810.PutItem",
            json!({"TableName": "t", "Item": {"pk": {"S": "a"}}}),
        );
        assert_eq!(put.operation, "DynamoDB_20120810.PutItem");
        assert_eq!(put.queue, None);
        let send = classify_json(
            "AmazonSQS.SendMessage",
            json!({"QueueUrl": "http://127.0.0.1:5300/123456789012/inbound.fifo", "MessageBody": "x"}),
        );
        assert_eq!(send.queue.as_deref(), Some("inbound.fifo"));
        let form = b"Action=ReceiveMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Foutbox&Version=2012-11-05";
        let query = classify(None, "POST", "/", None, form, None);
        assert_eq!(query.operation, "ReceiveMessage");
        assert_eq!(query.queue.as_deref(), Some("outbox"));
        let in_query = classify(None, "GET", "/", Some("Action=ListQueues"), b"", None);
        assert_eq!(in_query.operation, "ListQueues");
        let by_index = classify_json(
            "DynamoDB_20120810.Query",
            json!({"TableName": "t", "IndexName": "gsi1", "KeyConditionExpression": "x"}),
        );
        assert_eq!(by_index.operation, "DynamoDB_20120810.Query gsi1");
        let on_table = classify_json("DynamoDB_20120810.Query", json!({}));
        assert_eq!(on_table.operation, "DynamoDB_20120810.Query table");
        let of_partition = classify_json(
            "DynamoDB_20120810.Query",
            json!({"ExpressionAttributeValues": {":pk": {"S": "TICKET#tkt_1"}}}),
        );
        assert_eq!(
            of_partition.operation,
            "DynamoDB_20120810.Query table TICKET"
        );
        let get = classify_json(
            "DynamoDB_20120810.GetItem",
            json!({"Key": {"pk": {"S": "CUSTOMER#cus_1"}, "sk": {"S": "#CUSTOMER"}}}),
        );
        assert_eq!(get.operation, "DynamoDB_20120810.GetItem CUSTOMER.CUSTOMER");
        let other = classify(None, "GET", "/moto-api/", None, b"", None);
        assert_eq!(other.operation, "GET /moto-api/");
    }

    #[test]
    fn decodes_form_values_and_keeps_broken_escapes() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn adds_the_tables_and_the_indexes_units_and_subtracts_snapshots() {
        let send = Request {
            operation: "AmazonSQS.SendMessage".into(),
            queue: Some("q".into()),
        };
        let put = Request {
            operation: "DynamoDB_20120810.PutItem".into(),
            queue: None,
        };
        let billed = Billed {
            write: WriteUnits {
                table: 2,
                indexes: BTreeMap::from([("gsi1".to_string(), 1), ("gsi2".to_string(), 3)]),
                items: BTreeMap::from([("TICKET.TICKET".to_string(), 2)]),
            },
            read_units: 0.5,
            unpriced: false,
        };
        let mut counts = Counts::default();
        counts.record(&send, &Billed::default(), false, Duration::from_millis(5));
        counts.record(&put, &billed, false, Duration::ZERO);
        let snapshot = counts.clone();
        counts.record(&send, &Billed::default(), true, Duration::from_millis(7));
        counts.record(&put, &billed, false, Duration::ZERO);
        let unpriced = Billed {
            unpriced: true,
            ..Billed::default()
        };
        counts.record(&put, &unpriced, false, Duration::ZERO);
        assert_eq!(counts.write_units, 12);
        assert_eq!(counts.table_write_units, 4);
        assert_eq!(counts.index_write_units["gsi2"], 6);
        assert_eq!(counts.read_units, 1.0);
        assert_eq!(counts.unpriced_writes, 1);
        let delta = counts.since(&snapshot);
        assert_eq!(delta.requests, 3);
        assert_eq!(delta.write_units, 6);
        assert_eq!(delta.table_write_units, 2);
        assert_eq!(delta.index_write_units["gsi1"], 1);
        assert_eq!(delta.table_write_units_by_item["TICKET.TICKET"], 2);
        assert_eq!(delta.read_units, 0.5);
        assert_eq!(delta.unpriced_writes, 1);
        assert_eq!(delta.operations["DynamoDB_20120810.PutItem"].write_units, 6);
        assert_eq!(delta.operations["AmazonSQS.SendMessage"].failed, 1);
        assert_eq!(delta.queues["AmazonSQS.SendMessage q"], 1);
        let seconds = delta.operations["AmazonSQS.SendMessage"].upstream_seconds;
        assert!((seconds - 0.007).abs() < 1e-9);
    }
}
