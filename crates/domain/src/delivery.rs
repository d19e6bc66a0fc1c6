//! How a reply is getting to the customer: where it is posted and how far its posting got.
//! A record kept on the reply ([`crate::message::Message::delivery`]); [`crate::replies`]
//! moves it along.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a reply is posted, chosen when it is written.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// In the public thread, answering the platform message `to` (a tweet, a post or comment).
    Public { to: String },
    /// A direct message to the platform user `to`. Meta delivers one only within 24 hours of
    /// the customer's last message: until `window_ends`.
    Direct {
        to: String,
        window_ends: Option<DateTime<Utc>>,
    },
    /// Facebook and Instagram: a private reply to the comment `comment_id`, which opens a
    /// conversation with its author (once per comment, within 7 days).
    PrivateReply { comment_id: String },
    /// An integrator's system: the reply is POSTed to this URL, signed.
    Callback { url: String },
    /// An e-mail to the address `to`, keeping the thread: its subject, the message it
    /// answers (`In-Reply-To`) and the thread's earlier messages (`References`).
    Email {
        /// The mailbox it is sent from: the one the customer wrote to.
        #[serde(default)]
        from: String,
        to: String,
        subject: String,
        in_reply_to: String,
        references: Vec<String>,
    },
}

impl Target {
    /// The same kind of target with nothing that names the customer (see
    /// [`crate::privacy`]).
    pub fn erased(&self) -> Target {
        match self {
            Target::Public { .. } => Target::Public { to: String::new() },
            Target::Direct { window_ends, .. } => Target::Direct {
                to: String::new(),
                window_ends: *window_ends,
            },
            Target::PrivateReply { .. } => Target::PrivateReply {
                comment_id: String::new(),
            },
            Target::Callback { .. } => Target::Callback { url: String::new() },
            Target::Email { from, .. } => Target::Email {
                from: from.clone(),
                to: String::new(),
                subject: String::new(),
                in_reply_to: String::new(),
                references: Vec::new(),
            },
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Written and queued; not posted yet (or waiting to try again).
    Pending,
    /// A worker is posting it.
    Sending,
    /// The platform accepted it: `platform_id` is its id there.
    Sent,
    /// It will not be posted: `error` says why.
    Failed,
    /// An attempt died after calling the platform, which may have posted it; it is not posted
    /// again. The platform's echo of the post turns it `sent`.
    Unconfirmed,
}

/// How a reply is getting to the customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub target: Target,
    /// Written by socialcare (an acknowledgement), not by a person.
    #[serde(default)]
    pub automatic: bool,
    /// Calls made to the platform so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the current call started (`sending`).
    #[serde(default)]
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub platform_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Why it failed, or the last reason it is still waiting (the platform's words).
    pub error: Option<String>,
}

impl Delivery {
    pub fn pending(target: Target, automatic: bool) -> Self {
        Self {
            state: DeliveryState::Pending,
            target,
            automatic,
            attempts: 0,
            attempt_started_at: None,
            platform_id: None,
            sent_at: None,
            error: None,
        }
    }
}
