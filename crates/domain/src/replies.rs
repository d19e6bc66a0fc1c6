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
use crate::retry::{Round, optimistic};
use crate::ticket::{Ticket, TicketDetail};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

mod sending;
pub use sending::{
    Platform, PostError, SendPolicy, Step, backoff, confirmed_by_echo, deliver, is_echo_of,
    wait_until,
};

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
    // The customer wrote last by e-mail (to a ticket that began on X, say, once their address
    // was linked): the answer is an e-mail, unless the agent asked for the public thread.
    let emailed = latest.body.source == Source::Email;
    if emailed && (channel != ReplyChannel::Public || detail.ticket.source == Source::Email) {
        return Ok((email_to(detail, latest), Channel::Private));
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

/// X counts 280 characters a post (simplified: every character counts one).
pub const X_REPLY_CHARS: usize = 280;
/// Everywhere else (an e-mail, a Meta message, a callback) a reply takes this many.
pub const MAX_REPLY_CHARS: usize = 2_000;

/// The most characters a reply on the ticket may have, where it would go: X's limit on X,
/// unless it goes by e-mail (the customer wrote last by e-mail).
pub fn text_limit(detail: &TicketDetail, channel: ReplyChannel, now: DateTime<Utc>) -> usize {
    match route(detail, channel, now) {
        Ok((Target::Email { .. }, _)) => MAX_REPLY_CHARS,
        _ if detail.ticket.source == Source::X => X_REPLY_CHARS,
        _ => MAX_REPLY_CHARS,
    }
}

/// The most `References` a reply carries: the thread's first messages and its latest, as
/// RFC 5322 advises when a thread grows long.
const MOST_REFERENCES: usize = 10;

/// An e-mail answering the customer's latest message, in its thread: `Re:` its subject, to its
/// sender, after every message of the ticket (the first and the latest when there are many).
fn email_to(detail: &TicketDetail, latest: &Message) -> Target {
    let mut references: Vec<String> = detail
        .messages
        .iter()
        .filter(|m| m.body.source == Source::Email && m.removed_at.is_none())
        .filter_map(|m| match m.body.direction {
            Direction::Inbound => Some(m.body.external_id.clone()),
            // A reply sent from here is known by the Message-ID it was sent with.
            Direction::Outbound => m
                .delivery
                .as_ref()
                .and_then(|d| d.platform_id.clone())
                .or_else(|| m.delivery.is_none().then(|| m.body.external_id.clone())),
        })
        .filter(|id| !id.is_empty() && !id.starts_with("sha256:"))
        .collect();
    if references.len() > MOST_REFERENCES {
        let tail = references.split_off(references.len() - (MOST_REFERENCES - 1));
        references.truncate(1);
        references.extend(tail);
    }
    let subject = latest
        .body
        .subject
        .clone()
        .or_else(|| detail.messages.iter().find_map(|m| m.body.subject.clone()))
        .map(|s| crate::message::without_reply_prefix(&s).to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| detail.ticket.subject.clone());
    // A message without a Message-ID is known by its digest, which is no one's id to answer:
    // the thread's latest real one is.
    let in_reply_to = Some(latest.body.external_id.clone())
        .filter(|id| !id.starts_with("sha256:"))
        .or_else(|| references.last().cloned())
        .unwrap_or_default();
    Target::Email {
        from: latest.body.account.clone(),
        to: latest.body.author.id.clone(),
        subject: format!("Re: {subject}"),
        in_reply_to,
        references,
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
    // The ticket's own channel: a linked e-mail is no DM, and its time opens no window.
    let inbound = || {
        detail
            .messages
            .iter()
            .rev()
            .filter(|m| is_from_customer(detail, m) && m.body.source == detail.ticket.source)
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
        Target::Email { in_reply_to, .. } => Some(in_reply_to.clone()),
        Target::Direct { .. } | Target::Callback { .. } => {
            latest.map(|m| m.body.external_id.clone())
        }
    };
    let subject = match &target {
        Target::Email { subject, .. } => Some(subject.clone()),
        _ => None,
    };
    // The reply is the ticket's (its key is in the ticket's scope, so a retried request finds
    // it); where it goes, an e-mail from a mailbox say, is its target's.
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
            verified_email: false,
        },
        text,
        attachments: Vec::new(),
        created_at: now,
        callback_url: None,
        found_by: None,
        subject,
        quoted: None,
        html: None,
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
    /// The request's key names a reply with other text: a new reply needs a new key.
    #[error("this key was used for another reply ({0}); send a new key for a new reply")]
    KeyReused(crate::ids::MessageId),
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
                // A retry is the same request; the same key with other words is a mistake
                // that must not pass for "sent".
                if reply.body.text != request.text {
                    return Err(ReplyError::KeyReused(reply.id));
                }
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
mod tests;
