//! What a reminder costs in queue requests: a reminder due in three days rides the queue once
//! (one send, one receive, one delete), as one due in fifteen minutes does; the waiting is
//! done by the store's due index, queried once a minute whatever is in it, not by a chain of
//! re-enqueued messages every fifteen minutes.
//!
//! The deployed schedule is simulated minute by minute on a fixed clock: the scheduler's run,
//! then one receive of the reminders worker, against the SQLite store and the SQLite queue on
//! the same clock, with every queue and index request counted.

use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::Worker;
use socialcare_app::scheduler::Scheduler;
use socialcare_domain::escalation::{Notice, Notifier};
use socialcare_domain::incidents::IncidentNotice;
use socialcare_domain::ingest::{IngestOutcome, ingest_with};
use socialcare_domain::ports::{
    Delivery, FixedClock, IngestStore, Outgoing, Queue, QueueError, ReminderStore, SettingsStore,
    StoreError, TicketReads,
};
use socialcare_domain::replies::{PostError, SendPolicy};
use socialcare_domain::sla::{Followups, Measure, Policies, Policy, Targets};
use socialcare_domain::threading::Rules;
use socialcare_domain::timers::{Reminder, ReminderKind};
use socialcare_domain::{EventKind, TicketId};
use socialcare_sqlite::{Database, QueueOptions, SqliteQueue, SqliteStore};
use socialcare_tests::events::x_mention;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The account of `x_mention`.
const ACCOUNT: &str = "1100000000000000001";
const WARN_AT_PERCENT: u8 = 75;
/// Far beyond either window: the response deadline stays out of the picture.
const RESPONSE_MINUTES: u32 = 7 * 24 * 60;

/// Friday 20 November 2026, 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

/// Requests made of a queue, by kind.
#[derive(Debug, Default)]
struct QueueCounters {
    send: AtomicU64,
    receive: AtomicU64,
    receive_with_messages: AtomicU64,
    messages_received: AtomicU64,
    delete: AtomicU64,
    change_visibility: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QueueCounts {
    send: u64,
    receive: u64,
    receive_with_messages: u64,
    messages_received: u64,
    delete: u64,
    change_visibility: u64,
}

/// Any queue, with each request counted.
#[derive(Clone)]
struct CountingQueue<Q> {
    inner: Q,
    counters: Arc<QueueCounters>,
}

impl<Q: Queue> CountingQueue<Q> {
    fn new(inner: Q) -> Self {
        Self {
            inner,
            counters: Arc::default(),
        }
    }

    fn counts(&self) -> QueueCounts {
        let c = &self.counters;
        QueueCounts {
            send: c.send.load(Ordering::SeqCst),
            receive: c.receive.load(Ordering::SeqCst),
            receive_with_messages: c.receive_with_messages.load(Ordering::SeqCst),
            messages_received: c.messages_received.load(Ordering::SeqCst),
            delete: c.delete.load(Ordering::SeqCst),
            change_visibility: c.change_visibility.load(Ordering::SeqCst),
        }
    }
}

impl<Q: Queue> Queue for CountingQueue<Q> {
    async fn send(&self, message: Outgoing) -> Result<(), QueueError> {
        self.counters.send.fetch_add(1, Ordering::SeqCst);
        self.inner.send(message).await
    }

    async fn receive(
        &self,
        max: u32,
        wait: std::time::Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        self.counters.receive.fetch_add(1, Ordering::SeqCst);
        let got = self.inner.receive(max, wait).await?;
        if !got.is_empty() {
            self.counters
                .receive_with_messages
                .fetch_add(1, Ordering::SeqCst);
            self.counters
                .messages_received
                .fetch_add(got.len() as u64, Ordering::SeqCst);
        }
        Ok(got)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.counters.delete.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(receipt).await
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        timeout: std::time::Duration,
    ) -> Result<(), QueueError> {
        self.counters
            .change_visibility
            .fetch_add(1, Ordering::SeqCst);
        self.inner.change_visibility(receipt, timeout).await
    }
}

/// A store's due index, with each request counted: what the scheduler sees.
struct CountingIndex<'a, S> {
    inner: &'a S,
    due_reminders: AtomicU64,
    mark_queued: AtomicU64,
}

