//! The burst's summary: what was sent, how the webhooks answered, how long ingest took, and
//! whether every message was stored exactly once; as text, and as JSON with `--json`.

use crate::burst::Sent;
use crate::costs::RequestCosts;
use crate::latency::Percentiles;
use crate::outage;
use crate::verify::Verification;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub url: String,
    /// The tag in every id of this run.
    pub run: String,
    pub sent: u64,
    pub unique: u64,
    pub duplicates_sent: u64,
    pub replies: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub accepted: u64,
    pub accepted_first_try: u64,
    pub accepted_after_retry: u64,
    pub gave_up: u64,
    pub rejected: u64,
    pub failed_attempts: u64,
    pub failed_attempts_answered_503: u64,
    /// When the first and the last failed attempt started, in seconds after the first send.
    pub failures_between_seconds: Option<(f64, f64)>,
    pub accepted_before_failures: u64,
    pub accepted_after_failures: u64,
    /// The first send, on the wall clock (to place an outage or a kill against).
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub wall_seconds: f64,
    pub accepted_per_second: f64,
    pub latency_ms: Percentiles,
    /// From the first send until every accepted message was stored; `None`: not within the
    /// timeout.
    pub ingest_seconds: Option<f64>,
    pub ingest_per_second: Option<f64>,
    pub expected: u64,
    pub stored: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub misthreaded: u64,
    pub unacknowledged: u64,
    pub stored_unacknowledged: u64,
    pub tickets: u64,
    pub first_errors: Vec<String>,
    pub problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestCosts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage: Option<outage::Report>,
}

impl Summary {
    pub fn new(
        url: &str,
        run: String,
        sent: &Sent,
        ingested_after: Option<Duration>,
        verification: &Verification,
        requests: Option<RequestCosts>,
        outage: Option<outage::Report>,
    ) -> Self {
        let wall = sent.wall.as_secs_f64();
        let expected = sent.expected.len() as u64;
        let ingest_seconds = ingested_after.map(|d| d.as_secs_f64());
        Self {
            url: url.to_string(),
            run,
            sent: sent.sent,
            unique: sent.sent - sent.duplicates_sent,
            duplicates_sent: sent.duplicates_sent,
            replies: sent.replies,
            by_kind: sent.by_kind.clone(),
            accepted: sent.accepted,
            accepted_first_try: sent.first_try,
            accepted_after_retry: sent.after_retry,
            gave_up: sent.gave_up,
            rejected: sent.rejected,
            failed_attempts: sent.failed_attempts,
            failed_attempts_answered_503: sent.answered_503,
            failures_between_seconds: sent
                .failures_between
                .map(|(first, last)| (first.as_secs_f64(), last.as_secs_f64())),
            accepted_before_failures: sent.accepted_before_failures,
            accepted_after_failures: sent.accepted_after_failures,
            started_at: sent.started_at,
            wall_seconds: wall,
            accepted_per_second: sent.accepted as f64 / wall.max(f64::EPSILON),
            latency_ms: sent.latency.percentiles(),
            ingest_seconds,
            ingest_per_second: ingest_seconds.map(|s| expected as f64 / s.max(f64::EPSILON)),
            expected,
            stored: verification.stored,
            lost: verification.lost,
            duplicated: verification.duplicated,
            misthreaded: verification.misthreaded,
            unacknowledged: sent.unacknowledged.len() as u64,
            stored_unacknowledged: verification.stored_unacknowledged,
            tickets: verification.tickets,
            first_errors: sent.errors.clone(),
            problems: verification.examples.clone(),
            requests,
            outage,
        }
    }

