//! Sends the burst: originals, follow-ups answering a customer's earlier message, and exact
//! re-sends of earlier deliveries, `concurrency` at a time, timing each webhook.
//!
//! What each send is gets decided when it starts: a follow-up answers, and a duplicate
//! repeats, a delivery that was already accepted, as on the platforms (a customer answers what
//! they posted; a platform redelivers what it delivered).

use crate::bodies::{Composer, MessageKey, Thread, Webhook};
use crate::latency::Latencies;
use crate::plan::{Budget, Mix, Rng, Sort};
use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How many of the failed webhooks are shown.
const ERRORS_SHOWN: usize = 5;
/// A webhook that takes longer than this has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Settings {
    pub url: String,
    pub messages: u64,
    pub concurrency: usize,
    pub duplicates: f64,
    pub replies: f64,
    /// How many customers the messages are spread over.
    pub customers: u64,
}

/// A unique message the store must hold once it has been accepted.
#[derive(Debug, Clone)]
pub struct Expected {
    pub key: MessageKey,
    /// The message it answers, for follow-ups: both must end on the same ticket.
    pub answers: Option<MessageKey>,
}

/// What the sending phase did.
pub struct Sent {
    pub sent: u64,
    pub duplicates_sent: u64,
    pub replies: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// The first few failures, for the summary.
    pub errors: Vec<String>,
    /// Webhook latency of every send.
    pub latency: Latencies,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
    pub wall: Duration,
    /// Unique messages with at least one accepted delivery.
    pub expected: Vec<Expected>,
    /// Unique messages by kind.
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// A unique message that was accepted, and the delivery that carried it.
struct Delivered {
    webhook: Arc<Webhook>,
    thread: Thread,
}

/// One send's outcome.
struct Done {
    delivered: Option<Delivered>,
    latency: Duration,
    failure: Option<String>,
}

/// What was sent so far, which later sends build on: follow-ups answer, and duplicates
/// repeat, what was delivered.
struct Ledger {
    budget: Budget,
    /// The number of the last unique message.
    seq: u64,
    delivered: Vec<Delivered>,
    /// Indexes in `delivered` of the messages a follow-up can answer.
    answerable: Vec<usize>,
    expected: Vec<Expected>,
}

impl Ledger {
    /// The next webhook, or `None` when nothing can be sent now (see [`Budget::draw`]).
    fn next(
        &mut self,
        sent: &mut Sent,
        rng: &mut Rng,
        mix: &Mix,
        composer: &Composer,
        customers: u64,
    ) -> Option<(Arc<Webhook>, Option<Thread>)> {
        let can_reply = !self.answerable.is_empty();
        let sort = self
            .budget
            .draw(rng, can_reply, !self.delivered.is_empty())?;
        sent.sent += 1;
        if sort == Sort::Duplicate {
            sent.duplicates_sent += 1;
            let index = rng.below(self.delivered.len() as u64) as usize;
            return Some((Arc::clone(&self.delivered[index].webhook), None));
        }
        self.seq += 1;
        let answers = match sort {
            Sort::Reply => rng
                .pick(&self.answerable)
                .map(|&index| self.delivered[index].thread.clone()),
            _ => None,
        };
        // A follow-up comes from the same customer, on the same channel.
        let (kind, customer) = match &answers {
            Some(parent) => (parent.kind, parent.customer),
            None => (mix.pick(rng), rng.below(customers)),
        };
        sent.replies += u64::from(answers.is_some());
        *sent.by_kind.entry(kind.name()).or_default() += 1;
        let (webhook, thread) =
            composer.compose(self.seq, kind, customer, answers.as_ref(), Utc::now());
        self.expected.push(Expected {
            key: thread.key.clone(),
            answers: answers.map(|parent| parent.key),
        });
        Some((Arc::new(webhook), Some(thread)))
    }

    fn accepted(&mut self, new: Delivered) {
        if new.thread.kind.threads_replies() {
            self.answerable.push(self.delivered.len());
        }
        self.delivered.push(new);
    }

