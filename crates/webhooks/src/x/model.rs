//! Tweets and direct messages as X's v1.1 objects carry them, and how each maps to the
//! normalized message. Nothing here depends on the envelope that delivered them.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use socialcare_domain::{
    Attachment, Author, ChangeKind, Channel, Direction, MessageChange, NormalizedMessage, Source,
};
use std::collections::HashMap;

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id_str: Option<String>,
    /// DM `users` maps carry `id` (a string) instead of `id_str`.
    pub id: Option<serde_json::Value>,
    pub name: Option<String>,
    pub screen_name: Option<String>,
    pub followers_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Media {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub media_url_https: Option<String>,
    pub expanded_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entities {
    #[serde(default)]
    pub media: Vec<Media>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExtendedTweet {
    pub full_text: Option<String>,
    pub extended_entities: Option<Entities>,
    pub entities: Option<Entities>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tweet {
    pub id_str: String,
    /// `Wed Oct 10 20:19:24 +0000 2018`
    pub created_at: Option<String>,
    /// Milliseconds since the epoch, as a string; more precise than `created_at`.
    pub timestamp_ms: Option<String>,
    pub text: Option<String>,
    /// Set by `tweet_mode=extended` deliveries.
    pub full_text: Option<String>,
    #[serde(default)]
    pub truncated: bool,
    pub extended_tweet: Option<ExtendedTweet>,
    pub in_reply_to_status_id_str: Option<String>,
    pub in_reply_to_user_id_str: Option<String>,
    pub quoted_status_id_str: Option<String>,
    /// Present on retweets, which are not messages to the brand.
    pub retweeted_status: Option<serde_json::Value>,
    pub user: User,
    pub entities: Option<Entities>,
    pub extended_entities: Option<Entities>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DmMedia {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub media_url_https: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DmAttachment {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub media: Option<DmMedia>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageData {
    #[serde(default)]
    pub text: String,
    pub attachment: Option<DmAttachment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub recipient_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageCreate {
    pub target: Target,
    pub sender_id: String,
    pub message_data: MessageData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DirectMessageEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// Milliseconds since the epoch, as a string.
    pub created_timestamp: String,
    pub message_create: Option<MessageCreate>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeletedStatus {
    pub id: String,
    pub user_id: Option<String>,
}

/// A tweet its author deleted.
#[derive(Debug, Clone, Deserialize)]
pub struct TweetDelete {
    pub status: DeletedStatus,
    pub timestamp_ms: Option<String>,
}

impl TweetDelete {
    pub fn normalize(&self, account: &str) -> Result<MessageChange, Skipped> {
        let at = self
            .timestamp_ms
            .as_deref()
            .and_then(from_millis)
            .ok_or(Skipped::Unreadable("timestamp_ms"))?;
        Ok(MessageChange {
            source: Source::X,
            account: account.to_string(),
            external_id: self.status.id.clone(),
            change: ChangeKind::Removed,
            at,
        })
    }
}

/// Why a tweet or DM yields no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A retweet: nothing was said to the brand.
    Retweet,
    /// A DM event that is not a message (X only sends `message_create` today).
    NotAMessage(String),
    /// A field the message cannot do without was absent or unreadable.
    Unreadable(&'static str),
}

fn from_millis(raw: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(raw.parse().ok()?).single()
}

fn from_v1_date(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(raw, "%a %b %d %H:%M:%S %z %Y")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Tweet {
    fn created(&self) -> Option<DateTime<Utc>> {
        self.timestamp_ms
            .as_deref()
            .and_then(from_millis)
            .or_else(|| self.created_at.as_deref().and_then(from_v1_date))
    }

    /// The whole text: long tweets carry it in `extended_tweet.full_text`.
    fn full_text(&self) -> String {
        let extended = self
            .extended_tweet
            .as_ref()
            .and_then(|e| e.full_text.clone())
            .filter(|_| self.truncated || self.text.is_none());
        extended
            .or_else(|| self.full_text.clone())
            .or_else(|| self.text.clone())
            .unwrap_or_default()
    }

    fn media(&self) -> &[Media] {
        let extended = self.extended_tweet.as_ref();
        [
            extended.and_then(|e| e.extended_entities.as_ref()),
            extended.and_then(|e| e.entities.as_ref()),
            self.extended_entities.as_ref(),
            self.entities.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|entities| entities.media.as_slice())
        .find(|media| !media.is_empty())
        .unwrap_or(&[])
    }

    /// The normalized message of a tweet delivered for the brand account `account`.
    pub fn normalize(&self, account: &str) -> Result<NormalizedMessage, Skipped> {
        if self.retweeted_status.is_some() {
            return Err(Skipped::Retweet);
        }
        let created_at = self.created().ok_or(Skipped::Unreadable("created_at"))?;
        let author_id = self
            .user
            .id_str
            .clone()
            .ok_or(Skipped::Unreadable("user.id_str"))?;
        let direction = if author_id == account {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let mut attachments: Vec<Attachment> = self
            .media()
            .iter()
            .filter_map(|m| {
                Some(Attachment {
                    kind: m.kind.clone().unwrap_or_else(|| "media".into()),
                    url: m
                        .media_url_https
                        .clone()
                        .or_else(|| m.expanded_url.clone())?,
                    file: None,
                })
            })
            .collect();
        if let Some(quoted) = &self.quoted_status_id_str {
            attachments.push(Attachment {
                kind: "quoted_tweet".into(),
                url: format!("https://x.com/i/status/{quoted}"),
                file: None,
            });
        }
        Ok(NormalizedMessage {
            source: Source::X,
            account: account.to_string(),
            channel: Channel::Public,
            direction,
            external_id: self.id_str.clone(),
            in_reply_to: self.in_reply_to_status_id_str.clone(),
            thread_id: None,
            conversation_id: None,
            recipient_id: self.in_reply_to_user_id_str.clone(),
            author: Author {
                id: author_id,
                name: self.user.name.clone(),
                handle: self.user.screen_name.clone(),
                email: None,
                followers: self.user.followers_count,
                verified_email: false,
            },
            text: self.full_text(),
            attachments,
            created_at,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        })
    }
}

impl User {
    fn id(&self) -> Option<String> {
        self.id_str.clone().or_else(|| match &self.id {
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(serde_json::Value::Number(id)) => Some(id.to_string()),
            _ => None,
        })
    }
}

impl DirectMessageEvent {
    /// The normalized message of a DM delivered for `account`; `users` describes the people
    /// in it (sender and recipient), keyed by id.
    pub fn normalize(
        &self,
        account: &str,
        users: &HashMap<String, User>,
    ) -> Result<NormalizedMessage, Skipped> {
        let Some(create) = self
            .message_create
            .as_ref()
            .filter(|_| self.kind == "message_create")
        else {
            return Err(Skipped::NotAMessage(self.kind.clone()));
        };
        let created_at =
            from_millis(&self.created_timestamp).ok_or(Skipped::Unreadable("created_timestamp"))?;
        let sender = &create.sender_id;
        let recipient = &create.target.recipient_id;
        let direction = if sender == account {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let profile = users
            .get(sender)
            .filter(|u| u.id().as_deref() == Some(sender.as_str()));
        let attachments = create
            .message_data
            .attachment
            .iter()
            .filter_map(|a| {
                let media = a.media.as_ref()?;
                Some(Attachment {
                    kind: media
                        .kind
                        .clone()
                        .or_else(|| a.kind.clone())
                        .unwrap_or_else(|| "media".into()),
                    url: media.media_url_https.clone()?,
                    file: None,
                })
            })
            .collect();
        // X names a one-to-one conversation by its two user ids, smaller first.
        let (low, high) = if sender <= recipient {
            (sender, recipient)
        } else {
            (recipient, sender)
        };
        Ok(NormalizedMessage {
            source: Source::X,
            account: account.to_string(),
            channel: Channel::Private,
            direction,
            external_id: self.id.clone(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: Some(format!("{low}-{high}")),
            recipient_id: Some(recipient.clone()),
            author: Author {
                id: sender.clone(),
                name: profile.and_then(|u| u.name.clone()),
                handle: profile.and_then(|u| u.screen_name.clone()),
                email: None,
                followers: profile.and_then(|u| u.followers_count),
                verified_email: false,
            },
            text: create.message_data.text.clone(),
            attachments,
            created_at,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        })
    }
}
