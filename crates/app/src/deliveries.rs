//! Events to webhook subscribers. Each event a subscription wants becomes a delivery record
//! (once: the record's key is the subscription and the event's id) and a job on the reminders
//! queue, so a slow subscriber slows nothing else. The reminders worker POSTs it, signed with
//! the subscription's secret; a refusal is tried again with exponential backoff (the first
//! retry within 30 s), the subscriber's `Retry-After` honoured, for a day from the first
//! attempt, then the delivery is dead (its record says so; `redeliver` sends it again). A
//! subscription all of whose deliveries failed for a day is disabled.

use crate::queues::MAX_DELAY;
use crate::reminders::ReminderJob;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::escalation::Notifier;
use socialcare_domain::ports::{
    CommitError, Outgoing, Queue, QueueError, StoreError, WebhookStore,
};
use socialcare_domain::retry::{Round, optimistic};
use socialcare_domain::subscriptions::{
    Attempt, DeliveryOutcome, EventDelivery, Posted, WebhookSubscription,
};
use std::time::Duration;

/// How long a delivery is tried again from its first attempt, and a subscription may fail
/// before it is disabled.
pub const RETRY_FOR: chrono::Duration = chrono::Duration::hours(24);
/// How long a worker's claim on a delivery holds (longer than a POST's timeout).
const CLAIM_FOR: chrono::Duration = chrono::Duration::minutes(2);
/// The wait before the first retry; each after waits twice the one before (up to the
/// queue's longest delay), give or take a fifth.
const FIRST_RETRY: Duration = Duration::from_secs(10);

/// One event's delivery to one subscription, as a reminders-queue job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub subscription_id: String,
    pub event_id: String,
}

impl DeliveryJob {
    fn outgoing(&self, delay: Duration) -> Result<Outgoing, QueueError> {
        ReminderJob::Delivery(self.clone()).outgoing(delay)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the delivery's record kept changing")]
    KeptChanging,
}

/// Records and queues the deliveries of `events` to the subscriptions that want them; an
/// event already recorded is queued again only while it is pending (a batch read twice
/// delivers nothing twice). Returns how many it queued.
pub async fn fan_out<S: WebhookStore, Q: Queue>(
    store: &S,
    queue: &Q,
    events: &[DomainEvent],
) -> Result<usize, DeliveryError> {
    if events.is_empty() {
        return Ok(0);
    }
    let subscriptions = store.list_subscriptions().await?;
    let mut jobs = Vec::new();
    for event in events {
        for subscription in subscriptions.iter().filter(|s| s.wants(event.body.kind())) {
            let delivery = EventDelivery::pending(&subscription.id, event);
            let queue_it = match store.create_delivery(&delivery).await {
                Ok(()) => true,
                Err(CommitError::Duplicate) | Err(CommitError::Conflict) => store
                    .get_delivery(&subscription.id, &event.id)
                    .await?
                    .is_some_and(|d| {
                        d.outcome == DeliveryOutcome::Pending && d.attempts.is_empty()
                    }),
                Err(CommitError::Store(e)) => return Err(e.into()),
            };
            if queue_it {
                let job = DeliveryJob {
                    subscription_id: subscription.id.clone(),
                    event_id: event.id.clone(),
                };
                jobs.push(job.outgoing(Duration::ZERO)?);
            }
        }
    }
    let queued = jobs.len();
    queue.send_all(jobs).await?;
    Ok(queued)
}

/// What is left to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Try again after this long (on a new job: the queue's own retries are not a day's).
    Again(Duration),
}

