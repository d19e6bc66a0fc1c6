//! Getting a written reply posted exactly once: the sender's claim, the platform call, and what
//! the platform answered (or the echo of the post, which confirms it too).

use super::{OutboxJob, RouteError};
use crate::delivery::{Delivery, DeliveryState, Target};
use crate::message::{Direction, Message, NormalizedMessage, Source};
use crate::ports::{CommitError, ContactStore, IngestStore, StoreError};
use crate::retry::{Round, within_attempts};
use chrono::{DateTime, Duration, Utc};
use std::future::Future;

/// Why a platform did not take a post.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Over the rate limit: try again at `retry_at`.
    #[error("rate limited until {retry_at}: {reason}")]
    RateLimited {
        retry_at: DateTime<Utc>,
        reason: String,
    },
    /// Worth trying again later (5xx, connection refused).
    #[error("{0}")]
    Transient(String),
    /// Will never succeed (deleted post, closed window, blocked user, bad credentials).
    #[error("{0}")]
    Permanent(String),
    /// The request went out and no answer came back: it may have been posted.
    #[error("{0}")]
    Unknown(String),
}

/// A platform that posts replies: X, Facebook and Instagram, integrators' callbacks.
pub trait Platform: Send + Sync {
    /// Posts `reply` (its text, source, account) to its delivery target and returns the
    /// platform's id of the post.
    fn post(&self, reply: &Message) -> impl Future<Output = Result<String, PostError>> + Send;

    /// Posts `text` publicly as the brand `account` on `source`, answering no one (a status
    /// update), and returns the platform's id of the post.
    fn publish(
        &self,
        source: Source,
        account: &str,
        text: &str,
    ) -> impl Future<Output = Result<String, PostError>> + Send;
}

/// What the outbox consumer does with the job after [`deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Finished with the reply in this state: delete the job.
    Done(DeliveryState),
    /// Keep the job and show it again after this long.
    RetryIn(std::time::Duration),
    /// Retries are spent (the reply is marked failed): leave the job for the dead-letter queue.
    DeadLetter,
}

/// Timings of [`deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// How long a `sending` mark holds before another worker takes the attempt as dead.
    pub lease: Duration,
    /// The queue's receive count at which the job goes to the dead-letter queue.
    pub max_receives: u32,
    /// The first retry's wait; it doubles each attempt up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            lease: Duration::seconds(60),
            max_receives: 10,
            first_backoff: Duration::seconds(2),
            max_backoff: Duration::minutes(15),
        }
    }
}

