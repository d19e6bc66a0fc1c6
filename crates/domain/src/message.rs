//! Messages: the one normalized shape every source (X, Facebook, Instagram, integrators) maps
//! to, and the message as it sits on a ticket.

use crate::ids::{MessageId, TicketId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    X,
    Facebook,
    Instagram,
    Integration,
    /// E-mail to one of the brand's mailboxes.
    Email,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::X => "x",
            Source::Facebook => "facebook",
            Source::Instagram => "instagram",
            Source::Integration => "integration",
            Source::Email => "email",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Public (a post, reply or comment anyone can see) or private (a DM).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Public,
    Private,
}

/// Inbound: written by the customer. Outbound: written by the brand.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The platform's user id (X user id, page-scoped id, integrator's customer id).
    pub id: String,
    pub name: Option<String>,
    pub handle: Option<String>,
    pub email: Option<String>,
    pub followers: Option<u64>,
    /// Whether `email` is known to be theirs: the receiving mail service authenticated the
    /// message they sent from it (SPF or DKIM, with DMARC). Only such an address merges two
    /// customers on its own (see [`crate::contacts`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified_email: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// image, video, audio, file, link...: what the platform called it.
    pub kind: String,
    /// Where it is: the platform's address, or for a file socialcare keeps (an e-mail's),
    /// the console's `/attachments/<sha256>`; empty when it was not kept.
    pub url: String,
    /// A file that came with the message (an e-mail's attachment): its name, type and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<AttachedFile>,
}

/// What is known of an attached file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedFile {
    /// As the sender named it (cleaned of paths and control characters).
    pub name: String,
    /// The MIME type the sender gave (`image/png`); not trusted to display it.
    pub content_type: String,
    pub size: u64,
    /// Its SHA-256 (hex): what it is stored and served under.
    pub sha256: String,
}

/// A message as the webhook understood it, before it is on a ticket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedMessage {
    pub source: Source,
    /// The brand account it was sent to or by: X user id, page id, Instagram id, or for
    /// integrators the integration's name.
    pub account: String,
    pub channel: Channel,
    pub direction: Direction,
    /// The platform's id of this message; unique per (source, account).
    pub external_id: String,
    /// The platform's id of the message this one answers.
    pub in_reply_to: Option<String>,
    /// The public thread it belongs to: the post a comment is on, the tweet a reply chain
    /// started from, when the platform says.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// The private conversation it belongs to (a DM conversation), when the platform says.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The platform user it is addressed to (a DM's recipient, the author replied to), when
    /// known: for the brand's own messages, that is the customer.
    #[serde(default)]
    pub recipient_id: Option<String>,
    pub author: Author,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the platform says it was written. Every ticket time derives from these.
    pub created_at: DateTime<Utc>,
    /// Where replies to this customer are posted (integrators only).
    pub callback_url: Option<String>,
    /// How socialcare came to hear of it, when no platform pushed it: a search found it, or it
    /// was fetched because a reply answered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_by: Option<FoundBy>,
    /// An e-mail's subject: the ticket's subject when it opens one, and what a reply keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What was trimmed from `text`: an e-mail's quoted history and signature, kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<String>,
    /// An e-mail's HTML part as sent, made safe to show (no scripts, styles, images, forms or
    /// frames; links only to the web and mail): for a sandboxed frame, never for the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// An e-mail subject without the `Re:`, `Fwd:` (and localized `AW:`, `WG:`, `SV:`, `RE:`...)
/// that replies and forwards put before it.
pub fn without_reply_prefix(subject: &str) -> &str {
    const PREFIXES: [&str; 10] = [
        "re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "vs:", "tr:", "réf:", "rÉf:",
    ];
    let mut rest = subject.trim();
    // Each turn looks at a few bytes only, and a subject of prefixes ends after a few.
    for _ in 0..20 {
        let prefix = PREFIXES.iter().find(|p| {
            rest.as_bytes()
                .get(..p.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(p.as_bytes()))
        });
        match prefix.and_then(|p| rest.get(p.len()..)) {
            Some(after) => rest = after.trim_start(),
            None => return rest,
        }
    }
    rest
}

/// How a message nobody pushed was found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum FoundBy {
    /// One of the account's search queries found it (it did not address the brand).
    Search { query: String },
    /// A reply answered it and socialcare fetched it from the platform.
    Lookup,
}

impl NormalizedMessage {
    /// What makes a message unique: a platform never reuses an id within an account.
    pub fn dedupe_key(&self) -> String {
        self.dedupe_key_of(&self.external_id)
    }

