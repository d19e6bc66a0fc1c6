//! What AWS requests cost: each request's operation (DynamoDB and SQS JSON protocols name it in
//! `X-Amz-Target`, the query protocol in the `Action` field) and, for DynamoDB writes, an
//! estimate of the write request units it consumes under on-demand pricing.
//!
//! The rules (DynamoDB developer guide, "Read/write capacity mode" and "Item sizes"): an item's
//! size is the UTF-8 length of its attribute names plus the sizes of its values; a write costs
//! one unit per started KB of the item written, at least one; a write inside
//! `TransactWriteItems` costs two (prepare and commit). A write whose condition fails still
//! consumes its units, so every request counts, whatever its answer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The counts the proxy keeps, as `GET /__counts` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub requests: u64,
    /// Estimated write request units of every DynamoDB write.
    pub write_units: u64,
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
    pub write_units: u64,
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
    pub write_units: u64,
}

impl Counts {
    pub fn record(&mut self, request: &Request, failed: bool, upstream: std::time::Duration) {
        self.requests += 1;
        self.write_units += request.write_units;
        let operation = self
            .operations
            .entry(request.operation.clone())
            .or_default();
        operation.requests += 1;
        operation.failed += u64::from(failed);
        operation.write_units += request.write_units;
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
            ..Counts::default()
        };
        for (name, count) in &self.operations {
            let before = earlier.operations.get(name).cloned().unwrap_or_default();
            delta.operations.insert(
                name.clone(),
                OperationCount {
                    requests: count.requests.saturating_sub(before.requests),
                    failed: count.failed.saturating_sub(before.failed),
                    write_units: count.write_units.saturating_sub(before.write_units),
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
/// the method and path.
pub fn classify(
    target: Option<&str>,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Request {
    if let Some(target) = target {
        let parsed = serde_json::from_slice::<Value>(body).ok();
        let queue = parsed
            .as_ref()
            .and_then(|body| body.get("QueueUrl"))
            .and_then(Value::as_str)
            .map(queue_name);
        let write_units = match (target.split_once('.'), &parsed) {
            (Some((service, operation)), Some(body)) if service.starts_with("DynamoDB") => {
                write_units(operation, body)
            }
            _ => 0,
        };
        // Queries and scans are told apart by the index they read: the ticket lists, the due
        // index the scheduler polls and ingest's lookups are different costs.
        let operation = match (target.rsplit_once('.'), &parsed) {
            (Some((_, "Query" | "Scan")), Some(body)) => {
                let index = body.get("IndexName").and_then(Value::as_str);
                format!("{target} {}", index.unwrap_or("table"))
            }
            _ => target.to_string(),
        };
        return Request {
            operation,
            queue,
            write_units,
        };
    }
    let form = std::str::from_utf8(body).unwrap_or_default();
    let field = |name: &str| form_field(form, name).or_else(|| form_field(query?, name));
    match field("Action") {
        Some(action) => Request {
            operation: action,
            queue: field("QueueUrl").map(|url| queue_name(&url)),
            write_units: 0,
        },
        None => Request {
            operation: format!("{method} {path}"),
            queue: None,
            write_units: 0,
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

/// Estimated write request units of a DynamoDB request (`operation` without its prefix).
pub fn write_units(operation: &str, body: &Value) -> u64 {
    match operation {
        "PutItem" => units(item_size(body.get("Item"))),
        // The units of a delete are those of the item deleted, which the request does not
        // show; its key is the smallest it can be.
        "DeleteItem" => units(item_size(body.get("Key"))),
        // The units of an update are those of the item after the update, which the request
        // does not show either: approximated by the key plus the values the update sets
        // (too low for a small change to a large item, too high for a removal).
        "UpdateItem" => units(update_size(body)),
        "BatchWriteItem" => body
            .get("RequestItems")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(Map::values)
            .filter_map(Value::as_array)
            .flatten()
            .map(|request| {
                let put = request.pointer("/PutRequest/Item");
                let delete = request.pointer("/DeleteRequest/Key");
                units(item_size(put.or(delete)))
            })
            .sum(),
        "TransactWriteItems" => body
            .get("TransactItems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| {
                let size = if let Some(put) = item.get("Put") {
                    item_size(put.get("Item"))
                } else if let Some(update) = item.get("Update") {
                    update_size(update)
                } else if let Some(delete) = item.get("Delete") {
                    item_size(delete.get("Key"))
                } else if let Some(check) = item.get("ConditionCheck") {
                    // A condition check is billed as a write of the item checked; its key
                    // stands in for the item.
                    item_size(check.get("Key"))
                } else {
                    0
                };
                2 * units(size)
            })
            .sum(),
        _ => 0,
    }
}

/// One unit per started KB, at least one.
fn units(size: usize) -> u64 {
    (size.div_ceil(1024) as u64).max(1)
}

fn update_size(update: &Value) -> usize {
    item_size(update.get("Key"))
        + update
            .get("ExpressionAttributeValues")
            .and_then(Value::as_object)
            .map_or(0, |values| values.values().map(value_size).sum())
}

/// The size of an item (`{"name": {"S": "..."}, ...}`): names plus values.
fn item_size(item: Option<&Value>) -> usize {
    item.and_then(Value::as_object).map_or(0, map_size)
}

fn map_size(attributes: &Map<String, Value>) -> usize {
    attributes
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value in DynamoDB's JSON (`{"S": "..."}`, `{"N": "12"}`, ...).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else {
        return 0;
    };
    let text_len = |v: &Value| v.as_str().map_or(0, str::len);
    // Binary arrives base64-encoded: 3 bytes per 4 characters.
    let binary_len = |v: &Value| text_len(v) / 4 * 3;
    let list = inner.as_array().map(Vec::as_slice).unwrap_or_default();
    match kind.as_str() {
        "S" => text_len(inner),
        "N" => number_size(inner.as_str().unwrap_or_default()),
        "B" => binary_len(inner),
        "BOOL" | "NULL" => 1,
        "SS" => list.iter().map(text_len).sum(),
        "NS" => list
            .iter()
            .map(|n| number_size(n.as_str().unwrap_or_default()))
            .sum(),
        "BS" => list.iter().map(binary_len).sum(),
        // Lists and maps: 3 bytes, plus 1 per element, plus the elements (and maps' names).
        "L" => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        "M" => 3 + inner.as_object().map_or(0, |m| m.len() + map_size(m)),
        _ => text_len(inner),
    }
}

/// Numbers take about one byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits = number
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn reads_the_operation_from_the_target_or_the_action() {
        let put = classify(
            Some("DynamoDB_20120810.PutItem"),
            "POST",
            "/",
            None,
            br#"{"TableName":"t","Item":{"pk":{"S":"a"}}}"#,
        );
        assert_eq!(put.operation, "DynamoDB_20120810.PutItem");
        assert_eq!(put.write_units, 1);
        let send = classify(
            Some("AmazonSQS.SendMessage"),
            "POST",
            "/",
            None,
            br#"{"QueueUrl":"http://127.0.0.1:5300/123456789012/inbound.fifo","MessageBody":"x"}"#,
        );
        assert_eq!(send.queue.as_deref(), Some("inbound.fifo"));
        let query = classify(
            None,
            "POST",
            "/",
            None,
            b"Action=ReceiveMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Foutbox&Version=2012-11-05",
        );
        assert_eq!(query.operation, "ReceiveMessage");
        assert_eq!(query.queue.as_deref(), Some("outbox"));
        let in_query = classify(None, "GET", "/", Some("Action=ListQueues"), b"");
        assert_eq!(in_query.operation, "ListQueues");
        let query = br#"{"TableName":"t","IndexName":"gsi1","KeyConditionExpression":"x"}"#;
        let by_index = classify(Some("DynamoDB_20120810.Query"), "POST", "/", None, query);
        assert_eq!(by_index.operation, "DynamoDB_20120810.Query gsi1");
        let on_table = classify(Some("DynamoDB_20120810.Query"), "POST", "/", None, b"{}");
        assert_eq!(on_table.operation, "DynamoDB_20120810.Query table");
        let other = classify(None, "GET", "/moto-api/", None, b"");
        assert_eq!(other.operation, "GET /moto-api/");
    }

    #[test]
    fn decodes_form_values_and_keeps_broken_escapes() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn sizes_items_by_names_and_values() {
        let item = json!({
            "pk": {"S": "ticket#1"},          // 2 + 8
            "n": {"N": "12345"},              // 1 + 4
            "ok": {"BOOL": true},             // 2 + 1
            "tags": {"SS": ["a", "bc"]},      // 4 + 3
            "m": {"M": {"k": {"S": "v"}}},    // 1 + 3 + 1 + 2
            "l": {"L": [{"S": "xy"}]}         // 1 + 3 + 1 + 2
        });
        assert_eq!(item_size(Some(&item)), 10 + 5 + 3 + 7 + 7 + 7);
    }

    #[test]
    fn charges_per_started_kilobyte_and_double_in_transactions() {
        let big = "x".repeat(1_500);
        let put = json!({"Item": {"pk": {"S": big}}});
        assert_eq!(write_units("PutItem", &put), 2);
        let transaction = json!({"TransactItems": [
            {"Put": {"Item": {"pk": {"S": "a"}}}},
            {"Update": {"Key": {"pk": {"S": "b"}}, "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            {"ConditionCheck": {"Key": {"pk": {"S": "c"}}}},
            {"Put": {"Item": {"pk": {"S": big}}}}
        ]});
        assert_eq!(
            write_units("TransactWriteItems", &transaction),
            2 + 2 + 2 + 4
        );
        let batch = json!({"RequestItems": {"t": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "b"}}}}
        ]}});
        assert_eq!(write_units("BatchWriteItem", &batch), 2);
        assert_eq!(write_units("GetItem", &json!({})), 0);
    }

    #[test]
    fn subtracts_snapshots() {
        let request = Request {
            operation: "AmazonSQS.SendMessage".into(),
            queue: Some("q".into()),
            write_units: 0,
        };
        let mut counts = Counts::default();
        counts.record(&request, false, Duration::from_millis(5));
        let snapshot = counts.clone();
        counts.record(&request, true, Duration::from_millis(7));
        let delta = counts.since(&snapshot);
        assert_eq!(delta.requests, 1);
        assert_eq!(delta.operations["AmazonSQS.SendMessage"].failed, 1);
        assert_eq!(delta.queues["AmazonSQS.SendMessage q"], 1);
        let seconds = delta.operations["AmazonSQS.SendMessage"].upstream_seconds;
        assert!((seconds - 0.007).abs() < 1e-9);
    }
}
