//! Replies: what an agent (or socialcare itself) answers on a ticket, where on the platform it
//! goes, and getting it posted exactly once.
//!
//! A reply is a message on its ticket from the moment it is written (`pending`), and a job on
//! the outbox queue. The sender moves it to `sending` before it calls the platform and to
//! `sent` (with the platform's id) after; a worker that finds it `sending` past the lease
//! knows an earlier attempt died mid-call and does not post again (`unconfirmed`, until the
//! platform's echo of the post confirms it).

pub use crate::delivery::{Delivery, DeliveryState, Target};
use crate::events::{EventKind, TicketEvent};
use crate::ids::{MessageId, TicketId};
use crate::message::{Author, Channel, Direction, Message, NormalizedMessage, Source};
use crate::ports::{CommitError, IngestStore, Outgoing, QueueError, StoreError};
use crate::retry::{Round, optimistic, within_attempts};
use crate::ticket::{Ticket, TicketDetail};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Where the agent wants the reply to go.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyChannel {
    /// In the public thread the customer wrote in.
    Public,
    /// A direct message (on Facebook and Instagram, a private reply to their comment when
    /// they have not written privately in the last 24 hours).
    Private,
    /// Public to a first public contact, private afterwards.
    #[default]
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("the ticket has no message from the customer to answer")]
    NothingToAnswer,
    #[error("the customer wrote only privately; there is no public thread to answer in")]
    NoPublicThread,
    #[error(
        "the 24-hour messaging window closed at {0}; the platform refuses messages until the customer writes again"
    )]
    WindowClosed(DateTime<Utc>),
    #[error(
        "the customer has not written privately and their comment can no longer get a private reply"
    )]
    NoPrivateRoute,
    #[error("the customer's messages carry no callback_url to post the reply to")]
    NoCallback,
}

/// How long Meta lets a page answer a customer's private message.
pub fn messaging_window() -> Duration {
    Duration::hours(24)
}

/// How long Meta lets a page send a private reply to a comment.
fn private_reply_window() -> Duration {
    Duration::days(7)
}

/// Whether `message` was written by the ticket's customer: by one of their identities, or
/// (for a ticket whose customer record is not at hand) by the customer its first message is
/// from or to. Others may write in the same public thread; a reply never goes to them.
pub fn is_from_customer(detail: &TicketDetail, message: &Message) -> bool {
    if message.body.direction != Direction::Inbound {
        return false;
    }
    let author = message.body.author_key();
    match &detail.customer {
        Some(customer) => customer.identities.iter().any(|i| i.key() == author),
        None => detail
            .messages
            .first()
            .is_some_and(|first| first.body.customer_key() == author),
    }
}

/// Where a reply on this ticket goes, given what the customer wrote and where.
pub fn route(
    detail: &TicketDetail,
    channel: ReplyChannel,
    now: DateTime<Utc>,
) -> Result<(Target, Channel), RouteError> {
    let from_customer = |m: &&Message| is_from_customer(detail, m);
    let latest = detail
        .messages
        .iter()
        .rev()
        .find(from_customer)
        .ok_or(RouteError::NothingToAnswer)?;
    if detail.ticket.source == Source::Integration {
        let url = detail
            .messages
            .iter()
            .rev()
            .filter(from_customer)
            .find_map(|m| m.body.callback_url.clone())
            .ok_or(RouteError::NoCallback)?;
        return Ok((Target::Callback { url }, latest.body.channel));
    }
    let public = || {
        detail
            .messages
            .iter()
            .rev()
            .filter(from_customer)
            .find(|m| m.body.channel == Channel::Public && m.removed_at.is_none())
            .map(|m| Target::Public {
                to: m.body.external_id.clone(),
            })
            .ok_or(RouteError::NoPublicThread)
    };
    let channel = match channel {
        ReplyChannel::Public => Channel::Public,
        ReplyChannel::Private => Channel::Private,
        ReplyChannel::Auto => {
            let answered_publicly = detail.messages.iter().any(|m| {
                m.body.direction == Direction::Outbound && m.body.channel == Channel::Public
            });
            match latest.body.channel == Channel::Public && !answered_publicly {
                true => Channel::Public,
                false => Channel::Private,
            }
        }
    };
    match channel {
        Channel::Public => Ok((public()?, Channel::Public)),
        Channel::Private => Ok((private(detail, latest, now)?, Channel::Private)),
    }
}

