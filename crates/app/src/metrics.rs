//! Counters as CloudWatch Embedded Metric Format lines on stdout: on Lambda, CloudWatch turns
//! them into metrics with no API call; locally they are just JSON lines in the log.

use serde_json::json;

pub const NAMESPACE: &str = "socialcare";

/// Emits `name` = `value` (a count) with a `Source` dimension.
pub fn count(name: &str, value: u64, source: &str) {
    println!(
        "{}",
        line(name, value, source, chrono::Utc::now().timestamp_millis())
    );
}

fn line(name: &str, value: u64, source: &str, timestamp_millis: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Source"]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        "Source": source,
        name: value,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_embedded_metric_format_line() {
        let parsed: serde_json::Value =
            serde_json::from_str(&line("DroppedUnknownAccount", 2, "x", 1_795_341_600_000))
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
}