/// Makes the job's attempt, unless its delivery is done or waits for the subscriber's
/// `Retry-After`; records it, and says when to try again.
pub async fn deliver<S: WebhookStore, N: Notifier>(
    store: &S,
    notifier: &N,
    job: &DeliveryJob,
    now: DateTime<Utc>,
) -> Result<Next, DeliveryError> {
    let Some(delivery) = store
        .get_delivery(&job.subscription_id, &job.event_id)
        .await?
    else {
        return Ok(Next::Done);
    };
    if delivery.outcome != DeliveryOutcome::Pending {
        return Ok(Next::Done);
    }
    if let Some(wait) = delivery.not_before.filter(|at| *at > now) {
        return Ok(Next::Again(crate::queues::delay_until(wait, now)));
    }
    // One POST at a time: another job of the same delivery (the fan-out queues one again for
    // a delivery it finds pending) waits for this one's outcome, or for its claim to go stale
    // (the worker that made it died; its own job comes back too).
    if let Some(since) = delivery.attempting_since
        && now - since < CLAIM_FOR
    {
        return Ok(Next::Again(crate::queues::delay_until(
            since + CLAIM_FOR,
            now,
        )));
    }
    let claimed = EventDelivery {
        attempting_since: Some(now),
        version: delivery.version + 1,
        ..delivery.clone()
    };
    match store.put_delivery(&claimed, delivery.version).await {
        Ok(()) => {}
        // Another job claimed it first: look again after its attempt.
        Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {
            return Ok(Next::Again(FIRST_RETRY));
        }
        Err(CommitError::Store(e)) => return Err(e.into()),
    }
    let delivery = claimed;
    let subscription = store.get_subscription(&job.subscription_id).await?;
    let posted = match &subscription {
        Some(s) if s.disabled_at.is_none() => {
            let secrets = s.signing_secrets(now);
            notifier.deliver(&s.url, &secrets, &delivery.event).await
        }
        _ => {
            // Gone or disabled: nothing is sent; the record says why.
            let reason = "the subscription is deleted or disabled".to_string();
            record(
                store,
                &delivery,
                now,
                None,
                Some(reason),
                DeliveryOutcome::Dead,
                None,
            )
            .await?;
            return Ok(Next::Done);
        }
    };
    let subscription = subscription.expect("matched above");
    match posted {
        Posted::Accepted { status } => {
            record(
                store,
                &delivery,
                now,
                Some(status),
                None,
                DeliveryOutcome::Delivered,
                None,
            )
            .await?;
            if subscription.failing_since.is_some() {
                mark(store, &subscription.id, |s| s.failing_since = None).await?;
            }
            Ok(Next::Done)
        }
        Posted::Refused {
            status,
            reason,
            retry_at,
        } => {
            let first = delivery.first_attempt_at.unwrap_or(now);
            let give_up = now - first >= RETRY_FOR;
            let outcome = match give_up {
                true => DeliveryOutcome::Dead,
                false => DeliveryOutcome::Pending,
            };
            let failures = delivery.attempts.len() as u32 + 1;
            let wait = match retry_at {
                Some(at) => crate::queues::delay_until(at, now).max(FIRST_RETRY),
                None => backoff(failures, &job.event_id),
            };
            let not_before = retry_at.filter(|at| *at > now);
            record(
                store,
                &delivery,
                now,
                status,
                Some(reason),
                outcome,
                not_before,
            )
            .await?;
            if give_up {
                tracing::error!(subscription_id = %job.subscription_id, event_id = %job.event_id,
                    "an event's delivery failed for a day: it is dead (redeliver sends it again)");
            }
            let since = subscription.failing_since.unwrap_or(first).min(first);
            let disable = now - since >= RETRY_FOR;
            mark(store, &subscription.id, |s| {
                s.failing_since = Some(s.failing_since.unwrap_or(since));
                if disable && s.disabled_at.is_none() {
                    s.disabled_at = Some(now);
                    s.disabled_reason = Some("every delivery failed for a day".into());
                }
            })
            .await?;
            if disable && subscription.disabled_at.is_none() {
                tracing::warn!(subscription_id = %subscription.id,
                    "a webhook subscription failed for a day and is disabled");
                // Without dimensions, as the template's alarm has none.
                crate::metrics::count_total("WebhookSubscriptionDisabled", 1);
            }
            Ok(match give_up {
                true => Next::Done,
                false => Next::Again(wait),
            })
        }
    }
}

/// The wait before attempt `failures + 1`: 10 s, 20 s, 40 s... up to the queue's 15 minutes,
/// spread by a fifth either way (by the event, so retries of many events do not come at once).
fn backoff(failures: u32, event_id: &str) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let base = doubled.min(MAX_DELAY);
    let spread = event_id.bytes().fold(failures, |h, b| {
        h.wrapping_mul(31).wrapping_add(u32::from(b))
    }) % 401;
    // 0.8 to 1.2 of the base, and never past the queue's longest delay.
    base.mul_f64(0.8 + f64::from(spread) / 1000.0)
        .min(MAX_DELAY)
}