    /// The unique messages the store must hold: those with an accepted delivery (a duplicate
    /// re-sends only what was accepted, so the first delivery decides).
    fn into_expected(self) -> Vec<Expected> {
        let accepted: HashSet<&MessageKey> = self.delivered.iter().map(|d| &d.thread.key).collect();
        self.expected
            .into_iter()
            .filter(|e| accepted.contains(&e.key))
            .collect()
    }
}

pub async fn send(
    settings: &Settings,
    composer: Arc<Composer>,
    mix: &Mix,
    rng: &mut Rng,
) -> anyhow::Result<Sent> {
    let budget = Budget::new(settings.messages, settings.duplicates, settings.replies)?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(settings.concurrency)
        .build()
        .context("building the HTTP client")?;
    let base = Arc::new(settings.url.trim_end_matches('/').to_string());
    let progress = ProgressBar::new(budget.remaining()).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} webhooks, {per_sec}, ETA {eta} {msg}",
        )
        .context("the progress bar template")?,
    );
    let mut ledger = Ledger {
        budget,
        seq: 0,
        delivered: Vec::new(),
        answerable: Vec::new(),
        expected: Vec::new(),
    };
    let mut sent = Sent {
        sent: 0,
        duplicates_sent: 0,
        replies: 0,
        accepted: 0,
        rejected: 0,
        errors: Vec::new(),
        latency: Latencies::new()?,
        started: Instant::now(),
        started_at: Utc::now(),
        wall: Duration::ZERO,
        expected: Vec::new(),
        by_kind: BTreeMap::new(),
    };
    let mut in_flight: JoinSet<Done> = JoinSet::new();
    loop {
        while in_flight.len() < settings.concurrency {
            let next = ledger.next(&mut sent, rng, mix, &composer, settings.customers);
            let Some((webhook, thread)) = next else {
                break;
            };
            let (http, base, composer) = (http.clone(), Arc::clone(&base), Arc::clone(&composer));
            in_flight.spawn(deliver(http, base, composer, webhook, thread));
        }
        let Some(done) = in_flight.join_next().await else {
            // Nothing in flight and nothing that can be sent: done, or nothing was accepted
            // that a follow-up or a duplicate could use.
            break;
        };
        let done = done.context("a send stopped")?;
        sent.latency.record(done.latency);
        progress.inc(1);
        match done.failure {
            None => sent.accepted += 1,
            Some(failure) => {
                sent.rejected += 1;
                if sent.errors.len() < ERRORS_SHOWN {
                    progress.println(format!("failed: {failure}"));
                    sent.errors.push(failure);
                }
                progress.set_message(format!("{} failed", sent.rejected));
            }
        }
        if let Some(new) = done.delivered {
            ledger.accepted(new);
        }
    }
    progress.finish();
    sent.wall = sent.started.elapsed();
    sent.expected = ledger.into_expected();
    Ok(sent)
}

/// Sends one webhook; a 2xx that dropped the event (an account the runner does not serve)
/// counts as a failure too, since the message will never be stored.
async fn deliver(
    http: reqwest::Client,
    base: Arc<String>,
    composer: Arc<Composer>,
    webhook: Arc<Webhook>,
    thread: Option<Thread>,
) -> Done {
    let started = Instant::now();
    let (header, signature) = composer.signature(&webhook, Utc::now());
    let what = match &thread {
        Some(thread) => format!("{} {}", thread.kind.name(), thread.key.external_id),
        None => format!("duplicate to {}", webhook.path),
    };
    let answer = http
        .post(format!("{base}{}", webhook.path))
        .header("content-type", "application/json")
        .header(header, signature)
        .body(webhook.body.clone())
        .send()
        .await;
    let failure = match answer {
        Err(e) => Some(format!("{what}: {e}")),
        Ok(answer) => {
            let status = answer.status();
            let text = answer.text().await.unwrap_or_default();
            refusal(status, &text).map(|why| format!("{what}: {why}"))
        }
    };
    let latency = started.elapsed();
    let delivered = match (&failure, thread) {
        (None, Some(thread)) => Some(Delivered { webhook, thread }),
        _ => None,
    };
    Done {
        delivered,
        latency,
        failure,
    }
}

