//! What the queue consumers (ingest, sender, reminders) share: a record as the queue delivered
//! it, what to do with it after, and the answer to an SQS event source.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use socialcare_domain::ports::{Queue, QueueError};
use socialcare_domain::replies::wait_until;
use std::time::Duration;

/// A queued event for the inbound FIFO queue: one customer's messages share a group (`group`,
/// their customer key) and the dedupe id (`dedupe`, the message's) drops a copy sent again
/// within five minutes (ingest drops later ones). Both are digests: SQS limits their length
/// and alphabet.
pub fn inbound(
    event: &socialcare_domain::QueuedEvent,
    group: &str,
    dedupe: &str,
) -> Result<socialcare_domain::ports::Outgoing, QueueError> {
    use socialcare_domain::ids::key_digest;
    let body = serde_json::to_string(event)
        .map_err(|e| QueueError::invalid(format!("encoding the queued event: {e}")))?;
    Ok(socialcare_domain::ports::Outgoing::fifo(
        body,
        key_digest(group),
        key_digest(dedupe),
    ))
}

/// A normalized message, received at `received_at`, for the inbound queue: in its customer's
/// group, deduplicated by its own key (what every intake queues: webhooks, e-mail, searches).
pub fn inbound_message(
    message: socialcare_domain::NormalizedMessage,
    received_at: DateTime<Utc>,
) -> Result<socialcare_domain::ports::Outgoing, QueueError> {
    let (group, dedupe) = (message.customer_key(), message.dedupe_key());
    let event = socialcare_domain::QueuedEvent::Message(socialcare_domain::InboundEvent {
        message,
        received_at,
    });
    inbound(&event, &group, &dedupe)
}

/// A bounce or complaint, received at `received_at`, for the inbound queue: in the group of the
/// reply it is about, deduplicated by what it says of it.
pub fn inbound_feedback(
    feedback: socialcare_domain::mail_feedback::MailFeedback,
    received_at: DateTime<Utc>,
) -> Result<socialcare_domain::ports::Outgoing, QueueError> {
    let group = format!("feedback:{}:{}", feedback.mailbox, feedback.message_id);
    let dedupe = format!("{group}:{}", feedback.kind.as_str());
    let event =
        socialcare_domain::QueuedEvent::Feedback(socialcare_domain::mail_feedback::FeedbackEvent {
            feedback,
            received_at,
        });
    inbound(&event, &group, &dedupe)
}

/// The longest delay a queue takes.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The delay that shows a message at `at` (at once when that has passed), at most
/// [`MAX_DELAY`]: what is further away comes early and waits again.
pub fn delay_until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    match at > now {
        true => wait_until(at, now).min(MAX_DELAY),
        false => Duration::ZERO,
    }
}

/// One job as the queue delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
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

/// Applies a job's disposition to its queue; the record's id when it stays on the queue.
pub(crate) async fn settle_record<Q: Queue>(
    queue: &Q,
    record: &JobRecord,
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
pub(crate) fn records_of(event: SqsEvent) -> Vec<JobRecord> {
    event
        .records
        .into_iter()
        .map(|message| JobRecord {
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
) -> Result<Vec<JobRecord>, QueueError> {
    Ok(queue
        .receive(10, wait)
        .await?
        .into_iter()
        .map(|delivery| JobRecord {
            message_id: delivery.message_id,
            receipt: delivery.receipt,
            body: delivery.body,
            receive_count: delivery.receive_count,
        })
        .collect())
}

/// The answer to an SQS event source: the ids of the records to deliver again.
pub(crate) fn batch_response(kept: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = kept
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}