impl<'a, S: ReminderStore> CountingIndex<'a, S> {
    fn new(inner: &'a S) -> Self {
        Self {
            inner,
            due_reminders: AtomicU64::new(0),
            mark_queued: AtomicU64::new(0),
        }
    }
}

impl<S: ReminderStore> ReminderStore for CountingIndex<'_, S> {
    async fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        self.due_reminders.fetch_add(1, Ordering::SeqCst);
        self.inner.due_reminders(until, limit).await
    }

    async fn mark_queued(&self, reminder: &Reminder) -> Result<(), StoreError> {
        self.mark_queued.fetch_add(1, Ordering::SeqCst);
        self.inner.mark_queued(reminder).await
    }
}

/// No team and no escalation URL: no notices, so the reminders queue carries reminders only.
struct NoNotices;

impl Notifier for NoNotices {
    async fn notify(&self, notice: &Notice) -> Result<(), PostError> {
        panic!("no notice expected, got {notice:?}");
    }
    async fn announce(&self, notice: &IncidentNotice) -> Result<(), PostError> {
        panic!("no incident notice expected, got {notice:?}");
    }
    async fn deliver(
        &self,
        _url: &str,
        _secrets: &[&str],
        event: &socialcare_domain::domain_events::DomainEvent,
    ) -> socialcare_domain::subscriptions::Posted {
        panic!("no webhook delivery expected, got {event:?}");
    }
}

/// Resolution due after `resolution_minutes`, warned at 75 %; responses a week away; no
/// follow-ups, no escalation target.
fn policies(resolution_minutes: u32) -> Policies {
    let policy = Policy {
        targets: BTreeMap::from([(
            "normal".to_string(),
            Targets {
                first_response_minutes: RESPONSE_MINUTES,
                next_response_minutes: RESPONSE_MINUTES,
                resolution_minutes,
            },
        )]),
        calendar: None,
        warn_at_percent: WARN_AT_PERCENT,
        escalation_url: None,
        followups: Followups {
            still_on_it_after_minutes: None,
            auto_close_after_minutes: None,
            survey_after_minutes: None,
            ..Followups::default()
        },
    };
    policy.check().unwrap();
    Policies {
        policies: BTreeMap::from([(ACCOUNT.to_string(), policy)]),
    }
}

/// What one simulated run did.
struct Run {
    label: &'static str,
    ticks: u64,
    index_queries: u64,
    marked_queued: u64,
    reminders: QueueCounts,
    outbox: QueueCounts,
    /// The ticks at which the scheduler moved a reminder onto the queue.
    moved_at: Vec<i64>,
    /// The ticks at which a reminder acted, with what it recorded first.
    fired_at: Vec<(i64, EventKind)>,
    warnings: Vec<(DateTime<Utc>, EventKind)>,
    breaches: usize,
    warned: bool,
    breached: bool,
}

