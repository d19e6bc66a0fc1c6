//! The reminders worker: acts on reminders as they come due (SLA escalation, follow-ups,
//! surveys, auto-close) and sends escalation and incident notices.

use crate::configuration::ConfigurationCache;
use crate::outbox::Outbox;
use crate::queues::{
    Disposition, JobRecord, batch_response, receive_records, records_of, settle_record,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use socialcare_domain::escalation::{Notice, Notifier};
use socialcare_domain::incidents::IncidentNotice;
use socialcare_domain::ports::{
    Clock, CommitError, Outgoing, Queue, QueueError, SettingsStore, StoreError, TicketCommands,
    TicketReads, WebhookStore,
};
use socialcare_domain::reminders::{
    self, Decision, firing_event_id, notices_of, notification_failed_event, notified_event,
    pending_replies,
};
use socialcare_domain::replies::{OutboxJob, PostError, SendPolicy, backoff, wait_until};
use socialcare_domain::retry::{Round, optimistic};
use socialcare_domain::sla::Policies;
use socialcare_domain::timers::Reminder;
use std::time::Duration;
use tracing::Instrument;

/// What the reminders queue carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderJob {
    Reminder(Reminder),
    Notice(Box<Notice>),
    /// An incident opened: its account's escalation target is told once.
    Incident(Box<IncidentNotice>),
    /// An event for a webhook subscriber (see [`crate::deliveries`]).
    Delivery(crate::deliveries::DeliveryJob),
}

impl ReminderJob {
    /// The job as a reminders queue message, shown after `delay`.
    pub fn outgoing(&self, delay: Duration) -> Result<Outgoing, QueueError> {
        let body = serde_json::to_string(self).map_err(|e| QueueError::invalid(e.to_string()))?;
        Ok(Outgoing {
            body,
            group_id: None,
            dedupe_id: None,
            delay,
        })
    }
}

/// Why a reminder job did not finish; it comes again.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the ticket kept changing")]
    KeptChanging,
}

/// The ports the worker uses: the ticket it acts on, its events, and the service levels.
pub trait WorkerStore: TicketReads + TicketCommands + SettingsStore + WebhookStore {}

impl<T> WorkerStore for T where T: TicketReads + TicketCommands + SettingsStore + WebhookStore {}

/// What the worker needs besides the store and the queues.
pub struct Worker<N> {
    /// The teams (their leads and escalation) in force.
    pub configuration: ConfigurationCache,
    pub notifier: N,
    /// Backoff and dead-lettering of notices (the same as replies').
    pub policy: SendPolicy,
}

const STORE_RETRY: Duration = Duration::from_secs(5);