/// Records an attempt (or a giving up without one) on the delivery.
async fn record<S: WebhookStore>(
    store: &S,
    first_read: &EventDelivery,
    at: DateTime<Utc>,
    status: Option<u16>,
    error: Option<String>,
    outcome: DeliveryOutcome,
    not_before: Option<DateTime<Utc>>,
) -> Result<(), DeliveryError> {
    let (subscription, event) = (&first_read.subscription_id, &first_read.event.id);
    let mut read = Some(first_read.clone());
    optimistic(
        move || {
            let known = read.take();
            let error = error.clone();
            async move {
                let delivery = match known {
                    Some(delivery) => delivery,
                    None => match store.get_delivery(subscription, event).await? {
                        Some(delivery) => delivery,
                        None => return Ok(Round::Done(())),
                    },
                };
                let mut next = delivery.clone();
                if status.is_some() || error.is_some() {
                    next.attempts.push(Attempt { at, status, error });
                    let excess = next
                        .attempts
                        .len()
                        .saturating_sub(EventDelivery::KEPT_ATTEMPTS);
                    next.attempts.drain(..excess);
                }
                next.first_attempt_at = Some(delivery.first_attempt_at.unwrap_or(at));
                next.outcome = outcome;
                next.not_before = not_before;
                next.attempting_since = None;
                next.version = delivery.version + 1;
                match store.put_delivery(&next, delivery.version).await {
                    Ok(()) => Ok(Round::Done(())),
                    Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {
                        Ok(Round::ReadAgain)
                    }
                    Err(CommitError::Store(e)) => Err(e.into()),
                }
            }
        },
        || DeliveryError::KeptChanging,
    )
    .await
}

/// Changes the subscription as `change` does (read again on a conflict).
async fn mark<S: WebhookStore>(
    store: &S,
    id: &str,
    change: impl Fn(&mut WebhookSubscription) + Send + Sync,
) -> Result<(), DeliveryError> {
    let change = &change;
    optimistic(
        move || async move {
            let Some(subscription) = store.get_subscription(id).await? else {
                return Ok(Round::Done(()));
            };
            let mut next = subscription.clone();
            change(&mut next);
            if next == subscription {
                return Ok(Round::Done(()));
            }
            next.version = subscription.version + 1;
            match store.put_subscription(&next, subscription.version).await {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || DeliveryError::KeptChanging,
    )
    .await
}

/// Sends a delivery again (whatever became of it), as a new pending one keeping its attempts.
pub async fn redeliver<S: WebhookStore>(
    store: &S,
    queue: &crate::outbox::Outbox,
    subscription_id: &str,
    event_id: &str,
) -> Result<Option<EventDelivery>, DeliveryError> {
    let Some(delivery) = store.get_delivery(subscription_id, event_id).await? else {
        return Ok(None);
    };
    let again = EventDelivery {
        outcome: DeliveryOutcome::Pending,
        first_attempt_at: None,
        not_before: None,
        attempting_since: None,
        version: delivery.version + 1,
        ..delivery.clone()
    };
    match store.put_delivery(&again, delivery.version).await {
        Ok(()) => {}
        Err(CommitError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(DeliveryError::KeptChanging),
    }
    let job = DeliveryJob {
        subscription_id: subscription_id.to_string(),
        event_id: event_id.to_string(),
    };
    queue.send(job.outgoing(Duration::ZERO)?).await?;
    Ok(Some(again))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_ten_seconds_to_the_queues_longest_delay_give_or_take_a_fifth() {
        for (failures, base) in [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (7, 640),
            (8, 900),
            (30, 900),
        ] {
            let wait = backoff(failures, "evt_01KAQ5Z0000000000000000000").as_secs_f64();
            let base = f64::from(base);
            assert!(
                wait >= base * 0.8 - 0.001 && wait <= (base * 1.2).min(900.0) + 0.001,
                "{failures}: {wait}"
            );
        }
        assert!(
            backoff(1, "evt_a") <= Duration::from_secs(30),
            "the first retry within 30 s"
        );
    }
}