/// Posts the job's reply unless it is posted, failed or being posted; records the outcome on
/// the reply. `receive_count` is the queue's count for this job, this delivery included.
pub async fn deliver<S: IngestStore + ContactStore, P: Platform>(
    store: &S,
    platform: &P,
    job: &OutboxJob,
    receive_count: u32,
    now: DateTime<Utc>,
    policy: &SendPolicy,
) -> Result<Step, StoreError> {
    let step = within_attempts(move || async move {
        let Some(reply) = store.get_message(&job.message_key).await? else {
            // Nothing to post: the job outlived its reply (or names none).
            return Ok(Round::Done(Step::Done(DeliveryState::Failed)));
        };
        let Some(delivery) = reply.delivery.clone() else {
            return Ok(Round::Done(Step::Done(DeliveryState::Failed)));
        };
        match delivery.state {
            DeliveryState::Sent | DeliveryState::Failed | DeliveryState::Unconfirmed => {
                return Ok(Round::Done(Step::Done(delivery.state)));
            }
            DeliveryState::Sending => {
                let started = delivery.attempt_started_at.unwrap_or(now);
                if now < started + policy.lease {
                    return Ok(Round::Done(Step::RetryIn(wait_until(
                        started + policy.lease,
                        now,
                    ))));
                }
                // The attempt died. Integrators dedupe by the reply's id, so calling again is
                // safe; a platform may have posted it and must not get it twice.
                if !matches!(delivery.target, Target::Callback { .. }) {
                    let unconfirmed = Delivery {
                        state: DeliveryState::Unconfirmed,
                        error: Some(format!(
                            "the attempt of {started} ended without an answer; the platform may have posted it, so it is not posted again"
                        )),
                        ..delivery
                    };
                    return conclude(store, &reply, unconfirmed).await;
                }
            }
            DeliveryState::Pending => {}
        }
        if let Target::Direct {
            window_ends: Some(ends),
            ..
        } = delivery.target
            && now >= ends
        {
            let failed = Delivery {
                state: DeliveryState::Failed,
                error: Some(RouteError::WindowClosed(ends).to_string()),
                ..delivery
            };
            return conclude(store, &reply, failed).await;
        }
        // The address bounced, or its owner called our mail spam: nothing more goes to it.
        if let Target::Email { to, .. } = &delivery.target
            && let Some(mark) = store
                .contact_marks(&crate::mail_feedback::email_contact(to))
                .await?
                .in_force()
        {
            let failed = Delivery {
                state: DeliveryState::Failed,
                error: Some(mark.why_not_sent()),
                ..delivery
            };
            return conclude(store, &reply, failed).await;
        }

        // Claim the attempt; a racing worker's claim makes this one read again.
        let claim = Delivery {
            state: DeliveryState::Sending,
            attempts: delivery.attempts + 1,
            attempt_started_at: Some(now),
            ..delivery
        };
        let sending = with_delivery(&reply, claim.clone());
        match store.record_delivery(&sending, reply.version, None).await {
            Ok(()) => {}
            Err(CommitError::Store(e)) => return Err(e),
            Err(_) => return Ok(Round::ReadAgain),
        }
        let result = platform.post(&sending).await;
        settle(store, &sending, claim, result, receive_count, now, policy)
            .await
            .map(Round::Done)
    })
    .await?;
    Ok(step.unwrap_or(Step::RetryIn(std::time::Duration::from_secs(1))))
}

/// Records a final state of the reply as read, unless it changed meanwhile (read again).
async fn conclude<S: IngestStore>(
    store: &S,
    reply: &Message,
    last: Delivery,
) -> Result<Round<Step>, StoreError> {
    let state = last.state;
    match store
        .record_delivery(&with_delivery(reply, last), reply.version, None)
        .await
    {
        Ok(()) => Ok(Round::Done(Step::Done(state))),
        Err(CommitError::Store(e)) => Err(e),
        Err(_) => Ok(Round::ReadAgain),
    }
}

