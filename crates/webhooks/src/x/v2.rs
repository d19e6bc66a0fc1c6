//! Posts as the X API v2 answers them (recent search, post lookup): `data` with the posts,
//! `includes.users` with their authors (`expansions=author_id`), `meta` with the paging, and
//! `errors` for what could not be read. A post maps to the same normalized message as its
//! Account Activity copy: same source, account and id, so the same dedupe key.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use socialcare_domain::{Attachment, Author, Channel, Direction, NormalizedMessage, Source};

/// The `tweet.fields` every read asks for: what the normalized message needs.
pub const TWEET_FIELDS: &str = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,note_tweet,entities";
/// The `user.fields` of the authors.
pub const USER_FIELDS: &str = "name,username,public_metrics";

#[derive(Debug, Clone, Deserialize)]
pub struct Post {
    pub id: String,
    #[serde(default)]
    pub text: String,
    pub created_at: Option<DateTime<Utc>>,
    pub author_id: Option<String>,
    pub in_reply_to_user_id: Option<String>,
    #[serde(default)]
    pub referenced_tweets: Vec<Reference>,
    /// A post longer than 280 characters carries its whole text here.
    pub note_tweet: Option<NoteTweet>,
    pub entities: Option<Entities>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entities {
    #[serde(default)]
    pub mentions: Vec<Mention>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Mention {
    pub id: Option<String>,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NoteTweet {
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub public_metrics: Option<PublicMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PublicMetrics {
    pub followers_count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Includes {
    #[serde(default)]
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    pub newest_id: Option<String>,
    pub next_token: Option<String>,
}

/// A v2 problem about one resource (`Not Found Error`, `Authorization Error`).
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    pub title: Option<String>,
    pub detail: Option<String>,
}

impl Problem {
    pub fn words(&self) -> String {
        self.detail
            .clone()
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| "X gave no reason".into())
    }
}

/// A search page: posts, newest first, each read on its own (one X cannot be read does not
/// lose the page: see [`SearchAnswer::posts`]).
#[derive(Debug, Clone, Deserialize)]
pub struct SearchAnswer {
    #[serde(default)]
    pub data: Vec<serde_json::Value>,
    #[serde(default)]
    pub includes: Includes,
    #[serde(default)]
    pub meta: Meta,
}

/// One post looked up by its id: the post, or the problems that kept it back.
#[derive(Debug, Clone, Deserialize)]
pub struct LookupAnswer {
    pub data: Option<Post>,
    #[serde(default)]
    pub includes: Includes,
    #[serde(default)]
    pub errors: Vec<Problem>,
}

impl SearchAnswer {
    /// The posts that read as posts, and how many did not.
    pub fn posts(&self) -> (Vec<Post>, usize) {
        let mut unreadable = 0;
        let posts = self
            .data
            .iter()
            .filter_map(|raw| {
                serde_json::from_value(raw.clone())
                    .map_err(|_| unreadable += 1)
                    .ok()
            })
            .collect();
        (posts, unreadable)
    }
}

impl Post {
    /// Whether the post is addressed to the brand `account`: it mentions it, or replies to it.
    /// Such a post is a mention the webhook delivers too, whoever finds it first.
    pub fn addresses(&self, account: &str) -> bool {
        self.in_reply_to_user_id.as_deref() == Some(account)
            || self.entities.as_ref().is_some_and(|entities| {
                entities
                    .mentions
                    .iter()
                    .any(|mention| mention.id.as_deref() == Some(account))
            })
    }

    /// The normalized message of this post for the brand `account`; `None` for a retweet
    /// (nothing said to anyone) or a post without its author or time.
    pub fn normalize(&self, account: &str, users: &[User]) -> Option<NormalizedMessage> {
        let reference = |kind: &str| {
            self.referenced_tweets
                .iter()
                .find(|r| r.kind == kind)
                .map(|r| r.id.clone())
        };
        if reference("retweeted").is_some() {
            return None;
        }
        let author_id = self.author_id.clone()?;
        let created_at = self.created_at?;
        let user = users.iter().find(|u| u.id == author_id);
        let attachments = reference("quoted")
            .map(|quoted| Attachment {
                kind: "quoted_tweet".into(),
                url: format!("https://x.com/i/status/{quoted}"),
                file: None,
            })
            .into_iter()
            .collect();
        Some(NormalizedMessage {
            source: Source::X,
            account: account.to_string(),
            channel: Channel::Public,
            direction: match author_id == account {
                true => Direction::Outbound,
                false => Direction::Inbound,
            },
            external_id: self.id.clone(),
            in_reply_to: reference("replied_to"),
            thread_id: None,
            conversation_id: None,
            recipient_id: self.in_reply_to_user_id.clone(),
            author: Author {
                id: author_id,
                name: user.and_then(|u| u.name.clone()),
                handle: user.and_then(|u| u.username.clone()),
                email: None,
                followers: user
                    .and_then(|u| u.public_metrics.as_ref())
                    .and_then(|m| m.followers_count),
                verified_email: false,
            },
            text: self
                .note_tweet
                .as_ref()
                .map(|note| note.text.clone())
                .unwrap_or_else(|| self.text.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x::account_activity::parse_delivery;

    #[test]
    fn a_post_read_by_search_is_the_same_message_as_its_webhook_copy() {
        // The same tweet, as the fixtures' Account Activity delivery and as v2 gives it.
        let delivery = parse_delivery(
            br#"{"for_user_id":"100","tweet_create_events":[{"id_str":"1850000000000000001",
            "created_at":"Tue Dec 01 09:00:00 +0000 2026","text":"@acme my fibre is down",
            "in_reply_to_status_id_str":null,"in_reply_to_user_id_str":"100",
            "user":{"id_str":"7","name":"Ann","screen_name":"ann","followers_count":12}}]}"#,
        )
        .unwrap();
        let answer: SearchAnswer = serde_json::from_str(
            r#"{"data":[{"id":"1850000000000000001","text":"@acme my fibre is down",
            "created_at":"2026-12-01T09:00:00.000Z","author_id":"7","in_reply_to_user_id":"100",
            "edit_history_tweet_ids":["1850000000000000001"],
            "entities":{"mentions":[{"start":0,"end":5,"username":"acme","id":"100"}]}}],
            "includes":{"users":[{"id":"7","name":"Ann","username":"ann",
            "public_metrics":{"followers_count":12}}]},
            "meta":{"newest_id":"1850000000000000001","result_count":1}}"#,
        )
        .unwrap();
        let (posts, unreadable) = answer.posts();
        assert_eq!(unreadable, 0);
        assert!(posts[0].addresses("100"), "it mentions the brand");
        assert!(!posts[0].addresses("200"));
        let searched = posts[0].normalize("100", &answer.includes.users).unwrap();
        assert_eq!(searched, delivery.messages[0]);
        assert_eq!(searched.dedupe_key(), delivery.messages[0].dedupe_key());
    }

    #[test]
    fn replies_long_posts_quotes_and_retweets() {
        let answer: SearchAnswer = serde_json::from_str(
            r#"{"data":[
              {"id":"3","text":"short…","created_at":"2026-12-01T09:00:00Z","author_id":"100",
               "in_reply_to_user_id":"7","note_tweet":{"text":"the whole long answer"},
               "referenced_tweets":[{"type":"replied_to","id":"2"},{"type":"quoted","id":"1"}]},
              {"id":"4","text":"RT","created_at":"2026-12-01T09:00:00Z","author_id":"8",
               "referenced_tweets":[{"type":"retweeted","id":"2"}]},
              {"id":"5","text":"no author","created_at":"2026-12-01T09:00:00Z"},
              {"id":6,"text":["not a post"]},
              {"id":"7","text":"mentions someone else","created_at":"2026-12-01T09:00:00Z",
               "author_id":"9","entities":{"mentions":[{"username":"bob","id":"55"}]}}
            ]}"#,
        )
        .unwrap();
        let (posts, unreadable) = answer.posts();
        assert_eq!(
            (posts.len(), unreadable),
            (4, 1),
            "one post X sent oddly loses only it"
        );
        assert!(!posts[3].addresses("100"));
        let reply = posts[0].normalize("100", &[]).unwrap();
        assert_eq!(reply.direction, Direction::Outbound);
        assert_eq!(reply.in_reply_to.as_deref(), Some("2"));
        assert_eq!(reply.recipient_id.as_deref(), Some("7"));
        assert_eq!(reply.text, "the whole long answer");
        assert_eq!(reply.attachments[0].url, "https://x.com/i/status/1");
        assert_eq!(reply.author.handle, None);
        assert!(posts[1].normalize("100", &[]).is_none());
        assert!(posts[2].normalize("100", &[]).is_none());
    }
}
