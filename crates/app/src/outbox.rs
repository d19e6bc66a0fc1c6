//! The outbox: replies queued for posting, and the sender that posts them. The same queue
//! carries the steps of incident updates (one answer for all), which the sender takes too: it
//! holds the platform clients their public posts need.
//!
//! The outbox queue is a standard queue, not FIFO: replies to different customers must not
//! wait behind each other (a FIFO group blocks while one reply waits out a rate limit), and
//! order within a ticket needs no queue guarantee because each reply is posted at most once
//! and records its own state. Duplicate deliveries are absorbed by the reply's state.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::{BoxFuture, join_all};
use serde::Deserialize;
use socialcare_domain::Message;
use socialcare_domain::ports::{Clock, IngestStore, Outgoing, Queue, QueueError, TicketStore};
use socialcare_domain::replies::{OutboxJob, Platform, SendPolicy, Step, deliver, wait_until};
use socialcare_domain::updates::{UpdateJob, advance};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

type SendFn =
    dyn Fn(Outgoing) -> BoxFuture<'static, Result<(), QueueError>> + std::marker::Send + Sync;

/// Puts reply jobs on the outbox queue, whichever queue adapter is behind it.
#[derive(Clone)]
pub struct Outbox(Arc<SendFn>);

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    pub fn new<Q: Queue + Clone + 'static>(queue: Q) -> Self {
        Self(Arc::new(move |message| {
            let queue = queue.clone();
            Box::pin(async move { queue.send(message).await })
        }))
    }

    /// Queues the job of `reply`; returns once the queue holds it.
    pub async fn enqueue(&self, job: &OutboxJob) -> Result<(), QueueError> {
        (self.0)(job.outgoing()?).await
    }

    /// Queues the next step of an incident update, to run after `delay`.
    pub async fn enqueue_update(&self, job: &UpdateJob, delay: Duration) -> Result<(), QueueError> {
        (self.0)(job.outgoing(delay)?).await
    }

    pub async fn enqueue_reply(&self, reply: &Message) -> Result<(), QueueError> {
        self.enqueue(&OutboxJob::of(reply)).await
    }
}

/// One job as the queue delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// What to do with a job after it was handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done: delete it.
    Delete,
    /// Show it again after this long.
    Retry(Duration),
    /// Leave it to the queue's redrive policy (the dead-letter queue).
    DeadLetter,
}

/// What the outbox queue carries: a reply to post, or the next step of an incident update.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Task {
    Reply(OutboxJob),
    Update(UpdateJob),
}

/// Handles the job of one record (its follow-up jobs go on `queue`); what to do with the
/// record after.
pub async fn send_one<S: TicketStore, P: Platform, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    record: &OutboxRecord,
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> Disposition {
    let queue_message_id = record.message_id.as_str();
    let span = tracing::info_span!("send", queue_message_id);
    async {
        match serde_json::from_str(&record.body) {
            Ok(Task::Reply(job)) => post_reply(store, platform, record, &job, clock, policy).await,
            Ok(Task::Update(job)) => take_step(store, platform, queue, &job, clock).await,
            Err(e) => {
                // No redelivery will make it readable.
                tracing::error!(queue_message_id, error = %e, "unreadable outbox job dropped");
                Disposition::Delete
            }
        }
    }
    .instrument(span)
    .await
}

async fn post_reply<S: IngestStore, P: Platform>(
    store: &S,
    platform: &P,
    record: &OutboxRecord,
    job: &OutboxJob,
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> Disposition {
    let queue_message_id = record.message_id.as_str();
    match deliver(
        store,
        platform,
        job,
        record.receive_count,
        clock.now(),
        policy,
    )
    .await
    {
        Ok(Step::Done(state)) => {
            tracing::info!(queue_message_id, ticket_id = %job.ticket_id, message_id = %job.message_id, state = ?state, "reply settled");
            Disposition::Delete
        }
        Ok(Step::RetryIn(wait)) => {
            tracing::info!(queue_message_id, message_id = %job.message_id, wait_seconds = wait.as_secs(), "reply waits");
            Disposition::Retry(wait)
        }
        Ok(Step::DeadLetter) => {
            tracing::error!(queue_message_id, message_id = %job.message_id, "reply failed for good; to the dead-letter queue");
            Disposition::DeadLetter
        }
        Err(e) => {
            tracing::error!(queue_message_id, error = %e, "sender could not reach the store");
            Disposition::Retry(Duration::from_secs(5))
        }
    }
}

/// Takes an incident update's next step and queues the one after it. Each step is a job of its
/// own (rather than this one hidden and shown again), so that a long update never reaches the
/// queue's receive limit.
async fn take_step<S: TicketStore, P: Platform, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    job: &UpdateJob,
    clock: &dyn Clock,
) -> Disposition {
    let now = clock.now();
    let step = match advance(store, platform, queue, job, now).await {
        Ok(step) => step,
        Err(e) => {
            tracing::error!(update_id = %job.update_id, error = %e, "incident update step failed; it comes again");
            return Disposition::Retry(Duration::from_secs(5));
        }
    };
    crate::metrics::report(&step.samples);
    tracing::info!(incident_id = %job.incident_id, update_id = %job.update_id, replies = step.queued.len(), next = ?step.next, "incident update step");
    let Some(next) = step.next else {
        return Disposition::Delete;
    };
    let delay = match next > now {
        true => wait_until(next, now).min(crate::reminders::MAX_DELAY),
        false => Duration::ZERO,
    };
    match job.outgoing(delay) {
        Ok(message) => match queue.send(message).await {
            Ok(()) => Disposition::Delete,
            Err(e) => {
                tracing::warn!(update_id = %job.update_id, error = %e, "could not queue the next step; this one comes again");
                Disposition::Retry(Duration::from_secs(5))
            }
        },
        Err(e) => {
            tracing::error!(update_id = %job.update_id, error = %e, "could not write the next step");
            Disposition::Delete
        }
    }
}

