//! The Account Activity API envelope: `for_user_id` names the brand account, and each kind of
//! activity comes in its own array.

use crate::payload::{Delivery, PayloadError, parse};
use crate::x::model::{DirectMessageEvent, Skipped, Tweet, TweetDelete, User};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
struct Envelope {
    for_user_id: String,
    #[serde(default)]
    tweet_create_events: Vec<Tweet>,
    #[serde(default)]
    direct_message_events: Vec<DirectMessageEvent>,
    #[serde(default)]
    tweet_delete_events: Vec<TweetDelete>,
    #[serde(default)]
    users: HashMap<String, User>,
    // Everything else (favorites, follows, blocks, mutes, typing and read indicators,
    // revocations) is accepted and not turned into messages.
    #[serde(flatten)]
    other: HashMap<String, serde::de::IgnoredAny>,
}

pub fn parse_delivery(body: &[u8]) -> Result<Delivery, PayloadError> {
    let envelope: Envelope = parse(body)?;
    if envelope.for_user_id.trim().is_empty() {
        return Err(PayloadError::field("for_user_id", "must not be empty"));
    }
    let account = envelope.for_user_id;
    let mut messages = Vec::new();
    // Activity arrays are named `*_events` (and `user_event`); other keys (`apps`,
    // `user_has_blocked`) describe the delivery.
    let mut ignored: Vec<String> = envelope
        .other
        .into_keys()
        .filter(|key| key.ends_with("_events") || key == "user_event")
        .collect();
    ignored.sort();
    let mut skip = |skipped: Skipped| {
        ignored.push(match skipped {
            Skipped::Retweet => "retweet".into(),
            Skipped::NotAMessage(kind) => format!("direct_message:{kind}"),
            Skipped::Unreadable(field) => format!("unreadable:{field}"),
        })
    };
    for tweet in &envelope.tweet_create_events {
        match tweet.normalize(&account) {
            Ok(message) => messages.push(message),
            Err(skipped) => skip(skipped),
        }
    }
    for event in &envelope.direct_message_events {
        match event.normalize(&account, &envelope.users) {
            Ok(message) => messages.push(message),
            Err(skipped) => skip(skipped),
        }
    }
    let mut changes = Vec::new();
    for deleted in &envelope.tweet_delete_events {
        match deleted.normalize(&account) {
            Ok(change) => changes.push(change),
            Err(skipped) => skip(skipped),
        }
    }
    Ok(Delivery {
        messages,
        changes,
        ignored,
    })
}