    /// The dedupe key of another message of the same source and account (the one answered).
    pub fn dedupe_key_of(&self, external_id: &str) -> String {
        scoped_key(self.source, &self.account, external_id)
    }

    /// The author as the platform knows them.
    pub fn author_key(&self) -> String {
        scoped_key(self.source, &self.account, &self.author.id)
    }

    /// The customer this message is from or, for the brand's own messages, to; one customer's
    /// messages are ingested in order.
    pub fn customer_key(&self) -> String {
        match (self.direction, &self.recipient_id) {
            (Direction::Outbound, Some(customer)) => {
                scoped_key(self.source, &self.account, customer)
            }
            _ => self.author_key(),
        }
    }

    pub fn message_id(&self) -> MessageId {
        MessageId::derive(self.created_at, &self.dedupe_key())
    }
}

/// A platform telling that a message it delivered before has changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageChange {
    pub source: Source,
    pub account: String,
    /// The platform's id of the message that changed.
    pub external_id: String,
    pub change: ChangeKind,
    /// When the platform says it changed.
    pub at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    /// The author edited it; this is the new text.
    Edited { text: String },
    /// The author (or the platform) deleted it.
    Removed,
    /// The brand hid it from the public.
    Hidden,
}

impl MessageChange {
    /// The dedupe key of the message it changes.
    pub fn message_key(&self) -> String {
        scoped_key(self.source, &self.account, &self.external_id)
    }
}

/// An id that is unique within one source and brand account, made unique everywhere.
pub(crate) fn scoped_key(source: Source, account: &str, id: &str) -> String {
    format!("{source}:{account}:{id}")
}

/// A message on a ticket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub ticket_id: TicketId,
    #[serde(flatten)]
    pub body: NormalizedMessage,
    /// When socialcare received it (for operations, never for SLAs).
    pub received_at: DateTime<Utc>,
    /// The text before the author's first edit.
    #[serde(default)]
    pub original_text: Option<String>,
    /// Platform times of the latest edit, of the removal, of the hiding.
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub removed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub hidden_at: Option<DateTime<Utc>>,
    /// When its customer's data was erased at their request: the text, the attachments and
    /// whatever names them are gone, the place on the ticket stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    /// For replies written through socialcare: where it goes and whether it got there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::delivery::Delivery>,
    /// Bumped on every write; writes are conditional on it.
    #[serde(default = "first_version")]
    pub version: u64,
}

impl Message {
    /// Where it sits on its ticket: by platform time, then id, as one sortable string.
    pub fn sort_key(&self) -> String {
        format!(
            "{}#{}",
            crate::page::sortable_time(self.body.created_at),
            self.id
        )
    }
}

fn first_version() -> u64 {
    1
}

impl Message {
    /// A new message on a ticket, as it arrived.
    pub fn new(ticket_id: TicketId, body: NormalizedMessage, received_at: DateTime<Utc>) -> Self {
        Self {
            id: body.message_id(),
            ticket_id,
            body,
            received_at,
            original_text: None,
            edited_at: None,
            removed_at: None,
            hidden_at: None,
            erased_at: None,
            delivery: None,
            version: 1,
        }
    }

