//! Counters as CloudWatch Embedded Metric Format lines on stdout: on Lambda, CloudWatch turns
//! them into metrics with no API call; locally they are just JSON lines in the log.

use serde_json::{Map, Value, json};
use socialcare_domain::report::{GroupBy, Sample};

pub const NAMESPACE: &str = "socialcare";

/// Emits `name` = `value` (a count) with a `Source` dimension.
pub fn count(name: &str, value: u64, source: &str) {
    let now = chrono::Utc::now().timestamp_millis();
    println!("{}", line(name, value, Some(source), now));
}

/// Emits `name` = `value` (a count) without dimensions, for an alarm on the whole deployment.
pub fn count_total(name: &str, value: u64) {
    let now = chrono::Utc::now().timestamp_millis();
    println!("{}", line(name, value, None, now));
}

/// Emits what a ticket change added to the response-time report, as one line: the same figures
/// as `GET /v1/metrics/response-times`, with the brand account and the channel as dimensions.
/// Times are values in seconds (CloudWatch takes medians and p90s of them); counts are counts.
pub fn report(samples: &[Sample]) {
    if let Some(line) = report_line(samples, chrono::Utc::now().timestamp_millis()) {
        println!("{line}");
    }
}

/// What one batch of a function consumed of the store, billed as request units: CloudWatch
/// adds them up, and their sum over `Messages` is the cost per message a bill will show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreUsage {
    pub messages: u64,
    /// Write request units, the table's and its indexes'.
    pub write_units: f64,
    /// Of them, the indexes'.
    pub index_write_units: f64,
    pub read_units: f64,
}

/// Emits a batch's [`StoreUsage`] as one line, with the function as dimension.
pub fn store_usage(function: &str, usage: &StoreUsage) {
    let now = chrono::Utc::now().timestamp_millis();
    println!("{}", store_usage_line(function, usage, now));
}

fn store_usage_line(function: &str, usage: &StoreUsage, timestamp_millis: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "Messages", "Unit": "Count"},
                    {"Name": "DynamoDBWriteUnits", "Unit": "Count"},
                    {"Name": "DynamoDBIndexWriteUnits", "Unit": "Count"},
                    {"Name": "DynamoDBReadUnits", "Unit": "Count"},
                ],
            }],
        },
        "Function": function,
        "Messages": usage.messages,
        "DynamoDBWriteUnits": usage.write_units,
        "DynamoDBIndexWriteUnits": usage.index_write_units,
        "DynamoDBReadUnits": usage.read_units,
    })
    .to_string()
}

/// The report's counters as metrics: (counter, metric name, unit). Bucket counters are left to
/// the API's report; CloudWatch computes its own percentiles from the values.
const REPORTED: [(&str, &str, &str); 8] = [
    ("tickets", "Tickets", "Count"),
    ("acknowledgement_seconds", "TimeToAcknowledge", "Seconds"),
    ("response_seconds", "TimeToFirstResponse", "Seconds"),
    ("responded_within_1h", "RespondedWithin1h", "Count"),
    ("responded_within_48h", "RespondedWithin48h", "Count"),
    ("breaches", "SlaBreaches", "Count"),
    ("resolved", "Resolved", "Count"),
    ("resolution_seconds", "ResolutionTime", "Seconds"),
];

fn report_line(samples: &[Sample], timestamp_millis: i64) -> Option<String> {
    // A change adds the same counters to every grouping; the channel grouping names the channel.
    let sample = samples.iter().find(|s| s.group_by == GroupBy::Channel)?;
    let mut metrics = Vec::new();
    let mut line = Map::new();
    for (counter, name, unit) in REPORTED {
        if let Some(value) = sample.counters.get(counter) {
            metrics.push(json!({"Name": name, "Unit": unit}));
            line.insert(name.into(), json!(value));
        }
    }
    if metrics.is_empty() {
        return None;
    }
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Account"], ["Account", "Channel"]],
                "Metrics": metrics,
            }],
        }),
    );
    line.insert("Account".into(), json!(sample.account));
    line.insert("Channel".into(), json!(sample.group));
    Some(Value::Object(line).to_string())
}