/// A complaint at t0 under a resolution target of `resolution_minutes`, then the deployed
/// schedule every minute from t0 to the target + 2 minutes.
async fn simulate(label: &'static str, resolution_minutes: u32) -> Run {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let policies = policies(resolution_minutes);
    store.put_sla_policies(&policies).await.unwrap();
    let clock = Arc::new(FixedClock::new(t0()));
    let queues = Database::in_memory().unwrap();
    // As template.yaml declares them: standard, ten receives.
    let queue = |name: &str| {
        let options = QueueOptions {
            fifo: false,
            visibility_timeout: std::time::Duration::from_secs(30),
            max_receive_count: 10,
            dead_letter: Some(format!("{name}-dlq")),
        };
        CountingQueue::new(SqliteQueue::with_clock(
            queues.clone(),
            name,
            options,
            clock.clone(),
        ))
    };
    let reminders = queue("reminders");
    let outbox_queue = queue("outbox");
    let outbox = Outbox::new(outbox_queue.clone());
    let worker = Worker {
        configuration: Default::default(),
        notifier: NoNotices,
        policy: SendPolicy::default(),
    };

    let event = x_mention("t1", "ann", "@acme_care my router is down again", t0());
    let rules = Rules {
        policies,
        ..Rules::default()
    };
    let id: TicketId = match ingest_with(&store, &event, &rules).await.unwrap() {
        IngestOutcome::Opened { ticket_id, .. } => ticket_id,
        other => panic!("expected a new ticket, got {other:?}"),
    };

    // The next reminder: the resolution warning at 75 % of the target.
    let target = i64::from(resolution_minutes);
    let warn = target * i64::from(WARN_AT_PERCENT) / 100;
    let ticket = store.get_ticket(&id).await.unwrap().unwrap();
    assert_eq!(ticket.created_at, t0());
    let warning = Reminder {
        ticket_id: id.clone(),
        due_at: minutes(warn),
        kind: ReminderKind::SlaWarning {
            measure: Measure::Resolution,
        },
    };
    assert_eq!(ticket.timers.next(&id), Some(warning.clone()));
    let resolution = ticket.timers.resolution.unwrap();
    assert_eq!(resolution.due_at, minutes(target));
    assert_eq!(resolution.warn_at, minutes(warn));
    assert!(ticket.timers.response.unwrap().warn_at > minutes(target + 2));
    // The due index holds it (read directly: not counted).
    assert_eq!(
        store.due_reminders(minutes(warn), 10).await.unwrap(),
        vec![warning]
    );
    assert!(
        store
            .due_reminders(minutes(warn - 1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let index = CountingIndex::new(&store);
    let mut moved_at = Vec::new();
    let mut fired_at = Vec::new();
    let mut seen_events = store.ticket_events(&id).await.unwrap().len();
    let last = target + 2;
    let started = std::time::Instant::now();
    for minute in 0..=last {
        let now = minutes(minute);
        clock.set(now);
        let moved = Scheduler::default()
            .run(&index, &reminders, now)
            .await
            .unwrap();
        if moved > 0 {
            moved_at.extend(std::iter::repeat_n(minute, moved));
        }
        let handled = worker
            .once(
                &store,
                &reminders,
                &outbox,
                std::time::Duration::ZERO,
                &*clock,
            )
            .await
            .unwrap();
        if handled > 0 {
            let events = store.ticket_events(&id).await.unwrap();
            if let Some(first) = events.get(seen_events) {
                fired_at.push((minute, first.kind.clone()));
            }
            seen_events = events.len();
        }
    }
    let elapsed = started.elapsed();
    let ticks = u64::try_from(last + 1).unwrap();
    eprintln!("{label}: {ticks} ticks simulated in {elapsed:.2?}");

    let events = store.ticket_events(&id).await.unwrap();
    let warnings = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SlaWarning { .. }))
        .map(|e| (e.at, e.kind.clone()))
        .collect();
    let breaches = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SlaBreached { .. }))
        .count();
    let ticket = store.get_ticket(&id).await.unwrap().unwrap();
    let resolution = ticket.timers.resolution.unwrap();
    Run {
        label,
        ticks,
        index_queries: index.due_reminders.load(Ordering::SeqCst),
        marked_queued: index.mark_queued.load(Ordering::SeqCst),
        reminders: reminders.counts(),
        outbox: outbox_queue.counts(),
        moved_at,
        fired_at,
        warnings,
        breaches,
        warned: resolution.warned,
        breached: resolution.breached,
    }
}

