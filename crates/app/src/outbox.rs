//! The outbox queue's writer: replies queued for posting (by ingest, the API and the reminders
//! worker) and the steps of incident updates. The sender takes them off the queue.
//!
//! The outbox queue is a standard queue, not FIFO: replies to different customers must not
//! wait behind each other (a FIFO group blocks while one reply waits out a rate limit), and
//! order within a ticket needs no queue guarantee because each reply is posted at most once
//! and records its own state. Duplicate deliveries are absorbed by the reply's state.

use futures::future::BoxFuture;
use socialcare_domain::Message;
use socialcare_domain::ports::{Outgoing, Queue, QueueError};
use socialcare_domain::replies::OutboxJob;
use socialcare_domain::updates::UpdateJob;
use std::sync::Arc;
use std::time::Duration;

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

    /// Queues a message already made (a job of another queue this sender stands for: the
    /// API's deliveries to webhook subscribers, on the reminders queue).
    pub async fn send(
        &self,
        message: socialcare_domain::ports::Outgoing,
    ) -> Result<(), QueueError> {
        (self.0)(message).await
    }

    pub async fn enqueue_reply(&self, reply: &Message) -> Result<(), QueueError> {
        self.enqueue(&OutboxJob::of(reply)).await
    }
}