/// Why an answer means the message was not taken, if it does.
fn refusal(status: reqwest::StatusCode, body: &str) -> Option<String> {
    let snippet: String = body.chars().take(300).collect();
    if !status.is_success() {
        return Some(format!("{status} {snippet}"));
    }
    // X and Meta answer 200 {"queued", "dropped", "ignored"}; the integrator 202 {"status"}.
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let count = |field: &str| answer.get(field).and_then(serde_json::Value::as_u64);
    match (count("queued"), count("dropped")) {
        (_, Some(dropped)) if dropped > 0 => Some(format!(
            "{status} but dropped: the runner does not serve this brand account (start it with the config of `socialcare-loadgen accounts`): {snippet}"
        )),
        (Some(0), _) => Some(format!("{status} but nothing queued: {snippet}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;
    use reqwest::StatusCode;

    /// Every follow-up answers an accepted message of the same customer and kind, never an X
    /// DM; duplicates re-send accepted deliveries; the budget is spent exactly.
    #[test]
    fn follow_ups_and_duplicates_build_on_accepted_messages() {
        let composer = Composer::for_tests();
        let mix = Mix::of(|_| true);
        let mut rng = Rng::seeded(3);
        let mut ledger = Ledger {
            budget: Budget::new(500, 0.1, 0.3).unwrap(),
            seq: 0,
            delivered: Vec::new(),
            answerable: Vec::new(),
            expected: Vec::new(),
        };
        let mut sent = Sent {
            sent: 0,
            duplicates_sent: 0,
            replies: 0,
            accepted: 0,
            rejected: 0,
            errors: Vec::new(),
            latency: Latencies::new().unwrap(),
            started: Instant::now(),
            started_at: Utc::now(),
            wall: Duration::ZERO,
            expected: Vec::new(),
            by_kind: BTreeMap::new(),
        };
        let mut threads = std::collections::HashMap::new();
        while let Some((webhook, thread)) = ledger.next(&mut sent, &mut rng, &mix, &composer, 50) {
            if let Some(thread) = thread {
                threads.insert(thread.key.clone(), thread.clone());
                ledger.accepted(Delivered { webhook, thread });
            }
        }
        assert_eq!(
            (sent.sent, sent.duplicates_sent, sent.replies),
            (500, 50, 135)
        );
        let expected = ledger.into_expected();
        assert_eq!(expected.len(), 450);
        for follow_up in expected.iter().filter(|e| e.answers.is_some()) {
            let parent = &threads[follow_up.answers.as_ref().unwrap()];
            let child = &threads[&follow_up.key];
            assert_ne!(parent.kind, Kind::XDirectMessage);
            assert_eq!((parent.kind, parent.customer), (child.kind, child.customer));
        }
    }

    #[test]
    fn a_dropped_event_is_a_failure() {
        assert_eq!(
            refusal(
                StatusCode::ACCEPTED,
                r#"{"status":"queued","message_id":"m"}"#
            ),
            None
        );
        assert_eq!(
            refusal(StatusCode::OK, r#"{"queued":1,"dropped":0,"ignored":0}"#),
            None
        );
        assert!(
            refusal(StatusCode::OK, r#"{"queued":0,"dropped":1,"ignored":0}"#)
                .unwrap()
                .contains("dropped")
        );
        assert!(
            refusal(StatusCode::OK, r#"{"queued":0,"dropped":0,"ignored":1}"#)
                .unwrap()
                .contains("nothing queued")
        );
        assert!(
            refusal(StatusCode::UNAUTHORIZED, r#"{"error":{}}"#)
                .unwrap()
                .starts_with("401")
        );
    }
}