    /// Whether the burst went as it must: every webhook accepted (at the latest after
    /// retries), every message stored once, every follow-up on its parent's ticket.
    pub fn passed(&self) -> bool {
        self.rejected == 0
            && self.gave_up == 0
            && self.lost == 0
            && self.duplicated == 0
            && self.misthreaded == 0
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        let _ = writeln!(out, "burst {} against {}", self.run, self.url);
        let _ = writeln!(
            out,
            "  sent          {} webhooks: {} unique messages ({} follow-ups), {} duplicates",
            self.sent, self.unique, self.replies, self.duplicates_sent
        );
        let _ = writeln!(out, "  mix           {}", kinds.join(", "));
        let _ = writeln!(
            out,
            "  accepted      {} (2xx): {} at the first try, {} after retries; gave up {}, rejected {}",
            self.accepted,
            self.accepted_first_try,
            self.accepted_after_retry,
            self.gave_up,
            self.rejected
        );
        if let Some((first, last)) = self.failures_between_seconds {
            let _ = writeln!(
                out,
                "  retried       {} failed attempts ({} answered 503, {} not answered), from {first:.1} s to {last:.1} s after the first send ({}); {} webhooks accepted before, {} after",
                self.failed_attempts,
                self.failed_attempts_answered_503,
                self.failed_attempts - self.failed_attempts_answered_503,
                self.started_at.format("%H:%M:%S%.3f UTC"),
                self.accepted_before_failures,
                self.accepted_after_failures
            );
        }
        let _ = writeln!(
            out,
            "  wall time     {:.2} s, {:.0} accepted webhooks/s",
            self.wall_seconds, self.accepted_per_second
        );
        let latency = self.latency_ms;
        let _ = writeln!(
            out,
            "  latency       p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            latency.p50, latency.p90, latency.p99, latency.max
        );
        let _ = match (self.ingest_seconds, self.ingest_per_second) {
            (Some(seconds), Some(rate)) => writeln!(
                out,
                "  ingested      all {} in {seconds:.2} s from the first send: {rate:.0} messages/s",
                self.expected
            ),
            _ => writeln!(
                out,
                "  ingested      NOT all within the timeout ({} of {} stored)",
                self.stored, self.expected
            ),
        };
        let _ = writeln!(
            out,
            "  stored        {} of {} on {} tickets: lost {}, duplicated {}, misthreaded {}",
            self.stored, self.expected, self.tickets, self.lost, self.duplicated, self.misthreaded
        );
        if let Some(outage) = &self.outage {
            let after_start = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map_or(f64::NAN, |at| {
                    (at - self.started_at).num_milliseconds() as f64 / 1_000.0
                })
            };
            let _ = writeln!(
                out,
                "  outage        emulator unreachable from {:.1} s to {:.1} s after the first send ({}): {} connections refused, {} reset",
                after_start(outage.starts_at),
                after_start(outage.ends_at),
                outage.state,
                outage.refused_connections,
                outage.reset_connections
            );
        }
        if self.unacknowledged > 0 {
            let _ = writeln!(
                out,
                "  unacknowledged {} messages never answered 2xx, {} of them stored anyway (allowed, once)",
                self.unacknowledged, self.stored_unacknowledged
            );
        }
        for error in &self.first_errors {
            let _ = writeln!(out, "  error         {error}");
        }
        for problem in &self.problems {
            let _ = writeln!(out, "  problem       {problem}");
        }
        if let Some(requests) = &self.requests {
            write_requests(&mut out, requests);
        }
        let _ = writeln!(
            out,
            "  result        {}",
            match self.passed() {
                true => "PASS",
                false => "FAIL",
            }
        );
        out
    }
}

fn write_requests(out: &mut String, requests: &RequestCosts) {
    let _ = writeln!(
        out,
        "  AWS requests per stored message ({} messages, {:.1} s window; the verifier's ticket-list reads subtracted):",
        requests.messages, requests.window_seconds
    );
    for (operation, per_message) in &requests.per_message {
        let raw = &requests.raw.operations[operation];
        let mut notes = format!("raw {}", raw.requests);
        if raw.failed > 0 {
            let _ = write!(notes, ", failed {}", raw.failed);
        }
        if let Some(verifier) = requests.verifier_requests.get(operation) {
            let _ = write!(notes, ", verifier ~{verifier:.0}");
        }
        if let Some(idle) = requests.idle_per_second.get(operation) {
            let _ = write!(notes, ", also {idle:.1}/s when idle");
        }
        if raw.read_units > 0.0 {
            let per = raw.read_units / requests.messages.max(1) as f64;
            let _ = write!(notes, ", {per:.2} RRU per message");
        }
        let mean_ms = 1_000.0 * raw.upstream_seconds / raw.requests.max(1) as f64;
        let _ = writeln!(
            out,
            "    {operation:<46} {per_message:>7.3}   ({notes}; emulator {mean_ms:.1} ms each)"
        );
    }
    let _ = writeln!(
        out,
        "    {:<46} {:>7.3}\n    {:<46} {:>7.3}",
        "DynamoDB total", requests.dynamodb_per_message, "SQS total", requests.sqs_per_message,
    );
    let indexes: Vec<String> = requests
        .index_write_units_per_message
        .iter()
        .map(|(index, units)| format!("{index} {units:.2}"))
        .collect();
    let _ = writeln!(
        out,
        "    {:<46} {:>7.3}   (table {:.2}; indexes: {}; raw {})",
        "DynamoDB write request units",
        requests.write_units_per_message,
        requests.table_write_units_per_message,
        if indexes.is_empty() {
            "none".to_string()
        } else {
            indexes.join(", ")
        },
        requests.raw.write_units
    );
    let items: Vec<String> = requests
        .table_write_units_per_message_by_item
        .iter()
        .filter(|(_, units)| **units > 0.0)
        .map(|(kind, units)| format!("{kind} {units:.2}"))
        .collect();
    if !items.is_empty() {
        let _ = writeln!(out, "      the table's by item: {}", items.join(", "));
    }
    let _ = writeln!(
        out,
        "    {:<46} {:>7.3}",
        "DynamoDB read request units", requests.read_units_per_message
    );
    if requests.raw.unpriced_writes > 0 {
        let _ = writeln!(
            out,
            "    {} writes could not be priced (the emulator did not answer the proxy's reads): the write units are too low",
            requests.raw.unpriced_writes
        );
    }
    if !requests.raw.queues.is_empty() {
        let queues: Vec<String> = requests
            .raw
            .queues
            .iter()
            .map(|(name, count)| format!("{name}: {count}"))
            .collect();
        let _ = writeln!(out, "    SQS by queue (raw): {}", queues.join(", "));
    }
}
