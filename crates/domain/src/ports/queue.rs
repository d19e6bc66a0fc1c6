//! The queue port: what the handlers send to and receive from the inbound, outbox and
//! reminders queues (SQS, or SQLite-backed queues).

use super::Failure;
use std::future::Future;
use std::time::Duration;

/// The queue could not be reached or refused the request (nothing was enqueued); [`Failure`]
/// says how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue failed ({failure}): {detail}")]
pub struct QueueError {
    pub failure: Failure,
    pub detail: String,
}

impl QueueError {
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Failure::Unavailable, detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Failure::Invalid, detail)
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub body: String,
    /// FIFO queues: messages of one group are delivered in order, one at a time.
    pub group_id: Option<String>,
    /// FIFO queues: a second message with the same id within five minutes is dropped.
    pub dedupe_id: Option<String>,
    /// Standard queues: not delivered before this delay (at most 15 minutes).
    pub delay: Duration,
}

impl Outgoing {
    pub fn fifo(body: String, group_id: String, dedupe_id: String) -> Self {
        Self {
            body,
            group_id: Some(group_id),
            dedupe_id: Some(dedupe_id),
            delay: Duration::ZERO,
        }
    }
}

/// A received message; hidden from other consumers until its visibility timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    /// Handle for `delete` and `change_visibility` of this receipt.
    pub receipt: String,
    pub body: String,
    pub group_id: Option<String>,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

pub trait Queue: Send + Sync {
    /// Returns once the message is durably stored by the queue.
    fn send(&self, message: Outgoing) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Sends several in as few requests as the queue takes (SQS: ten a request); returns once
    /// all are stored. An error may leave some sent: what is sent this way is sent again
    /// safely (its consumers are idempotent).
    fn send_all(
        &self,
        messages: Vec<Outgoing>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        async move {
            for message in messages {
                self.send(message).await?;
            }
            Ok(())
        }
    }

    /// Up to `max` visible messages, waiting up to `wait` for the first one.
    fn receive(
        &self,
        max: u32,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, QueueError>> + Send;

    fn delete(&self, receipt: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Deletes several received messages in as few requests as the queue takes (SQS: ten a
    /// request). An error may leave some deleted: those come back only if not deleted.
    fn delete_all(
        &self,
        receipts: Vec<String>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        async move {
            for receipt in receipts {
                self.delete(&receipt).await?;
            }
            Ok(())
        }
    }

    /// Makes a received message visible again after `timeout` (zero: at once).
    fn change_visibility(
        &self,
        receipt: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}