fn private(
    detail: &TicketDetail,
    latest: &Message,
    now: DateTime<Utc>,
) -> Result<Target, RouteError> {
    let customer = latest.body.author.id.clone();
    if detail.ticket.source == Source::X {
        return Ok(Target::Direct {
            to: customer,
            window_ends: None,
        });
    }
    let inbound = || {
        detail
            .messages
            .iter()
            .rev()
            .filter(|m| is_from_customer(detail, m))
    };
    let dm = inbound().find(|m| m.body.channel == Channel::Private);
    if let Some(dm) = dm {
        let window_ends = dm.body.created_at + messaging_window();
        if now < window_ends {
            return Ok(Target::Direct {
                to: dm.body.author.id.clone(),
                window_ends: Some(window_ends),
            });
        }
    }
    // A comment gets one private reply (within 7 days), even when the DM window has closed.
    let replied: Vec<&str> = detail
        .messages
        .iter()
        .filter_map(|m| match m.delivery.as_ref().map(|d| &d.target) {
            Some(Target::PrivateReply { comment_id }) => Some(comment_id.as_str()),
            _ => None,
        })
        .collect();
    let comment = inbound().find(|m| {
        m.body.channel == Channel::Public
            && !replied.contains(&m.body.external_id.as_str())
            && now - m.body.created_at < private_reply_window()
    });
    match (comment, dm) {
        (Some(comment), _) => Ok(Target::PrivateReply {
            comment_id: comment.body.external_id.clone(),
        }),
        (None, Some(dm)) => Err(RouteError::WindowClosed(
            dm.body.created_at + messaging_window(),
        )),
        (None, None) => Err(RouteError::NoPrivateRoute),
    }
}

/// A new reply on the ticket, pending. `key` makes it unique (a retried request with the same
/// key is the same reply).
pub fn compose(
    detail: &TicketDetail,
    (target, channel): (Target, Channel),
    text: String,
    key: &str,
    automatic: bool,
    now: DateTime<Utc>,
) -> Message {
    let ticket = &detail.ticket;
    let latest = detail
        .messages
        .iter()
        .rev()
        .find(|m| is_from_customer(detail, m));
    let in_reply_to = match &target {
        Target::Public { to } => Some(to.clone()),
        Target::PrivateReply { comment_id } => Some(comment_id.clone()),
        Target::Direct { .. } | Target::Callback { .. } => {
            latest.map(|m| m.body.external_id.clone())
        }
    };
    let body = NormalizedMessage {
        source: ticket.source,
        account: ticket.account.clone(),
        channel,
        direction: Direction::Outbound,
        external_id: reply_external_id(key),
        in_reply_to,
        thread_id: latest.and_then(|m| m.body.thread_id.clone()),
        conversation_id: match channel {
            Channel::Private => latest.and_then(|m| m.body.conversation_id.clone()),
            Channel::Public => None,
        },
        recipient_id: latest.map(|m| m.body.author.id.clone()),
        author: Author {
            id: ticket.account.clone(),
            name: None,
            handle: None,
            email: None,
            followers: None,
        },
        text,
        attachments: Vec::new(),
        created_at: now,
        callback_url: None,
    };
    Message {
        delivery: Some(Delivery::pending(target, automatic)),
        ..Message::new(ticket.id.clone(), body, now)
    }
}

/// The external id of a reply before the platform gives it one.
pub(crate) fn reply_external_id(key: &str) -> String {
    format!("socialcare:{key}")
}

/// What the outbox queue carries: which reply to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxJob {
    pub ticket_id: TicketId,
    pub message_id: MessageId,
    /// The reply's dedupe key, by which it is read.
    pub message_key: String,
}

impl OutboxJob {
    pub fn of(reply: &Message) -> Self {
        Self {
            ticket_id: reply.ticket_id.clone(),
            message_id: reply.id.clone(),
            message_key: reply.body.dedupe_key(),
        }
    }