/// Records what the platform answered to the attempt `delivery` (as claimed on `sending`).
async fn settle<S: IngestStore>(
    store: &S,
    sending: &Message,
    delivery: Delivery,
    result: Result<String, PostError>,
    receive_count: u32,
    now: DateTime<Utc>,
    policy: &SendPolicy,
) -> Result<Step, StoreError> {
    let (next, step, alias) = match result {
        Ok(platform_id) => {
            // An e-mail's Message-ID is the mailbox's: the customer's answer, in that scope,
            // threads back by its In-Reply-To.
            let alias = match &delivery.target {
                Target::Email { from, .. } if !from.is_empty() => {
                    crate::message::scoped_key(Source::Email, from, &platform_id)
                }
                _ => sending.body.dedupe_key_of(&platform_id),
            };
            (
                Delivery {
                    state: DeliveryState::Sent,
                    platform_id: Some(platform_id),
                    sent_at: Some(now),
                    attempt_started_at: None,
                    error: None,
                    ..delivery
                },
                Step::Done(DeliveryState::Sent),
                Some(alias),
            )
        }
        Err(PostError::Permanent(reason)) => (
            Delivery {
                state: DeliveryState::Failed,
                attempt_started_at: None,
                error: Some(reason),
                ..delivery
            },
            Step::Done(DeliveryState::Failed),
            None,
        ),
        Err(PostError::Unknown(reason)) if !matches!(delivery.target, Target::Callback { .. }) => (
            Delivery {
                state: DeliveryState::Unconfirmed,
                attempt_started_at: None,
                error: Some(format!(
                    "no answer from the platform ({reason}); it may have posted it, so it is not posted again"
                )),
                ..delivery
            },
            Step::Done(DeliveryState::Unconfirmed),
            None,
        ),
        Err(error) if receive_count >= policy.max_receives => (
            Delivery {
                state: DeliveryState::Failed,
                attempt_started_at: None,
                error: Some(format!(
                    "gave up after {} attempts, moved to the dead-letter queue; last error: {error}",
                    delivery.attempts
                )),
                ..delivery
            },
            Step::DeadLetter,
            None,
        ),
        Err(error) => {
            let wait = match &error {
                PostError::RateLimited { retry_at, .. } => wait_until(*retry_at, now),
                _ => backoff(delivery.attempts, policy),
            };
            (
                Delivery {
                    state: DeliveryState::Pending,
                    attempt_started_at: None,
                    error: Some(error.to_string()),
                    ..delivery
                },
                Step::RetryIn(wait),
                None,
            )
        }
    };
    let settled = with_delivery(sending, next);
    match store
        .record_delivery(&settled, sending.version, alias.as_deref())
        .await
    {
        Ok(()) => Ok(step),
        // The echo of the post came first and confirmed it already.
        Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {
            match store.get_message(&sending.body.dedupe_key()).await? {
                Some(now_stored) => Ok(Step::Done(
                    now_stored
                        .delivery
                        .map(|d| d.state)
                        .unwrap_or(DeliveryState::Sent),
                )),
                None => Ok(step),
            }
        }
        Err(CommitError::Store(e)) => Err(e),
    }
}

fn with_delivery(reply: &Message, delivery: Delivery) -> Message {
    Message {
        delivery: Some(delivery),
        version: reply.version + 1,
        ..reply.clone()
    }
}

/// How long until `at` in whole seconds rounded up (queues hide messages by the second, and
/// early is too early), at least one and at most the 12 hours a queue can hide a message.
pub fn wait_until(at: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    let milliseconds = (at - now).num_milliseconds();
    let seconds = (milliseconds + 999).div_euclid(1000).clamp(1, 12 * 3600);
    std::time::Duration::from_secs(seconds as u64)
}

/// The wait before attempt `attempts + 1`: doubling from the first backoff up to the most.
pub fn backoff(attempts: u32, policy: &SendPolicy) -> std::time::Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let wait = policy.first_backoff * 2_i32.pow(doublings);
    let wait = wait.min(policy.max_backoff);
    std::time::Duration::from_secs(wait.num_seconds().max(1) as u64)
}

/// Whether `echo`, a brand message a platform delivered, is the post of `reply`: platforms send
/// the brand's own posts back, and the echo may come before the sender recorded the post.
pub fn is_echo_of(reply: &Message, echo: &NormalizedMessage) -> bool {
    let Some(delivery) = &reply.delivery else {
        return false;
    };
    matches!(
        delivery.state,
        DeliveryState::Pending | DeliveryState::Sending | DeliveryState::Unconfirmed
    ) && echo.direction == Direction::Outbound
        && reply.body.source == echo.source
        && reply.body.account == echo.account
        && reply.body.channel == echo.channel
        && words(&reply.body.text) == words(&echo.text)
}

/// The words of a post as platforms rewrite it: X puts the handles answered in front of a
/// reply and shortens links, so leading mentions and links do not count.
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .skip_while(|word| word.starts_with('@'))
        .filter(|word| !word.starts_with("http://") && !word.starts_with("https://"))
        .collect()
}

/// The reply with the platform's echo as its proof of posting.
pub fn confirmed_by_echo(reply: &Message, echo: &NormalizedMessage) -> Message {
    let delivery = reply.delivery.clone().map(|d| Delivery {
        state: DeliveryState::Sent,
        platform_id: Some(echo.external_id.clone()),
        sent_at: Some(echo.created_at),
        attempt_started_at: None,
        error: None,
        ..d
    });
    Message {
        delivery,
        version: reply.version + 1,
        ..reply.clone()
    }
}