/// One count as an EMF line, with a `Source` dimension or none.
fn line(name: &str, value: u64, source: Option<&str>, timestamp_millis: i64) -> String {
    let dimensions: &[&str] = match source {
        Some(_) => &["Source"],
        None => &[],
    };
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        name: value,
    });
    if let Some(source) = source {
        line["Source"] = json!(source);
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_embedded_metric_format_line() {
        let parsed: serde_json::Value = serde_json::from_str(&line(
            "DroppedUnknownAccount",
            2,
            Some("x"),
            1_795_341_600_000,
        ))
        .unwrap();
        assert_eq!(parsed["_aws"]["Timestamp"], 1_795_341_600_000i64);
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "socialcare");
        assert_eq!(directive["Dimensions"][0][0], "Source");
        assert_eq!(directive["Metrics"][0]["Name"], "DroppedUnknownAccount");
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(parsed["Source"], "x");
        assert_eq!(parsed["DroppedUnknownAccount"], 2);
    }

    /// The template's TopicsRecordFull alarm has no dimensions; the metric must have none.
    #[test]
    fn a_deployment_wide_count_has_no_dimensions() {
        let parsed: serde_json::Value =
            serde_json::from_str(&line("TopicsRecordFull", 1, None, 1_795_341_600_000)).unwrap();
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([[]]));
        assert_eq!(directive["Metrics"][0]["Name"], "TopicsRecordFull");
        assert_eq!(parsed["TopicsRecordFull"], 1);
        assert_eq!(parsed.get("Source"), None);
    }

    fn sample(group_by: GroupBy, group: &str, counters: &[(&str, i64)]) -> Sample {
        Sample {
            account: "1100000000000000001".into(),
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            group_by,
            group: group.into(),
            counters: counters.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn a_first_answer_is_one_line_with_its_figures_by_account_and_channel() {
        let counters = [
            ("responded", 1),
            ("response_seconds", 2700),
            ("responded_within_1h", 1),
            ("responded_within_48h", 1),
            ("response_b791", 1),
        ];
        let samples = [
            sample(GroupBy::Day, "2026-11-20", &counters),
            sample(GroupBy::Agent, "sally", &counters),
            sample(GroupBy::Channel, "x", &counters),
        ];
        let line = report_line(&samples, 1_795_341_600_000).unwrap();
        let parsed: Value = serde_json::from_str(&line).unwrap();
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "socialcare");
        assert_eq!(
            directive["Dimensions"],
            json!([["Account"], ["Account", "Channel"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([
                {"Name": "TimeToFirstResponse", "Unit": "Seconds"},
                {"Name": "RespondedWithin1h", "Unit": "Count"},
                {"Name": "RespondedWithin48h", "Unit": "Count"},
            ])
        );
        assert_eq!(parsed["_aws"]["Timestamp"], 1_795_341_600_000i64);
        assert_eq!(parsed["Account"], "1100000000000000001");
        assert_eq!(parsed["Channel"], "x");
        assert_eq!(parsed["TimeToFirstResponse"], 2700);
        assert_eq!(parsed["RespondedWithin1h"], 1);
        assert_eq!(parsed["RespondedWithin48h"], 1);
        assert_eq!(parsed.as_object().unwrap().len(), 6, "{line}");
    }

    #[test]
    fn a_batchs_store_usage_is_one_line_by_function() {
        let usage = StoreUsage {
            messages: 10,
            write_units: 95.0,
            index_write_units: 30.0,
            read_units: 12.5,
        };
        let parsed: Value =
            serde_json::from_str(&store_usage_line("ingest", &usage, 1_795_341_600_000)).unwrap();
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "socialcare");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Messages",
                "DynamoDBWriteUnits",
                "DynamoDBIndexWriteUnits",
                "DynamoDBReadUnits"
            ]
        );
        assert_eq!(parsed["Function"], "ingest");
        assert_eq!(parsed["Messages"], 10);
        assert_eq!(parsed["DynamoDBWriteUnits"], 95.0);
        assert_eq!(parsed["DynamoDBIndexWriteUnits"], 30.0);
        assert_eq!(parsed["DynamoDBReadUnits"], 12.5);
    }

    #[test]
    fn a_change_that_adds_nothing_writes_no_line() {
        assert_eq!(report_line(&[], 0), None);
        let other = [sample(GroupBy::Channel, "x", &[("response_b3", 1)])];
        assert_eq!(report_line(&other, 0), None);
    }
}
