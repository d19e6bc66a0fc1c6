//! Sends the burst: originals, follow-ups answering a customer's earlier message, and exact
//! re-sends of earlier deliveries, `concurrency` at a time, timing each webhook.
//!
//! A webhook answered 503 (the runner could not queue it) or not answered at all (connection
//! refused or reset, timeout) is sent again with a growing, jittered pause, as the platforms
//! redeliver, until `retry_for` has passed since its first attempt; then it is given up.
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
use reqwest::StatusCode;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How many of the failed webhooks are shown.
const ERRORS_SHOWN: usize = 5;
/// A webhook that takes longer than this has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The first pause before a retry; each later one doubles, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

pub struct Settings {
    pub url: String,
    pub messages: u64,
    pub concurrency: usize,
    pub duplicates: f64,
    pub replies: f64,
    /// How many customers the messages are spread over.
    pub customers: u64,
    /// How long a webhook that failed for a passing reason is retried, from its first attempt.
    pub retry_for: Duration,
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
    /// Webhooks answered 2xx: `first_try` + `after_retry`.
    pub accepted: u64,
    pub first_try: u64,
    pub after_retry: u64,
    /// Webhooks still failing for a passing reason (503, no answer) after `retry_for`.
    pub gave_up: u64,
    /// Webhooks refused for good (a 4xx, a dropped event): never retried.
    pub rejected: u64,
    /// Attempts that failed and were retried or given up; `answered_503` of them were answered
    /// 503, the others not at all.
    pub failed_attempts: u64,
    pub answered_503: u64,
    /// When the first and the last failed attempt started, after `started`.
    pub failures_between: Option<(Duration, Duration)>,
    /// Webhooks answered 2xx before the first failed attempt and after the last: the traffic
    /// on either side of a fault.
    pub accepted_before_failures: u64,
    pub accepted_after_failures: u64,
    /// When each accepted webhook was answered, after `started`.
    accepted_at: Vec<Duration>,
    /// Unique messages that were never acknowledged (given up or refused): the store may still
    /// hold them (a webhook that timed out may have been queued), but at most once.
    pub unacknowledged: Vec<MessageKey>,
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

impl Default for Sent {
    fn default() -> Self {
        Self {
            sent: 0,
            duplicates_sent: 0,
            replies: 0,
            accepted: 0,
            first_try: 0,
            after_retry: 0,
            gave_up: 0,
            rejected: 0,
            failed_attempts: 0,
            answered_503: 0,
            failures_between: None,
            accepted_before_failures: 0,
            accepted_after_failures: 0,
            accepted_at: Vec::new(),
            unacknowledged: Vec::new(),
            errors: Vec::new(),
            latency: Latencies::new().expect("fixed histogram bounds are valid"),
            started: Instant::now(),
            started_at: Utc::now(),
            wall: Duration::ZERO,
            expected: Vec::new(),
            by_kind: BTreeMap::new(),
        }
    }
}

/// A unique message that was accepted, and the delivery that carried it.
struct Delivered {
    webhook: Arc<Webhook>,
    thread: Thread,
}

/// One send's outcome, over all its attempts.
struct Done {
    delivered: Option<Delivered>,
    /// The message, when it was a unique one that was never acknowledged.
    unacknowledged: Option<MessageKey>,
    outcome: Outcome,
    /// Each attempt's latency.
    latencies: Vec<Duration>,
    /// When the failed attempts started.
    failed_at: Vec<Instant>,
    /// How many of them were answered 503.
    answered_503: u64,
    failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    FirstTry,
    AfterRetry,
    GaveUp,
    Rejected,
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
    let mut sent = Sent::default();
    let mut in_flight: JoinSet<Done> = JoinSet::new();
    loop {
        while in_flight.len() < settings.concurrency {
            let next = ledger.next(&mut sent, rng, mix, &composer, settings.customers);
            let Some((webhook, thread)) = next else {
                break;
            };
            let (http, base, composer) = (http.clone(), Arc::clone(&base), Arc::clone(&composer));
            let retries = Retries {
                retry_for: settings.retry_for,
                jitter: Rng::seeded(rng.next_u64()),
            };
            in_flight.spawn(deliver(http, base, composer, webhook, thread, retries));
        }
        let Some(done) = in_flight.join_next().await else {
            // Nothing in flight and nothing that can be sent: done, or nothing was accepted
            // that a follow-up or a duplicate could use.
            break;
        };
        let done = done.context("a send stopped")?;
        for latency in &done.latencies {
            sent.latency.record(*latency);
        }
        sent.record_failures(&done.failed_at);
        sent.answered_503 += done.answered_503;
        progress.inc(1);
        match done.outcome {
            Outcome::FirstTry => sent.first_try += 1,
            Outcome::AfterRetry => sent.after_retry += 1,
            Outcome::GaveUp => sent.gave_up += 1,
            Outcome::Rejected => sent.rejected += 1,
        }
        sent.accepted = sent.first_try + sent.after_retry;
        if matches!(done.outcome, Outcome::FirstTry | Outcome::AfterRetry) {
            sent.accepted_at.push(sent.started.elapsed());
        }
        if let Some(failure) = done.failure
            && sent.errors.len() < ERRORS_SHOWN
        {
            progress.println(format!("failed: {failure}"));
            sent.errors.push(failure);
        }
        if sent.failed_attempts > 0 {
            progress.set_message(format!(
                "{} retried, {} failed",
                sent.after_retry,
                sent.gave_up + sent.rejected
            ));
        }
        sent.unacknowledged.extend(done.unacknowledged);
        if let Some(new) = done.delivered {
            ledger.accepted(new);
        }
    }
    progress.finish();
    sent.wall = sent.started.elapsed();
    if let Some((first, last)) = sent.failures_between {
        let at = &sent.accepted_at;
        sent.accepted_before_failures = at.iter().filter(|at| **at < first).count() as u64;
        sent.accepted_after_failures = at.iter().filter(|at| **at > last).count() as u64;
    }
    sent.expected = ledger.into_expected();
    Ok(sent)
}

impl Sent {
    fn record_failures(&mut self, failed_at: &[Instant]) {
        self.failed_attempts += failed_at.len() as u64;
        for at in failed_at {
            let at = at.saturating_duration_since(self.started);
            self.failures_between = Some(match self.failures_between {
                None => (at, at),
                Some((first, last)) => (first.min(at), last.max(at)),
            });
        }
    }
}

/// How one webhook is retried.
struct Retries {
    retry_for: Duration,
    jitter: Rng,
}

impl Retries {
    /// The pause before retry number `retry` (from 1): doubling from [`FIRST_PAUSE`] up to
    /// [`LONGEST_PAUSE`], each a random 50-100 % of that, so that the webhooks that failed
    /// together do not all come back in the same instant.
    fn pause(&mut self, retry: u32) -> Duration {
        let full = FIRST_PAUSE
            .saturating_mul(1 << retry.saturating_sub(1).min(10))
            .min(LONGEST_PAUSE);
        full.mul_f64(0.5 + self.jitter.below(1_000) as f64 / 2_000.0)
    }
}

/// One attempt's outcome.
enum Attempt {
    Accepted,
    /// Worth sending again: answered 503 (the runner could not queue it) ...
    Unavailable(String),
    /// ... or no complete answer (the runner may have queued it).
    Unanswered(String),
    /// Refused for good.
    Refused(String),
}

/// Sends one webhook, again while it fails for a passing reason; a 2xx that dropped the event
/// (an account the runner does not serve) counts as a refusal, since the message will never be
/// stored.
async fn deliver(
    http: reqwest::Client,
    base: Arc<String>,
    composer: Arc<Composer>,
    webhook: Arc<Webhook>,
    thread: Option<Thread>,
    mut retries: Retries,
) -> Done {
    let what = match &thread {
        Some(thread) => format!("{} {}", thread.kind.name(), thread.key.external_id),
        None => format!("duplicate to {}", webhook.path),
    };
    let first = Instant::now();
    let (mut latencies, mut failed_at, mut answered_503) = (Vec::new(), Vec::new(), 0);
    let (outcome, failure) = loop {
        let started = Instant::now();
        let attempt = attempt(&http, &base, &composer, &webhook).await;
        latencies.push(started.elapsed());
        let why = match attempt {
            Attempt::Accepted if failed_at.is_empty() => break (Outcome::FirstTry, None),
            Attempt::Accepted => break (Outcome::AfterRetry, None),
            Attempt::Refused(why) => break (Outcome::Rejected, Some(format!("{what}: {why}"))),
            Attempt::Unavailable(why) => {
                answered_503 += 1;
                why
            }
            Attempt::Unanswered(why) => why,
        };
        failed_at.push(started);
        let pause = retries.pause(failed_at.len() as u32);
        if first.elapsed() + pause > retries.retry_for {
            let tries = failed_at.len();
            break (
                Outcome::GaveUp,
                Some(format!("{what}: gave up after {tries} attempts: {why}")),
            );
        }
        tokio::time::sleep(pause).await;
    };
    let acknowledged = matches!(outcome, Outcome::FirstTry | Outcome::AfterRetry);
    let (delivered, unacknowledged) = match (acknowledged, thread) {
        (true, Some(thread)) => (Some(Delivered { webhook, thread }), None),
        (false, Some(thread)) => (None, Some(thread.key)),
        (_, None) => (None, None),
    };
    Done {
        delivered,
        unacknowledged,
        outcome,
        latencies,
        failed_at,
        answered_503,
        failure,
    }
}

async fn attempt(
    http: &reqwest::Client,
    base: &str,
    composer: &Composer,
    webhook: &Webhook,
) -> Attempt {
    // Signed at each attempt: the integrator scheme's signature carries its time.
    let (header, signature) = composer.signature(webhook, Utc::now());
    let answer = http
        .post(format!("{base}{}", webhook.path))
        .header("content-type", "application/json")
        .header(header, signature)
        .body(webhook.body.clone())
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        // Refused, reset, timed out: the runner may or may not have queued it.
        Err(e) => return Attempt::Unanswered(error_chain(&e)),
    };
    let status = answer.status();
    let text = match answer.text().await {
        Ok(text) => text,
        Err(e) => return Attempt::Unanswered(format!("{status}, then {}", error_chain(&e))),
    };
    match refusal(status, &text) {
        None => Attempt::Accepted,
        Some(why) if status == StatusCode::SERVICE_UNAVAILABLE => Attempt::Unavailable(why),
        Some(why) => Attempt::Refused(why),
    }
}