    /// The job as a message for the outbox queue (a standard queue: no group, no dedupe id).
    pub fn outgoing(&self) -> Result<Outgoing, QueueError> {
        outgoing(self, std::time::Duration::ZERO)
    }
}

/// `job` as a message for the outbox queue, delivered after `delay`.
pub(crate) fn outgoing<T: Serialize>(
    job: &T,
    delay: std::time::Duration,
) -> Result<Outgoing, QueueError> {
    let body = serde_json::to_string(job).map_err(|e| QueueError::invalid(e.to_string()))?;
    Ok(Outgoing {
        body,
        group_id: None,
        dedupe_id: None,
        delay,
    })
}

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
pub async fn deliver<S: IngestStore, P: Platform>(
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
            let alias = sending.body.dedupe_key_of(&platform_id);
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("no ticket {0}")]
    NotFound(TicketId),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ticket kept changing; try again")]
    Contention,
}

/// What an agent asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRequest {
    pub text: String,
    pub channel: ReplyChannel,
    /// Makes the reply unique: the same key again is the same reply, not a second one.
    pub key: String,
    pub author: crate::events::Actor,
    /// Written by socialcare rather than a person: not the ticket's first response.
    pub automatic: bool,
}

/// A reply as written, and what writing it added to the response-time report.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub reply: Message,
    /// Empty when the reply was already written.
    pub samples: Vec<crate::report::Sample>,
}

/// Writes a reply on the ticket, pending, and returns it (the one already written when the
/// request's key was seen before). Queuing it is the caller's next step.
pub async fn write_reply<S>(
    store: &S,
    ticket_id: &TicketId,
    request: &ReplyRequest,
    now: DateTime<Utc>,
) -> Result<Written, ReplyError>
where
    S: IngestStore + crate::ports::TicketReads + crate::ports::TicketCommands,
{
    optimistic(
        move || async move {
            let detail = store
                .ticket_detail(ticket_id)
                .await?
                .ok_or_else(|| ReplyError::NotFound(ticket_id.clone()))?;
            let key = scoped_reply_key(&detail, &request.key);
            if let Some(reply) = store.get_message(&key).await? {
                return Ok(Round::Done(Written {
                    reply,
                    samples: Vec::new(),
                }));
            }
            let routed = route(&detail, request.channel, now)?;
            let reply = compose(
                &detail,
                routed,
                request.text.clone(),
                &request.key,
                request.automatic,
                now,
            );
            let ticket = &detail.ticket;
            let mut answered = Ticket {
                last_message_at: ticket.last_message_at.max(now),
                message_count: ticket.message_count + 1,
                acknowledged_at: Some(ticket.acknowledged_at.map_or(now, |at| at.min(now))),
                first_response_at: match request.automatic {
                    true => ticket.first_response_at,
                    false => Some(ticket.first_response_at.map_or(now, |at| at.min(now))),
                },
                version: ticket.version + 1,
                ..ticket.clone()
            };
            if !request.automatic {
                crate::clocks::retime(&mut answered, crate::clocks::Happened::Answered, now, None);
            }
            let event = TicketEvent::new(
                ticket.id.clone(),
                now,
                request.author.clone(),
                EventKind::MessageAdded {
                    message_id: reply.id.clone(),
                    direction: Direction::Outbound,
                },
                &format!("message:{}", reply.id),
            );
            let agent = match &request.author {
                crate::events::Actor::Agent { id } if !request.automatic => Some(id.as_str()),
                _ => None,
            };
            let update = crate::ports::TicketUpdate {
                samples: crate::report::samples(Some(ticket), &answered, agent),
                ticket: answered,
                version_before: ticket.version,
                events: vec![event],
                replies: vec![reply.clone()],
            };
            match store.update_ticket(&update).await {
                Ok(()) => Ok(Round::Done(Written {
                    reply,
                    samples: update.samples,
                })),
                Err(CommitError::Store(e)) => Err(e.into()),
                // A racing retry of the same request, or a change to the ticket: read again.
                Err(CommitError::Duplicate) | Err(CommitError::Conflict) => Ok(Round::ReadAgain),
            }
        },
        || ReplyError::Contention,
    )
    .await
}

