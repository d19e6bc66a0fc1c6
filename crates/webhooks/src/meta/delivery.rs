//! A Meta webhook POST: `object` (`page` or `instagram`) and `entry[]`, each entry for one brand
//! account (`entry.id`: page id or Instagram account id) with `changes[]` (feed, comments,
//! mentions) and `messaging[]` / `standby[]` (private messages).

use crate::payload::{Delivery, PayloadError, parse};
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use socialcare_domain::{
    Attachment, Author, ChangeKind, Channel, Direction, MessageChange, NormalizedMessage, Source,
};
use std::collections::BTreeMap;

/// Meta sends ids as strings, and in older payloads as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(Id(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Number(number) => number.to_string(),
        }))
    }
}

#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    object: String,
    #[serde(borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Debug, Deserialize)]
struct Entry<'a> {
    id: Id,
    /// Seconds for `changes`, milliseconds for `messaging`.
    time: Option<i64>,
    #[serde(default, borrow)]
    changes: Vec<Change<'a>>,
    #[serde(default)]
    messaging: Vec<Messaging>,
    #[serde(default)]
    standby: Vec<Messaging>,
}

#[derive(Debug, Deserialize)]
struct Change<'a> {
    field: String,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
struct Person {
    id: Id,
    name: Option<String>,
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FeedValue {
    item: Option<String>,
    verb: Option<String>,
    comment_id: Option<Id>,
    post_id: Option<Id>,
    parent_id: Option<Id>,
    from: Option<Person>,
    sender_id: Option<Id>,
    sender_name: Option<String>,
    created_time: Option<i64>,
    message: Option<String>,
    photo: Option<String>,
    video: Option<String>,
    link: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InstagramMedia {
    id: Id,
}

#[derive(Debug, Deserialize)]
struct InstagramComment {
    id: Id,
    text: Option<String>,
    from: Option<Person>,
    parent_id: Option<Id>,
    media: Option<InstagramMedia>,
}

#[derive(Debug, Deserialize)]
struct InstagramMention {
    comment_id: Option<Id>,
    media_id: Option<Id>,
}

#[derive(Debug, Deserialize)]
struct Party {
    id: Id,
}

#[derive(Debug, Deserialize)]
struct AttachmentPayload {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessengerAttachment {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<AttachmentPayload>,
}

#[derive(Debug, Deserialize)]
struct ReplyTo {
    mid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessengerMessage {
    mid: Option<String>,
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    attachments: Vec<MessengerAttachment>,
    reply_to: Option<ReplyTo>,
}

#[derive(Debug, Deserialize)]
struct Messaging {
    sender: Party,
    recipient: Party,
    timestamp: Option<i64>,
    message: Option<MessengerMessage>,
    /// delivery, read, reaction, postback, optin, referral...: accepted, not messages.
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

/// One entry's account and clock, shared by everything in it.
struct Context<'e> {
    source: Source,
    account: &'e str,
    entry_time: Option<DateTime<Utc>>,
}

/// Seconds or milliseconds since the epoch (Meta uses both; anything past 10^12 is ms).
fn epoch(raw: i64) -> Option<DateTime<Utc>> {
    if raw.abs() >= 1_000_000_000_000 {
        Utc.timestamp_millis_opt(raw).single()
    } else {
        Utc.timestamp_opt(raw, 0).single()
    }
}

/// Someone the payload does not name (mentions carry no author): one per message, until a
/// Graph API lookup can tell who it was.
fn unknown_author(external_id: &str) -> Author {
    Author {
        id: format!("unknown:{external_id}"),
        name: None,
        handle: None,
        email: None,
        followers: None,
        verified_email: false,
    }
}

pub fn parse_delivery(body: &[u8]) -> Result<Delivery, PayloadError> {
    let envelope: Envelope = parse(body)?;
    let source = match envelope.object.as_str() {
        "page" => Source::Facebook,
        "instagram" => Source::Instagram,
        other => {
            return Err(PayloadError::field(
                "object",
                &format!("is {other:?}; socialcare subscribes to page and instagram"),
            ));
        }
    };
    let mut delivery = Delivery::default();
    for entry in &envelope.entry {
        if entry.id.0.trim().is_empty() {
            return Err(PayloadError::field("entry.id", "must not be empty"));
        }
        let context = Context {
            source,
            account: &entry.id.0,
            entry_time: entry.time.and_then(epoch),
        };
        for change in &entry.changes {
            context.change(change, &mut delivery)?;
        }
        for (event, label) in entry
            .messaging
            .iter()
            .map(|e| (e, "messaging"))
            .chain(entry.standby.iter().map(|e| (e, "standby")))
        {
            context.messaging(event, label, &mut delivery);
        }
    }
    Ok(delivery)
}

fn value<'a, T: Deserialize<'a>>(change: &Change<'a>) -> Result<T, PayloadError> {
    let raw = change
        .value
        .ok_or_else(|| PayloadError::field(&format!("{}.value", change.field), "is missing"))?;
    serde_json::from_str(raw.get())
        .map_err(|e| PayloadError::field(&format!("{}.value", change.field), &e.to_string()))
}

impl Context<'_> {
    fn message(
        &self,
        channel: Channel,
        external_id: String,
        author: Author,
        text: String,
        created_at: Option<DateTime<Utc>>,
    ) -> Option<NormalizedMessage> {
        let direction = if author.id == self.account {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        Some(NormalizedMessage {
            source: self.source,
            account: self.account.to_string(),
            channel,
            direction,
            external_id,
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author,
            text,
            attachments: Vec::new(),
            created_at: created_at.or(self.entry_time)?,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        })
    }

    fn changed(
        &self,
        external_id: String,
        change: ChangeKind,
        at: Option<DateTime<Utc>>,
    ) -> Option<MessageChange> {
        Some(MessageChange {
            source: self.source,
            account: self.account.to_string(),
            external_id,
            change,
            at: at.or(self.entry_time)?,
        })
    }

    fn change(&self, change: &Change, delivery: &mut Delivery) -> Result<(), PayloadError> {
        let ignored = |delivery: &mut Delivery, what: String| delivery.ignored.push(what);
        match (self.source, change.field.as_str()) {
            (Source::Facebook, "feed") => self.feed(value(change)?, delivery),
            (Source::Facebook, "mention") => {
                let mention: FeedValue = value(change)?;
                let id = mention.comment_id.as_ref().or(mention.post_id.as_ref());
                match (mention.verb.as_deref(), id) {
                    (Some("add"), Some(id)) => {
                        let author = unknown_author(&id.0);
                        let at = mention.created_time.and_then(epoch);
                        let text = mention.message.clone().unwrap_or_default();
                        if let Some(mut message) =
                            self.message(Channel::Public, id.0.clone(), author, text, at)
                        {
                            message.thread_id = mention.post_id.map(|p| p.0);
                            delivery.messages.push(message);
                        }
                    }
                    (verb, _) => ignored(delivery, format!("mention:{}", verb.unwrap_or("?"))),
                }
            }
            (Source::Instagram, "comments" | "live_comments") => {
                let comment: InstagramComment = value(change)?;
                let author = match &comment.from {
                    Some(from) => Author {
                        id: from.id.0.clone(),
                        name: from.name.clone(),
                        handle: from.username.clone(),
                        email: None,
                        followers: None,
                        verified_email: false,
                    },
                    None => unknown_author(&comment.id.0),
                };
                let text = comment.text.clone().unwrap_or_default();
                if let Some(mut message) =
                    self.message(Channel::Public, comment.id.0.clone(), author, text, None)
                {
                    message.in_reply_to = comment.parent_id.map(|p| p.0);
                    message.thread_id = comment.media.map(|m| m.id.0);
                    delivery.messages.push(message);
                }
            }
            (Source::Instagram, "mentions") => {
                let mention: InstagramMention = value(change)?;
                // A mention in a comment names the comment; one in a caption only the media.
                let Some(id) = mention.comment_id.as_ref().or(mention.media_id.as_ref()) else {
                    return Err(PayloadError::field(
                        "mentions.value",
                        "names neither comment_id nor media_id",
                    ));
                };
                let author = unknown_author(&id.0);
                if let Some(mut message) =
                    self.message(Channel::Public, id.0.clone(), author, String::new(), None)
                {
                    message.thread_id = mention.media_id.map(|m| m.0);
                    delivery.messages.push(message);
                }
            }
            (_, field) => ignored(delivery, format!("{}:{field}", self.source)),
        }
        Ok(())
    }

    /// A Page feed change: comments and posts added, edited, removed, hidden.
    fn feed(&self, feed: FeedValue, delivery: &mut Delivery) {
        let item = feed.item.clone().unwrap_or_default();
        let verb = feed.verb.clone().unwrap_or_default();
        let external_id = match item.as_str() {
            "comment" => feed.comment_id.clone(),
            "post" | "status" | "photo" | "video" | "share" | "link" => feed.post_id.clone(),
            _ => None,
        };
        let Some(Id(external_id)) = external_id else {
            delivery.ignored.push(format!("feed:{item}:{verb}"));
            return;
        };
        let at = feed.created_time.and_then(epoch);
        match verb.as_str() {
            "add" => {
                let author = match (&feed.from, &feed.sender_id) {
                    (Some(from), _) => Author {
                        id: from.id.0.clone(),
                        name: from.name.clone(),
                        handle: None,
                        email: None,
                        followers: None,
                        verified_email: false,
                    },
                    (None, Some(sender)) => Author {
                        id: sender.0.clone(),
                        name: feed.sender_name.clone(),
                        handle: None,
                        email: None,
                        followers: None,
                        verified_email: false,
                    },
                    (None, None) => unknown_author(&external_id),
                };
                let text = feed.message.clone().unwrap_or_default();
                let Some(mut message) =
                    self.message(Channel::Public, external_id, author, text, at)
                else {
                    delivery.ignored.push(format!("feed:{item}:{verb}:no-time"));
                    return;
                };
                if item == "comment" {
                    message.in_reply_to = feed.parent_id.map(|p| p.0);
                }
                message.thread_id = feed.post_id.map(|p| p.0);
                for (kind, url) in [
                    ("photo", &feed.photo),
                    ("video", &feed.video),
                    ("link", &feed.link),
                ] {
                    if let Some(url) = url {
                        message.attachments.push(Attachment {
                            kind: kind.into(),
                            url: url.clone(),
                            file: None,
                        });
                    }
                }
                delivery.messages.push(message);
            }
            "edited" => self.push_change(
                delivery,
                external_id,
                ChangeKind::Edited {
                    text: feed.message.unwrap_or_default(),
                },
                at,
            ),
            "remove" => self.push_change(delivery, external_id, ChangeKind::Removed, at),
            "hide" => self.push_change(delivery, external_id, ChangeKind::Hidden, at),
            _ => delivery.ignored.push(format!("feed:{item}:{verb}")),
        }
    }

    fn push_change(
        &self,
        delivery: &mut Delivery,
        external_id: String,
        change: ChangeKind,
        at: Option<DateTime<Utc>>,
    ) {
        match self.changed(external_id, change, at) {
            Some(change) => delivery.changes.push(change),
            None => delivery.ignored.push("change:no-time".into()),
        }
    }

    /// A private message (Messenger or Instagram DM), or an event about one.
    fn messaging(&self, event: &Messaging, label: &str, delivery: &mut Delivery) {
        let Some(message) = &event.message else {
            let kind = event
                .other
                .keys()
                .next()
                .map(String::as_str)
                .unwrap_or("unknown");
            delivery.ignored.push(format!("{label}:{kind}"));
            return;
        };
        let Some(mid) = message.mid.clone() else {
            delivery
                .ignored
                .push(format!("{label}:message-without-mid"));
            return;
        };
        let at = event.timestamp.and_then(epoch);
        if message.is_deleted {
            self.push_change(delivery, mid, ChangeKind::Removed, at);
            return;
        }
        let (sender, recipient) = (&event.sender.id.0, &event.recipient.id.0);
        // An echo is the brand's own message; its customer is whichever side is not the brand.
        let customer = if message.is_echo {
            if sender == self.account {
                recipient
            } else {
                sender
            }
        } else {
            sender
        };
        let author_id = if message.is_echo {
            self.account
        } else {
            sender
        };
        let author = Author {
            id: author_id.to_string(),
            name: None,
            handle: None,
            email: None,
            followers: None,
            verified_email: false,
        };
        let text = message.text.clone().unwrap_or_default();
        let Some(mut normalized) = self.message(Channel::Private, mid, author, text, at) else {
            delivery.ignored.push(format!("{label}:no-time"));
            return;
        };
        normalized.in_reply_to = message.reply_to.as_ref().and_then(|r| r.mid.clone());
        normalized.conversation_id = Some(customer.clone());
        normalized.recipient_id = Some(if message.is_echo {
            customer.clone()
        } else {
            recipient.clone()
        });
        normalized.attachments = message
            .attachments
            .iter()
            .filter_map(|a| {
                Some(Attachment {
                    kind: a.kind.clone(),
                    url: a.payload.as_ref()?.url.clone()?,
                    file: None,
                })
            })
            .collect();
        delivery.messages.push(normalized);
    }
}
