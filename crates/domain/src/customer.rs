//! Customers of a brand account and the platform identities they were seen with.

use crate::ids::{CustomerId, MessageId, TicketId};
use crate::message::{NormalizedMessage, Source, scoped_key};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub source: Source,
    pub account: String,
    /// The platform's user id.
    pub user_id: String,
    pub handle: Option<String>,
}

impl Identity {
    pub fn of_author(message: &NormalizedMessage) -> Self {
        Self {
            source: message.source,
            account: message.account.clone(),
            user_id: message.author.id.clone(),
            handle: message.author.handle.clone(),
        }
    }

    /// The customer a message is from or, for the brand's own messages, to.
    pub fn of_customer(message: &NormalizedMessage) -> Self {
        match (message.direction, &message.recipient_id) {
            (crate::message::Direction::Outbound, Some(recipient)) => Self {
                source: message.source,
                account: message.account.clone(),
                user_id: recipient.clone(),
                handle: None,
            },
            _ => Self::of_author(message),
        }
    }

    /// The lookup key of this identity; equal to [`NormalizedMessage::author_key`].
    pub fn key(&self) -> String {
        scoped_key(self.source, &self.account, &self.user_id)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub account: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub identities: Vec<Identity>,
    /// The ticket their latest message went to; their next message joins it while it is
    /// active (open or pending).
    pub latest_ticket_id: Option<TicketId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When socialcare last acknowledged them automatically (one a day at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Other customers' tickets they wrote in (an answer in someone else's public thread), the
    /// latest last, at most [`Customer::MOST_ELSEWHERE`]: what their erasure reaches besides
    /// their own tickets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elsewhere: Vec<TicketId>,
    /// Bumped on every write; writes are conditional on it.
    pub version: u64,
}

impl Customer {
    /// How many of other customers' tickets a customer's record remembers writing in (it
    /// stays a small item; past this, the oldest is forgotten).
    pub const MOST_ELSEWHERE: usize = 100;

    /// Remembers that they wrote in `ticket`, another customer's.
    pub fn wrote_elsewhere(&mut self, ticket: &TicketId) {
        if self.elsewhere.contains(ticket) {
            return;
        }
        self.elsewhere.push(ticket.clone());
        if self.elsewhere.len() > Self::MOST_ELSEWHERE {
            self.elsewhere.remove(0);
        }
    }
}

/// The audit record of a customer's erasure: who asked, when it was done and how much it
/// covered. It holds no personal data: the customer's id names nobody once they are gone.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub customer_id: CustomerId,
    /// The brand account the customer wrote to.
    pub account: String,
    /// The name of the API key (the admin) who asked.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Unset while it is under way: asking again finishes it.
    pub completed_at: Option<DateTime<Utc>>,
    /// The customer's tickets, and the messages that were erased: those on their tickets and
    /// theirs on other customers' tickets.
    pub tickets: u32,
    pub messages: u32,
    /// Of `messages`, those on other customers' tickets.
    #[serde(default)]
    pub elsewhere: u32,
}

/// The record of a merge: the customer `customer_id` was found to be the same person as
/// `into`, and everything of theirs moved there. Keyed by the merged-away customer, whose id
/// is gone otherwise: it tells where they went, and makes asking again harmless.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// The customer merged away.
    pub customer_id: CustomerId,
    /// The customer who has their identities and tickets now.
    pub into: CustomerId,
    pub account: String,
    /// The name of the API key (the agent or admin) who merged them.
    pub merged_by: String,
    pub requested_at: DateTime<Utc>,
    /// Unset while it is under way: asking again finishes it.
    pub completed_at: Option<DateTime<Utc>>,
    /// How many identities and tickets moved.
    pub identities: u32,
    pub tickets: u32,
}

/// A way to reach a customer, as compared: an e-mail address in lowercase, a phone number's
/// last nine digits (the same number written with or without its country code), an order
/// number in uppercase.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Contact {
    pub kind: ContactKind,
    pub value: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Email,
    Phone,
    Order,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
            ContactKind::Order => "order",
        }
    }
}

impl Contact {
    /// What it is looked up by: `email:ann@example.com`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }
}

/// A contact a customer gave (in a private message) or writes from (an e-mail identity): what
/// two customers who turn out to be one person have in common.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactNote {
    pub contact: Contact,
    /// As they wrote it (a phone number with its spaces), for people to read.
    pub written: String,
    pub customer_id: CustomerId,
    /// The ticket of the message that gave it.
    pub ticket_id: TicketId,
    pub noted_at: DateTime<Utc>,
    /// Their own address, authenticated by the mail service that delivered their message,
    /// rather than words anyone could type.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
}

/// What a report says happened to the message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// It could not be delivered, for good (a temporary failure is not reported here).
    Bounce,
    /// Its recipient reported it as spam.
    Complaint,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Bounce => "bounce",
            FeedbackKind::Complaint => "complaint",
        }
    }
}

/// An address mail is not sent to: it bounced, or its owner complained.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactMark {
    pub contact: Contact,
    pub kind: FeedbackKind,
    pub detail: String,
    /// When the report came.
    pub at: DateTime<Utc>,
    /// The reply it was about.
    pub ticket_id: TicketId,
    pub message_id: MessageId,
}

/// What is known of an address's mail: its latest mark, and when its owner last wrote from it
/// (any mail, and a mail whose sender the mail service authenticated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactMarks {
    pub mark: Option<ContactMark>,
    pub written_at: Option<DateTime<Utc>>,
    pub verified_written_at: Option<DateTime<Utc>>,
}

impl ContactMarks {
    /// The mark, unless they wrote from the address since it was made: any mail from it undoes
    /// a bounce (the mailbox is there); only an authenticated one a complaint (anyone can
    /// write an address in From, and mail to someone who called it spam hurts every reply).
    /// A report that comes again after that is no news.
    pub fn in_force(self) -> Option<ContactMark> {
        let mark = self.mark?;
        let undone_at = match mark.kind {
            FeedbackKind::Bounce => self.written_at,
            FeedbackKind::Complaint => self.verified_written_at,
        };
        undone_at.is_none_or(|at| at < mark.at).then_some(mark)
    }
}

impl ContactMark {
    /// Why a reply to this address is not sent, for the agent who wrote it.
    pub fn why_not_sent(&self) -> String {
        let what = match self.kind {
            FeedbackKind::Bounce => "could not be delivered to",
            FeedbackKind::Complaint => "was reported as spam by",
        };
        format!(
            "not sent: mail {what} {} on {} ({}); nothing more goes to it until they write from it again{}",
            self.contact.value,
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.detail,
            match self.kind {
                FeedbackKind::Bounce => "",
                FeedbackKind::Complaint => " (a mail whose sender is authenticated)",
            }
        )
    }
}