/// The dedupe key a reply written with `key` has on this ticket.
fn scoped_reply_key(detail: &TicketDetail, key: &str) -> String {
    crate::message::scoped_key(
        detail.ticket.source,
        &detail.ticket.account,
        &reply_external_id(key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::Customer;
    use crate::ids::CustomerId;
    use crate::ticket::TicketStatus;
    use chrono::TimeZone;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn message(
        source: Source,
        id: &str,
        channel: Channel,
        direction: Direction,
        minute: i64,
    ) -> Message {
        let body = NormalizedMessage {
            source,
            account: "brand".into(),
            channel,
            direction,
            external_id: id.into(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: match direction {
                    Direction::Inbound => "ann".into(),
                    Direction::Outbound => "brand".into(),
                },
                name: Some("Ann".into()),
                handle: None,
                email: None,
                followers: None,
            },
            text: "text".into(),
            attachments: vec![],
            created_at: at(minute),
            callback_url: None,
        };
        Message::new(TicketId::derive(at(0), "t"), body, at(minute))
    }

    fn detail(source: Source, messages: Vec<Message>) -> TicketDetail {
        TicketDetail {
            ticket: Ticket {
                id: TicketId::derive(at(0), "t"),
                account: "brand".into(),
                source,
                customer_id: CustomerId::derive(at(0), "ann"),
                status: TicketStatus::Open,
                subject: "text".into(),
                created_at: at(0),
                last_message_at: at(0),
                message_count: messages.len() as u32,
                resolved_at: None,
                priority: Default::default(),
                timers: Default::default(),
                satisfaction: None,
                triage: None,
                topics: Vec::new(),
                incident_id: None,
                first_response_at: None,
                acknowledged_at: None,
                owner: None,
                team: None,
                version: 1,
            },
            customer: None::<Customer>,
            messages,
        }
    }

    use Channel::{Private, Public};
    use Direction::{Inbound, Outbound};

    #[test]
    fn x_replies_go_public_to_the_latest_public_post_or_by_dm() {
        let ticket = detail(
            Source::X,
            vec![
                message(Source::X, "t1", Public, Inbound, 0),
                message(Source::X, "t2", Public, Inbound, 1),
            ],
        );
        assert_eq!(
            route(&ticket, ReplyChannel::Public, at(5)),
            Ok((Target::Public { to: "t2".into() }, Public))
        );
        assert_eq!(
            route(&ticket, ReplyChannel::Private, at(5)),
            Ok((
                Target::Direct {
                    to: "ann".into(),
                    window_ends: None
                },
                Private
            ))
        );
        // auto: public to a first public contact, private once answered in public
        assert_eq!(route(&ticket, ReplyChannel::Auto, at(5)).unwrap().1, Public);
        let mut answered = ticket.clone();
        answered
            .messages
            .push(message(Source::X, "b1", Public, Outbound, 2));
        assert_eq!(
            route(&answered, ReplyChannel::Auto, at(5)).unwrap().1,
            Private
        );
        let dm_only = detail(
            Source::X,
            vec![message(Source::X, "d1", Private, Inbound, 0)],
        );
        assert_eq!(
            route(&dm_only, ReplyChannel::Public, at(5)),
            Err(RouteError::NoPublicThread)
        );
        assert_eq!(
            route(&dm_only, ReplyChannel::Auto, at(5)).unwrap().1,
            Private
        );
    }

    fn from(mut message: Message, author: &str) -> Message {
        message.body.author.id = author.into();
        message
    }

    /// Issue 14: ann complains, the brand answers publicly, bob replies in the thread. A
    /// private reply goes to ann, never to bob; a public one answers ann's tweet.
    #[test]
    fn replies_go_to_the_tickets_customer_never_to_a_bystander() {
        let mut ticket = detail(
            Source::X,
            vec![
                message(Source::X, "t1", Public, Inbound, 0),
                message(Source::X, "b1", Public, Outbound, 1),
                from(message(Source::X, "t2", Public, Inbound, 2), "bob"),
            ],
        );
        let to_ann = Target::Direct {
            to: "ann".into(),
            window_ends: None,
        };
        for channel in [ReplyChannel::Private, ReplyChannel::Auto] {
            assert_eq!(
                route(&ticket, channel, at(5)),
                Ok((to_ann.clone(), Private)),
                "{channel:?}"
            );
        }
        assert_eq!(
            route(&ticket, ReplyChannel::Public, at(5)),
            Ok((Target::Public { to: "t1".into() }, Public))
        );
        let reply = compose(
            &ticket,
            (to_ann.clone(), Private),
            "hi".into(),
            "k",
            false,
            at(5),
        );
        assert_eq!(reply.body.recipient_id.as_deref(), Some("ann"));
        assert_eq!(reply.body.in_reply_to.as_deref(), Some("t1"));
        // With the customer record at hand, their identities decide, whoever wrote first.
        ticket.messages.swap(0, 2);
        ticket.customer = Some(Customer {
            id: CustomerId::derive(at(0), "ann"),
            account: "brand".into(),
            name: None,
            email: None,
            identities: vec![crate::customer::Identity {
                source: Source::X,
                account: "brand".into(),
                user_id: "ann".into(),
                handle: None,
            }],
            latest_ticket_id: None,
            created_at: at(0),
            updated_at: at(0),
            acknowledged_at: None,
            version: 1,
        });
        assert_eq!(
            route(&ticket, ReplyChannel::Private, at(5)),
            Ok((to_ann, Private))
        );
        // A thread where only bystanders wrote has nothing to answer.
        ticket.messages.retain(|m| m.body.author.id != "ann");
        assert_eq!(
            route(&ticket, ReplyChannel::Private, at(5)),
            Err(RouteError::NothingToAnswer)
        );

        // On Facebook, bob's comment in ann's thread gets no private reply, and bob's DM
        // window is not ann's.
        let fb = Source::Facebook;
        let ticket = detail(
            fb,
            vec![
                message(fb, "c1", Public, Inbound, 0),
                from(message(fb, "c2", Public, Inbound, 2), "bob"),
                from(message(fb, "m1", Private, Inbound, 3), "bob"),
            ],
        );
        assert_eq!(
            route(&ticket, ReplyChannel::Private, at(5)),
            Ok((
                Target::PrivateReply {
                    comment_id: "c1".into()
                },
                Private
            ))
        );
    }

    #[test]
    fn meta_private_replies_respect_the_windows() {
        let fb = Source::Facebook;
        let dm = detail(fb, vec![message(fb, "m1", Private, Inbound, 0)]);
        assert_eq!(
            route(&dm, ReplyChannel::Private, at(60)),
            Ok((
                Target::Direct {
                    to: "ann".into(),
                    window_ends: Some(at(24 * 60))
                },
                Private
            ))
        );
        assert_eq!(
            route(&dm, ReplyChannel::Private, at(24 * 60)),
            Err(RouteError::WindowClosed(at(24 * 60)))
        );
        // a closed DM window falls back to a private reply to a recent comment
        let both = detail(
            fb,
            vec![
                message(fb, "m1", Private, Inbound, 0),
                message(fb, "c9", Public, Inbound, 30 * 60),
            ],
        );
        assert_eq!(
            route(&both, ReplyChannel::Private, at(31 * 60)),
            Ok((
                Target::PrivateReply {
                    comment_id: "c9".into()
                },
                Private
            ))
        );
        // a comment gets one private reply, within 7 days
        let comment = detail(fb, vec![message(fb, "c1", Public, Inbound, 0)]);
        assert_eq!(
            route(&comment, ReplyChannel::Private, at(60)),
            Ok((
                Target::PrivateReply {
                    comment_id: "c1".into()
                },
                Private
            ))
        );
        assert_eq!(
            route(&comment, ReplyChannel::Private, at(8 * 24 * 60)),
            Err(RouteError::NoPrivateRoute)
        );
        let mut replied = comment.clone();
        let first = compose(
            &comment,
            route(&comment, ReplyChannel::Private, at(60)).unwrap(),
            "DM us".into(),
            "k1",
            false,
            at(60),
        );
        replied.messages.push(first);
        assert_eq!(
            route(&replied, ReplyChannel::Private, at(61)),
            Err(RouteError::NoPrivateRoute)
        );
    }

    #[test]
    fn integrators_get_the_callback_of_the_customers_messages() {
        let mut with_url = message(Source::Integration, "e1", Private, Inbound, 0);
        with_url.body.callback_url = Some("https://crm.example/hooks/replies".into());
        let ticket = detail(
            Source::Integration,
            vec![
                with_url,
                message(Source::Integration, "e2", Private, Inbound, 1),
            ],
        );
        assert_eq!(
            route(&ticket, ReplyChannel::Auto, at(5)),
            Ok((
                Target::Callback {
                    url: "https://crm.example/hooks/replies".into()
                },
                Private
            ))
        );
        let without = detail(
            Source::Integration,
            vec![message(Source::Integration, "e3", Private, Inbound, 0)],
        );
        assert_eq!(
            route(&without, ReplyChannel::Auto, at(5)),
            Err(RouteError::NoCallback)
        );
        let nothing = detail(
            Source::X,
            vec![message(Source::X, "b", Public, Outbound, 0)],
        );
        assert_eq!(
            route(&nothing, ReplyChannel::Auto, at(5)),
            Err(RouteError::NothingToAnswer)
        );
    }

    #[test]
    fn a_composed_reply_is_pending_and_addressed() {
        let ticket = detail(
            Source::X,
            vec![message(Source::X, "t1", Public, Inbound, 0)],
        );
        let reply = compose(
            &ticket,
            (Target::Public { to: "t1".into() }, Public),
            "On it".into(),
            "k1",
            true,
            at(3),
        );
        assert_eq!(reply.body.external_id, "socialcare:k1");
        assert_eq!(reply.body.in_reply_to.as_deref(), Some("t1"));
        assert_eq!(reply.body.recipient_id.as_deref(), Some("ann"));
        assert_eq!(reply.body.direction, Outbound);
        assert_eq!(reply.body.created_at, at(3));
        let delivery = reply.delivery.unwrap();
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert!(delivery.automatic);
        assert_eq!(delivery.attempts, 0);
    }

    #[test]
    fn an_echo_matches_despite_mentions_and_shortened_links() {
        let ticket = detail(
            Source::X,
            vec![message(Source::X, "t1", Public, Inbound, 0)],
        );
        let reply = compose(
            &ticket,
            (Target::Public { to: "t1".into() }, Public),
            "Status: https://status.acme.example/outage  back soon".into(),
            "k1",
            false,
            at(3),
        );
        let mut echo = message(Source::X, "p1", Public, Outbound, 3).body;
        echo.text = "@ann Status: https://t.co/xyz back soon".into();
        assert!(is_echo_of(&reply, &echo));
        echo.text = "@ann Status: back later".into();
        assert!(!is_echo_of(&reply, &echo));
        echo.text = "@ann Status: https://t.co/xyz back soon".into();
        echo.channel = Private;
        assert!(!is_echo_of(&reply, &echo));
        let confirmed = confirmed_by_echo(&reply, &echo);
        let delivery = confirmed.delivery.unwrap();
        assert_eq!(delivery.state, DeliveryState::Sent);
        assert_eq!(delivery.platform_id.as_deref(), Some("p1"));
        assert_eq!(confirmed.version, reply.version + 1);
    }

    #[test]
    fn waits_round_up_and_back_off_to_a_cap() {
        let now = at(0);
        let secs = |d: std::time::Duration| d.as_secs();
        assert_eq!(secs(wait_until(now + Duration::milliseconds(1100), now)), 2);
        assert_eq!(secs(wait_until(now + Duration::seconds(90), now)), 90);
        assert_eq!(secs(wait_until(now - Duration::seconds(5), now)), 1);
        assert_eq!(secs(wait_until(now + Duration::days(3), now)), 12 * 3600);
        let policy = SendPolicy::default();
        let waits: Vec<u64> = (1..=11).map(|n| secs(backoff(n, &policy))).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    }
}