/// What the timeline of a run must be: the warning at 75 % of the target, moved onto the
/// queue 15 minutes before (or at once when nearer), then the breach at the target, which
/// becomes the ticket's next reminder only once the warning acted.
fn check(run: &Run, resolution_minutes: u32) {
    let target = i64::from(resolution_minutes);
    let warn = target * i64::from(WARN_AT_PERCENT) / 100;
    let breach_moved = (warn + 1).max(target - 15);
    let breach_fired = target.max(warn + 1);
    let label = run.label;
    assert_eq!(
        run.moved_at,
        vec![(warn - 15).max(0), breach_moved],
        "{label}: moved"
    );
    assert_eq!(
        run.fired_at,
        vec![
            (
                warn,
                EventKind::SlaWarning {
                    measure: Measure::Resolution,
                    due_at: minutes(target),
                }
            ),
            (
                breach_fired,
                EventKind::SlaBreached {
                    measure: Measure::Resolution,
                    due_at: minutes(target),
                }
            ),
        ],
        "{label}: fired"
    );
    // Fired exactly once, stamped with its due time.
    assert_eq!(
        run.warnings,
        vec![(
            minutes(warn),
            EventKind::SlaWarning {
                measure: Measure::Resolution,
                due_at: minutes(target),
            }
        )],
        "{label}: warnings"
    );
    assert_eq!(run.breaches, 1, "{label}: breaches");
    assert!(run.warned && run.breached, "{label}: timers");

    let fired = run.fired_at.len() as u64;
    assert_eq!(fired, 2);
    // One index query a minute, however far away the reminder is.
    assert_eq!(run.index_queries, run.ticks, "{label}: index queries");
    assert_eq!(run.marked_queued, fired, "{label}: mark_queued");
    // One send, one receive that returns it, one delete per reminder; no re-enqueueing, no
    // visibility changes (an early delivery would show as one).
    assert_eq!(
        run.reminders,
        QueueCounts {
            send: fired,
            receive: run.ticks,
            receive_with_messages: fired,
            messages_received: fired,
            delete: fired,
            change_visibility: 0,
        },
        "{label}: reminders queue"
    );
    assert_eq!(
        run.outbox,
        QueueCounts {
            send: 0,
            receive: 0,
            receive_with_messages: 0,
            messages_received: 0,
            delete: 0,
            change_visibility: 0,
        },
        "{label}: outbox queue"
    );
}

fn per_reminder(run: &Run) -> [u64; 3] {
    let fired = run.fired_at.len() as u64;
    let q = &run.reminders;
    [
        q.send / fired,
        q.receive_with_messages / fired,
        q.delete / fired,
    ]
}

#[tokio::test]
async fn a_reminder_three_days_away_costs_one_send_one_receive_one_delete() {
    const THREE_DAYS: u32 = 3 * 24 * 60;
    // 15 minutes away: 75 % of 20 minutes.
    const SOON: u32 = 20;
    let far = simulate("3 days", THREE_DAYS).await;
    let near = simulate("15 minutes", SOON).await;

    eprintln!();
    eprintln!(
        "{:<12} {:>6} {:>8} {:>7} {:>6} {:>9} {:>9} {:>8} {:>6} {:>7}",
        "warning in",
        "ticks",
        "due_idx",
        "marked",
        "sends",
        "receives",
        "with msgs",
        "deletes",
        "chvis",
        "fired"
    );
    for run in [&far, &near] {
        let q = &run.reminders;
        eprintln!(
            "{:<12} {:>6} {:>8} {:>7} {:>6} {:>9} {:>9} {:>8} {:>6} {:>7}",
            run.label,
            run.ticks,
            run.index_queries,
            run.marked_queued,
            q.send,
            q.receive,
            q.receive_with_messages,
            q.delete,
            q.change_visibility,
            run.fired_at.len()
        );
    }
    for run in [&far, &near] {
        eprintln!(
            "{}: moved at minutes {:?}, fired at minutes {:?}",
            run.label,
            run.moved_at,
            run.fired_at.iter().map(|(m, _)| *m).collect::<Vec<_>>()
        );
    }
    eprintln!();

    check(&far, THREE_DAYS);
    check(&near, SOON);
    // The claim: the queue requests per reminder do not depend on how far away it was set.
    assert_eq!(per_reminder(&far), [1, 1, 1]);
    assert_eq!(per_reminder(&far), per_reminder(&near));
    assert_eq!(far.fired_at.len(), near.fired_at.len());
}