impl<N: Notifier> Worker<N> {
    /// Handles one job under `policies`; what to do with its record after.
    pub async fn handle<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        record: &JobRecord,
        policies: &Policies,
        clock: &dyn Clock,
    ) -> Disposition {
        let queue_message_id = record.message_id.as_str();
        let span = tracing::info_span!("remind", queue_message_id);
        self.handle_job(store, queue, outbox, record, policies, clock)
            .instrument(span)
            .await
    }

    async fn handle_job<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        record: &JobRecord,
        policies: &Policies,
        clock: &dyn Clock,
    ) -> Disposition {
        let queue_message_id = record.message_id.as_str();
        let job: ReminderJob = match serde_json::from_str(&record.body) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(queue_message_id, error = %e, "unreadable reminder job dropped");
                return Disposition::Delete;
            }
        };
        let result = match &job {
            ReminderJob::Reminder(reminder) => {
                self.remind(store, queue, outbox, reminder, policies, clock)
                    .await
            }
            ReminderJob::Notice(notice) => {
                self.notify(store, notice, record.receive_count, clock.now())
                    .await
            }
            ReminderJob::Incident(notice) => Ok(self
                .announce(notice, record.receive_count, clock.now())
                .await),
            ReminderJob::Delivery(job) => self.deliver(store, queue, job, clock.now()).await,
        };
        result.unwrap_or_else(|e| {
            tracing::error!(queue_message_id, error = %e, "reminder job failed; it comes again");
            Disposition::Retry(STORE_RETRY)
        })
    }

    /// One attempt of an event's delivery; a retry rides a new job with its delay (a day of
    /// retries is more than the queue's receives before its dead-letter queue).
    async fn deliver<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        job: &crate::deliveries::DeliveryJob,
        now: DateTime<Utc>,
    ) -> Result<Disposition, JobError> {
        use crate::deliveries::{DeliveryError, Next, deliver};
        let next = deliver(store, &self.notifier, job, now)
            .await
            .map_err(|e| match e {
                DeliveryError::Store(e) => JobError::Store(e),
                DeliveryError::Queue(e) => JobError::Queue(e),
                DeliveryError::KeptChanging => JobError::KeptChanging,
            })?;
        if let Next::Again(wait) = next {
            queue
                .send(ReminderJob::Delivery(job.clone()).outgoing(wait)?)
                .await?;
        }
        Ok(Disposition::Delete)
    }

    async fn remind<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        reminder: &Reminder,
        policies: &Policies,
        clock: &dyn Clock,
    ) -> Result<Disposition, JobError> {
        let configuration = self.configuration.current().await;
        let teams = &configuration.rules.teams;
        optimistic(
            move || async move {
            let Some(detail) = store
                .ticket_detail(&reminder.ticket_id)
                .await?
            else {
                return Ok(Round::Done(Disposition::Delete));
            };
            let policy = policies.of(&detail.ticket.account);
            let decision = reminders::decide(&detail, reminder, policy, teams, clock.now());
            let firing = match decision {
                Decision::Early(wait) => return Ok(Round::Done(Disposition::Retry(wait))),
                Decision::Stale => {
                    // A redelivery after the write but before the queueing finishes the job.
                    let events = store
                        .ticket_events(&reminder.ticket_id)
                        .await?;
                    let id = firing_event_id(reminder);
                    if events.iter().any(|event| event.id == id) {
                        let replies = pending_replies(&detail, reminder);
                        let notices = notices_of(&detail.ticket, reminder, policy, teams);
                        let replies: Vec<_> = replies.into_iter().cloned().collect();
                        queue_effects(queue, outbox, &replies, &notices).await?;
                    }
                    return Ok(Round::Done(Disposition::Delete));
                }
                Decision::Act(firing) => firing,
            };
            match store.update_ticket(&firing.update).await {
                Ok(()) => {
                    tracing::info!(ticket_id = %reminder.ticket_id, kind = reminder.kind.key(), due_at = %reminder.due_at, "reminder acted");
                    crate::metrics::report(&firing.update.samples);
                    queue_effects(queue, outbox, &firing.update.replies, &firing.notices).await?;
                    Ok(Round::Done(Disposition::Delete))
                }
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
            || JobError::KeptChanging,
        )
        .await
    }

    async fn notify<S: WorkerStore>(
        &self,
        store: &S,
        notice: &Notice,
        receive_count: u32,
        now: DateTime<Utc>,
    ) -> Result<Disposition, JobError> {
        let done = notified_event(notice);
        let events = store.ticket_events(&notice.ticket_id).await?;
        if events.iter().any(|event| event.id == done.id) {
            return Ok(Disposition::Delete);
        }
        let record = |event| async move {
            match store.add_event(&event).await {
                Ok(()) | Err(CommitError::Duplicate) => Ok(()),
                Err(e) => Err(JobError::from(e)),
            }
        };
        match self.notifier.notify(notice).await {
            Ok(()) => {
                record(done).await?;
                Ok(Disposition::Delete)
            }
            Err(PostError::RateLimited { retry_at, .. }) => {
                Ok(Disposition::Retry(wait_until(retry_at, now)))
            }
            Err(PostError::Permanent(error)) => {
                record(notification_failed_event(notice, error)).await?;
                Ok(Disposition::Delete)
            }
            Err(PostError::Transient(error)) | Err(PostError::Unknown(error)) => {
                if receive_count >= self.policy.max_receives {
                    let error = format!("gave up after {receive_count} attempts: {error}");
                    record(notification_failed_event(notice, error)).await?;
                    return Ok(Disposition::DeadLetter);
                }
                Ok(Disposition::Retry(backoff(receive_count, &self.policy)))
            }
        }
    }

    /// Tells the escalation target an incident opened; retried like notices, then given up.
    async fn announce(
        &self,
        notice: &IncidentNotice,
        receive_count: u32,
        now: DateTime<Utc>,
    ) -> Disposition {
        let incident_id = notice.incident_id.as_str();
        match self.notifier.announce(notice).await {
            Ok(()) => {
                tracing::info!(incident_id, "escalation target told of the incident");
                Disposition::Delete
            }
            Err(PostError::RateLimited { retry_at, .. }) => {
                Disposition::Retry(wait_until(retry_at, now))
            }
            Err(PostError::Permanent(error)) => {
                tracing::error!(incident_id, %error, "the incident notice was refused for good");
                Disposition::Delete
            }
            Err(PostError::Transient(error)) | Err(PostError::Unknown(error)) => {
                if receive_count >= self.policy.max_receives {
                    tracing::error!(incident_id, %error, "gave up on the incident notice");
                    return Disposition::DeadLetter;
                }
                Disposition::Retry(backoff(receive_count, &self.policy))
            }
        }
    }

    /// Handles a batch concurrently and applies each disposition to the queue; returns the
    /// ids of the records that stay on the queue.
    pub async fn handle_batch<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        records: &[JobRecord],
        clock: &dyn Clock,
    ) -> Vec<String> {
        // The service levels are read once per batch, not once per reminder.
        let policies = match store.sla_policies().await {
            Ok(policies) => Some(policies),
            Err(e) => {
                tracing::error!(error = %e, "could not read the service levels; the batch comes again");
                None
            }
        };
        let policies = &policies;
        let handled = join_all(records.iter().map(|record| async move {
            let disposition = match policies {
                Some(policies) => {
                    self.handle(store, queue, outbox, record, policies, clock)
                        .await
                }
                None => Disposition::Retry(STORE_RETRY),
            };
            settle_record(queue, record, &disposition).await
        }))
        .await;
        handled.into_iter().flatten().collect()
    }

    /// The Lambda entry: an SQS batch in, the records to deliver again out.
    pub async fn handle_sqs_event<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        event: SqsEvent,
        clock: &dyn Clock,
    ) -> SqsBatchResponse {
        let records = records_of(event);
        batch_response(
            self.handle_batch(store, queue, outbox, &records, clock)
                .await,
        )
    }

    /// The local runner's round: receive a batch from the reminders queue and handle it.
    pub async fn once<S: WorkerStore, Q: Queue>(
        &self,
        store: &S,
        queue: &Q,
        outbox: &Outbox,
        wait: Duration,
        clock: &dyn Clock,
    ) -> Result<usize, QueueError> {
        let records = receive_records(queue, wait).await?;
        self.handle_batch(store, queue, outbox, &records, clock)
            .await;
        Ok(records.len())
    }
}

async fn queue_effects<Q: Queue>(
    queue: &Q,
    outbox: &Outbox,
    replies: &[socialcare_domain::Message],
    notices: &[Notice],
) -> Result<(), QueueError> {
    for reply in replies {
        outbox.enqueue(&OutboxJob::of(reply)).await?;
    }
    for notice in notices {
        let job = ReminderJob::Notice(Box::new(notice.clone()));
        queue.send(job.outgoing(Duration::ZERO)?).await?;
    }
    Ok(())
}