    /// The message with everything that tells of its customer erased: the text (and the
    /// original before edits), the attachments, the author's names, the addresses of the
    /// customer (the recipient, the callback, the DM conversation, which X names by both user
    /// ids, a reply's target). Kept: the platform's id of the message (its dedupe key: a replay
    /// of it is a duplicate, not a new message), its place and times on the ticket, its
    /// delivery's state and the platform's id of the post.
    pub fn erased(&self, at: DateTime<Utc>) -> Message {
        let body = &self.body;
        Message {
            body: NormalizedMessage {
                conversation_id: None,
                recipient_id: None,
                author: Author {
                    id: match body.direction {
                        // The brand's own account is not the customer's data.
                        Direction::Outbound => body.author.id.clone(),
                        Direction::Inbound => String::new(),
                    },
                    name: None,
                    handle: None,
                    email: None,
                    followers: None,
                    verified_email: false,
                },
                text: String::new(),
                attachments: Vec::new(),
                callback_url: None,
                found_by: None,
                subject: None,
                quoted: None,
                html: None,
                ..body.clone()
            },
            original_text: None,
            erased_at: Some(at),
            // Where a reply went names the customer (their user id, their integrator's
            // callback, their comment), and a failure's reason may quote it.
            delivery: self
                .delivery
                .as_ref()
                .map(|delivery| crate::delivery::Delivery {
                    target: delivery.target.erased(),
                    error: None,
                    ..delivery.clone()
                }),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The message after `change`, or `None` when the change is already reflected (a
    /// redelivery) or older than what is (platforms may deliver edits out of order).
    pub fn changed(&self, change: &MessageChange) -> Option<Message> {
        let mut next = self.clone();
        match &change.change {
            ChangeKind::Edited { text } => {
                // A removed or erased message keeps no text: a late edit cannot bring one back.
                if self.removed_at.is_some()
                    || self.erased_at.is_some()
                    || self.edited_at.is_some_and(|seen| seen >= change.at)
                {
                    return None;
                }
                next.original_text = Some(
                    self.original_text
                        .clone()
                        .unwrap_or_else(|| self.body.text.clone()),
                );
                next.body.text = text.clone();
                next.edited_at = Some(change.at);
            }
            ChangeKind::Removed if self.removed_at.is_none() => {
                // The platforms' terms: what its author deleted is deleted here too; that it
                // existed (and where it sat on the ticket) is kept.
                next.removed_at = Some(change.at);
                next.body.text.clear();
                next.body.attachments.clear();
                next.original_text = None;
            }
            ChangeKind::Hidden if self.hidden_at.is_none() => next.hidden_at = Some(change.at),
            ChangeKind::Removed | ChangeKind::Hidden => return None,
        }
        next.version = self.version + 1;
        Some(next)
    }
}

#[cfg(test)]
mod subject_tests {
    use super::without_reply_prefix;

    #[test]
    fn reply_and_forward_prefixes_are_not_the_subject() {
        assert_eq!(without_reply_prefix("Re: RE: Fwd: My bill"), "My bill");
        assert_eq!(without_reply_prefix("AW: WG: Rechnung"), "Rechnung");
        assert_eq!(without_reply_prefix("RÉF: facture"), "facture");
        assert_eq!(
            without_reply_prefix("Regarding my bill"),
            "Regarding my bill"
        );
        assert_eq!(without_reply_prefix("İstanbul office"), "İstanbul office");
        assert_eq!(without_reply_prefix("Re:"), "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, DeliveryState, Target};
    use chrono::TimeZone;

    #[test]
    fn an_erased_reply_keeps_where_it_sat_and_nothing_of_whom_it_went_to() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let body = NormalizedMessage {
            source: Source::X,
            account: "1100000000000000001".into(),
            channel: Channel::Private,
            direction: Direction::Outbound,
            external_id: "reply-1".into(),
            in_reply_to: Some("dm-1".into()),
            thread_id: None,
            conversation_id: Some("3001969357-1100000000000000001".into()),
            recipient_id: Some("3001969357".into()),
            author: Author {
                id: "1100000000000000001".into(),
                name: Some("Acme Care".into()),
                handle: Some("acme_care".into()),
                email: None,
                followers: None,
                verified_email: false,
            },
            text: "Sorry Ann, we have refunded card 4111".into(),
            attachments: vec![],
            created_at: at,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        };
        let mut reply = Message::new(TicketId::derive(at, "t"), body, at);
        reply.delivery = Some(Delivery {
            state: DeliveryState::Sent,
            platform_id: Some("1866".into()),
            error: Some("first try: 3001969357 could not be reached".into()),
            ..Delivery::pending(
                Target::Direct {
                    to: "3001969357".into(),
                    window_ends: None,
                },
                false,
            )
        });
        let erased = reply.erased(at);
        assert_eq!(erased.body.text, "");
        assert_eq!(erased.body.recipient_id, None);
        assert_eq!(erased.body.conversation_id, None);
        assert_eq!(
            erased.body.author.id, "1100000000000000001",
            "the brand's own"
        );
        assert_eq!(erased.body.author.name, None);
        assert_eq!(erased.body.in_reply_to.as_deref(), Some("dm-1"));
        assert!(
            !serde_json::to_string(&erased)
                .unwrap()
                .contains("3001969357")
        );
        let delivery = erased.delivery.clone().unwrap();
        assert_eq!(
            delivery.target,
            Target::Direct {
                to: String::new(),
                window_ends: None
            }
        );
        assert_eq!(delivery.error, None);
        assert_eq!(delivery.state, DeliveryState::Sent);
        assert_eq!(delivery.platform_id.as_deref(), Some("1866"));
        assert_eq!(erased.erased_at, Some(at));
        assert_eq!(erased.version, reply.version + 1);
    }
}