/// Posts a batch concurrently and applies each disposition to the queue; returns the ids of
/// the records that must stay on the queue.
pub async fn send_batch<S: TicketStore, P: Platform, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    records: &[OutboxRecord],
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> Vec<String> {
    let handled = join_all(records.iter().map(|record| async move {
        let disposition = send_one(store, platform, queue, record, clock, policy).await;
        settle_record(queue, record, &disposition).await
    }))
    .await;
    handled.into_iter().flatten().collect()
}

/// Applies a job's disposition to its queue; the record's id when it stays on the queue.
pub(crate) async fn settle_record<Q: Queue>(
    queue: &Q,
    record: &OutboxRecord,
    disposition: &Disposition,
) -> Option<String> {
    let queued = match disposition {
        Disposition::Delete => queue.delete(&record.receipt).await,
        // Hiding it is how the wait happens: no loop spends requests meanwhile.
        Disposition::Retry(wait) => queue.change_visibility(&record.receipt, *wait).await,
        Disposition::DeadLetter => Ok(()),
    };
    if let Err(e) = &queued {
        tracing::warn!(queue_message_id = %record.message_id, error = %e, "queue call failed");
    }
    // A job whose delete failed comes back, and the job's own state absorbs it.
    let kept = *disposition != Disposition::Delete || queued.is_err();
    kept.then(|| record.message_id.clone())
}

/// The records of an SQS event, with their receive counts.
pub(crate) fn records_of(event: SqsEvent) -> Vec<OutboxRecord> {
    event
        .records
        .into_iter()
        .map(|message| OutboxRecord {
            receive_count: message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1),
            message_id: message.message_id.unwrap_or_default(),
            receipt: message.receipt_handle.unwrap_or_default(),
            body: message.body.unwrap_or_default(),
        })
        .collect()
}

/// Up to ten records from `queue`, waiting up to `wait` for the first.
pub(crate) async fn receive_records<Q: Queue>(
    queue: &Q,
    wait: Duration,
) -> Result<Vec<OutboxRecord>, QueueError> {
    Ok(queue
        .receive(10, wait)
        .await?
        .into_iter()
        .map(|delivery| OutboxRecord {
            message_id: delivery.message_id,
            receipt: delivery.receipt,
            body: delivery.body,
            receive_count: delivery.receive_count,
        })
        .collect())
}

/// The Lambda entry: posts an SQS batch and reports what stays on the queue.
pub async fn handle_sqs_event<S: TicketStore, P: Platform, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    event: SqsEvent,
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> SqsBatchResponse {
    let records = records_of(event);
    crate::ingest::batch_response(send_batch(store, platform, queue, &records, clock, policy).await)
}

/// The local runner's sender: receive a batch from the outbox queue and post it.
#[derive(Debug, Clone)]
pub struct Sender {
    /// How long a receive waits for the first job.
    pub wait: Duration,
    pub policy: SendPolicy,
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(1),
            policy: SendPolicy::default(),
        }
    }
}

impl Sender {
    /// One receive-post round; returns how many jobs it received.
    pub async fn once<Q: Queue, S: TicketStore, P: Platform>(
        &self,
        queue: &Q,
        store: &S,
        platform: &P,
        clock: &dyn Clock,
    ) -> Result<usize, QueueError> {
        let records = receive_records(queue, self.wait).await?;
        send_batch(store, platform, queue, &records, clock, &self.policy).await;
        Ok(records.len())
    }
}
