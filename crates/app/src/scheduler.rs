//! The scheduler: every minute, moves the reminders coming due from the due index onto the
//! reminders queue, queues the notice of each incident opened since, and brings the report's
//! counters up to date; every hour, deletes the closed tickets whose retention passed.
//!
//! SQS delays reach 15 minutes, so a reminder waits in the store's due index until it is that
//! close, then rides the queue with the rest of the wait as its delay: one send, one receive,
//! one delete per reminder however far away it was set, and one index query per minute.

use crate::queues::{MAX_DELAY, delay_until};
use crate::reminders::ReminderJob;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use socialcare_domain::IncidentId;
use socialcare_domain::incidents::{Incident, IncidentNotice};
use socialcare_domain::ports::{
    CommitError, IncidentRecords, MetricsStore, Outgoing, Queue, QueueError, ReminderStore,
    RetentionStore, SettingsStore, StoreError, TicketLists,
};
use socialcare_domain::retention::{Purged, Retention, purge_expired};
use socialcare_domain::timers::Reminder;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Moves the reminders due within `lookahead` onto the queue.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pub lookahead: Duration,
    /// Reminders read per index query.
    pub page: u32,
    /// The active incidents this process found told: told is for good, so each is read once,
    /// not again every run while it stays active.
    told: Arc<Mutex<HashSet<IncidentId>>>,
    /// When this process last purged every ticket whose retention had passed.
    purged_at: Arc<Mutex<Option<DateTime<Utc>>>>,
}

/// How often the scheduler deletes the closed tickets whose retention passed.
pub const PURGE_EVERY: chrono::Duration = chrono::Duration::hours(1);
/// Tickets one purge deletes at most; the rest go in the next run.
const PURGE_MOST: usize = 200;
/// How many closed tickets one purge reads at most (keys-only index pages and a batched read
/// of the tickets: about 10,000 read units an hour at most); the next goes on from there.
const PURGE_READ_MOST: usize = 20_000;

impl Default for Scheduler {
    fn default() -> Self {
        Self {
            lookahead: MAX_DELAY,
            page: 100,
            told: Default::default(),
            purged_at: Default::default(),
        }
    }
}

/// Why a scheduler run stopped early; what it had moved stays moved.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl Scheduler {
    /// One run: every reminder due by `now + lookahead` goes on the queue with the rest of its
    /// wait as the delay, then leaves the due index. Returns how many it moved.
    pub async fn run<S: ReminderStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        now: DateTime<Utc>,
    ) -> Result<usize, ScheduleError> {
        let until = now + chrono::Duration::from_std(self.lookahead).unwrap_or_default();
        let mut moved = 0;
        // A bound on one run; what is left waits for the next minute.
        for _ in 0..50 {
            let due = store.due_reminders(until, self.page).await?;
            // Sent (ten a request) before they are marked queued: a crash in between sends
            // them twice, and the second finds each stale; the other order could lose them.
            let messages = due
                .iter()
                .map(|reminder| reminder_message(reminder, now))
                .collect::<Result<Vec<_>, _>>()?;
            queue.send_all(messages).await?;
            let marked = join_all(due.iter().map(|reminder| store.mark_queued(reminder))).await;
            for result in marked {
                result?;
                moved += 1;
            }
            if due.len() < self.page as usize {
                break;
            }
        }
        Ok(moved)
    }
}

impl Scheduler {
    /// Whether a purge is due: none yet in this process, or the last a [`PURGE_EVERY`] ago.
    pub fn purge_due(&self, now: DateTime<Utc>) -> bool {
        let last = *self.purged_at.lock().unwrap_or_else(|p| p.into_inner());
        last.is_none_or(|last| now - last >= PURGE_EVERY)
    }

    /// Deletes the closed tickets whose retention passed, when a purge is due; a purge that
    /// reached its bound leaves the rest to the next run, not to the next hour.
    pub async fn purge<S: TicketLists + RetentionStore>(
        &self,
        store: &S,
        retention: &Retention,
        now: DateTime<Utc>,
    ) -> Result<Purged, ScheduleError> {
        if !self.purge_due(now) {
            return Ok(Purged::default());
        }
        let purged = purge_expired(store, retention, now, PURGE_MOST, PURGE_READ_MOST).await?;
        if purged.tickets < PURGE_MOST {
            *self.purged_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
        }
        Ok(purged)
    }

    /// Adds the changes written since the last run to the report's counters, where the store
    /// adds them from a change log (DynamoDB's stream keeps a day: a run a minute keeps the
    /// counters near current and nothing is trimmed before it is counted). Returns how many
    /// changes it added.
    pub async fn count_report<S: MetricsStore>(&self, store: &S) -> Result<usize, ScheduleError> {
        Ok(store.catch_up().await?)
    }

    /// Queues the notice of every active incident whose account's escalation target has not
    /// been told yet, then records that it was (once queued: the target dedupes a notice sent
    /// twice by its id). An account without a target is recorded as told. Returns how many
    /// notices it queued.
    pub async fn announce_incidents<S: IncidentRecords + SettingsStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        now: DateTime<Utc>,
    ) -> Result<usize, ScheduleError> {
        let told = |id: &IncidentId| {
            self.told
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(id)
        };
        let untold: Vec<_> = store
            .active_incidents()
            .await?
            .into_iter()
            .filter(|active| !told(&active.id))
            .collect();
        if untold.is_empty() {
            return Ok(0);
        }
        let remember = |id: &IncidentId| {
            self.told
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone());
        };
        let policies = store.sla_policies().await?;
        let mut queued = 0;
        for active in untold {
            let Some(incident) = store.get_incident(&active.id).await? else {
                continue;
            };
            if incident.notified_at.is_some() {
                remember(&incident.id);
                continue;
            }
            let url = policies
                .of(&incident.account)
                .and_then(|policy| policy.escalation_url.clone());
            if let Some(url) = url {
                let notice = IncidentNotice::opened(&incident, &url);
                let job = ReminderJob::Incident(Box::new(notice));
                queue.send(job.outgoing(Duration::ZERO)?).await?;
                queued += 1;
            }
            let told = Incident {
                notified_at: Some(now),
                version: incident.version + 1,
                ..incident.clone()
            };
            match store.put_incident(&told, incident.version).await {
                Ok(()) => remember(&incident.id),
                // Changed meanwhile (resolved, or told by another run): the next run looks again.
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {}
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Ok(queued)
    }
}

fn reminder_message(reminder: &Reminder, now: DateTime<Utc>) -> Result<Outgoing, QueueError> {
    ReminderJob::Reminder(reminder.clone()).outgoing(delay_until(reminder.due_at, now))
}
