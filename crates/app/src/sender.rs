//! The sender: posts the replies queued on the outbox to X, Facebook, Instagram and
//! integrators, and takes the steps of incident updates (one answer for all), which the same
//! queue carries: the sender holds the platform clients their public posts need.

use crate::queues::{
    Disposition, JobRecord, batch_response, delay_until, receive_records, records_of, settle_record,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::join_all;
use serde::Deserialize;
use socialcare_domain::listening::Listener;
use socialcare_domain::ports::{
    Clock, ContactStore, IncidentRecords, IncidentTickets, IncidentUpdateStore, IngestStore,
    ListeningStore, PostAllowance, Queue, QueueError, SettingsStore, TicketCommands, TicketReads,
};
use socialcare_domain::replies::{OutboxJob, Platform, SendPolicy, Step, deliver};
use socialcare_domain::updates::{UpdateJob, advance};
use std::time::Duration;
use tracing::Instrument;

/// The ports the sender uses: a reply's delivery state, and what an incident update's steps
/// read and write.
pub trait SenderStore:
    IngestStore
    + ContactStore
    + ListeningStore
    + TicketReads
    + TicketCommands
    + SettingsStore
    + IncidentRecords
    + IncidentTickets
    + IncidentUpdateStore
    + PostAllowance
{
}

impl<T> SenderStore for T where
    T: IngestStore
        + ContactStore
        + ListeningStore
        + TicketReads
        + TicketCommands
        + SettingsStore
        + IncidentRecords
        + IncidentTickets
        + IncidentUpdateStore
        + PostAllowance
{
}

/// What the outbox queue carries: a reply to post, or the next step of an incident update.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Task {
    Reply(OutboxJob),
    Update(UpdateJob),
    Listen(crate::listening::ListenJob),
}

/// Handles the job of one record (its follow-up jobs go on `queue`); what to do with the
/// record after.
pub async fn send_one<S: SenderStore, P: Platform + Listener, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    record: &JobRecord,
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> Disposition {
    let queue_message_id = record.message_id.as_str();
    let span = tracing::info_span!("send", queue_message_id);
    async {
        match serde_json::from_str(&record.body) {
            Ok(Task::Reply(job)) => post_reply(store, platform, record, &job, clock, policy).await,
            Ok(Task::Update(job)) => take_step(store, platform, queue, &job, clock).await,
            Ok(Task::Listen(job)) => poll_hashtag(store, platform, &job, clock).await,
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

async fn post_reply<S: IngestStore + ContactStore, P: Platform + Listener>(
    store: &S,
    platform: &P,
    record: &JobRecord,
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

/// Polls an Instagram hashtag with the account's page token; what it read is on the query's
/// state (a failed poll too: it says why, and when it is tried again).
async fn poll_hashtag<S: SenderStore, P: Listener>(
    store: &S,
    platform: &P,
    job: &crate::listening::ListenJob,
    clock: &dyn Clock,
) -> Disposition {
    use crate::listening::HashtagPoll;
    match crate::listening::poll_hashtag(store, platform, job, clock.now()).await {
        Ok(HashtagPoll::Polled(listened)) => {
            tracing::info!(account = %job.listen.account, query = %job.query, requests = listened.requests,
                heard = listened.heard, failed = listened.failed, "hashtag polled");
            Disposition::Delete
        }
        Ok(HashtagPoll::NotYet) => Disposition::Retry(Duration::from_secs(2)),
        Ok(HashtagPoll::Done) => Disposition::Delete,
        Err(e) => {
            tracing::warn!(account = %job.listen.account, query = %job.query, error = %e, "hashtag poll failed; it comes again");
            Disposition::Retry(Duration::from_secs(30))
        }
    }
}

/// Takes an incident update's next step and queues the one after it. Each step is a job of its
/// own (rather than this one hidden and shown again), so that a long update never reaches the
/// queue's receive limit.
async fn take_step<S: SenderStore, P: Platform + Listener, Q: Queue>(
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
    match job.outgoing(delay_until(next, now)) {
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
pub async fn send_batch<S: SenderStore, P: Platform + Listener, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    records: &[JobRecord],
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

/// The Lambda entry: posts an SQS batch and reports what stays on the queue.
pub async fn handle_sqs_event<S: SenderStore, P: Platform + Listener, Q: Queue>(
    store: &S,
    platform: &P,
    queue: &Q,
    event: SqsEvent,
    clock: &dyn Clock,
    policy: &SendPolicy,
) -> SqsBatchResponse {
    let records = records_of(event);
    batch_response(send_batch(store, platform, queue, &records, clock, policy).await)
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
    pub async fn once<Q: Queue, S: SenderStore, P: Platform + Listener>(
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