/// An error with its causes: reqwest's own message alone says "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
        let mut sent = Sent::default();
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

    /// A webhook endpoint that answers 503 to the first `unavailable` requests, then 202.
    async fn flaky_runner(unavailable: u64) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        let seen = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().fallback(move || {
            let seen = Arc::clone(&seen);
            async move {
                match seen.fetch_add(1, Ordering::Relaxed) < unavailable {
                    true => (StatusCode::SERVICE_UNAVAILABLE, "{}"),
                    false => (StatusCode::ACCEPTED, r#"{"status":"queued"}"#),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn deliver_once(url: String, retry_for: Duration) -> Done {
        let composer = Arc::new(Composer::for_tests());
        let (webhook, thread) = composer.compose(1, Kind::Integration, 7, None, Utc::now());
        let retries = Retries {
            retry_for,
            jitter: Rng::seeded(1),
        };
        let http = reqwest::Client::new();
        let webhook = Arc::new(webhook);
        deliver(
            http,
            Arc::new(url),
            composer,
            webhook,
            Some(thread),
            retries,
        )
        .await
    }

    #[tokio::test]
    async fn a_503_is_sent_again_until_it_is_accepted() {
        let done = deliver_once(flaky_runner(2).await, Duration::from_secs(10)).await;
        assert_eq!(done.outcome, Outcome::AfterRetry);
        assert_eq!((done.failed_at.len(), done.latencies.len()), (2, 3));
        assert_eq!(done.answered_503, 2);
        assert!(done.delivered.is_some() && done.unacknowledged.is_none());
    }

    /// Nobody listening: refused at every attempt, given up once `retry_for` has passed, and
    /// the message is named as never acknowledged.
    #[tokio::test]
    async fn a_runner_that_never_answers_is_given_up() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let done = deliver_once(format!("http://127.0.0.1:{port}"), Duration::from_secs(1)).await;
        assert_eq!(done.outcome, Outcome::GaveUp);
        assert!(done.failed_at.len() >= 2);
        assert_eq!(done.answered_503, 0);
        assert!(done.delivered.is_none() && done.unacknowledged.is_some());
        assert!(done.failure.unwrap().contains("gave up"));
    }

    #[test]
    fn pauses_grow_to_a_cap_with_jitter() {
        let mut retries = Retries {
            retry_for: Duration::from_secs(60),
            jitter: Rng::seeded(5),
        };
        let first = retries.pause(1);
        assert!((FIRST_PAUSE / 2..=FIRST_PAUSE).contains(&first));
        let late = retries.pause(30);
        assert!((LONGEST_PAUSE / 2..=LONGEST_PAUSE).contains(&late));
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
