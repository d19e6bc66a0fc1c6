//! Searches: what an account listens for (its queries) and how far each search has read, with
//! what it heard and did not ticket. [`crate::listening`] polls them.

use crate::message::{NormalizedMessage, Source};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most queries one account may have: each is a request every few minutes.
pub const MOST_QUERIES: usize = 10;
/// X's recent search takes queries of at most 512 characters.
pub const QUERY_MOST_CHARS: usize = 512;
/// How many results that were not ticketed a search keeps, newest first, to be seen.
pub const HEARD_KEPT: usize = 20;
/// How far back a search reads the first time it runs (recent search reaches 7 days; the
/// brand wants what is being said now, not a week of backlog).
pub const FIRST_LOOK_BACK: Duration = Duration::hours(1);

/// What an account listens for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listening {
    /// Search queries in the platform's own syntax, e.g. `acme -from:acme -is:retweet`.
    #[serde(default)]
    pub queries: Vec<String>,
    /// How often each query is polled (the scheduler runs every minute).
    #[serde(default = "five")]
    pub every_minutes: u32,
}

fn five() -> u32 {
    5
}

impl Default for Listening {
    fn default() -> Self {
        Self {
            queries: Vec::new(),
            every_minutes: five(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListeningError {
    #[error("listening: at most {MOST_QUERIES} queries")]
    TooManyQueries,
    #[error("listening: a query must not be empty")]
    EmptyQuery,
    #[error("listening: a query has at most {QUERY_MOST_CHARS} characters")]
    LongQuery,
    #[error("listening: the query {0:?} is listed twice")]
    DuplicateQuery(String),
    #[error("listening: every_minutes must be from 1 to 1440")]
    Every,
    #[error(
        "listening: {0:?} is not a hashtag (one word of letters, digits and _, with or without #)"
    )]
    NotAHashtag(String),
}

impl Listening {
    pub fn check(&self) -> Result<(), ListeningError> {
        if self.queries.len() > MOST_QUERIES {
            return Err(ListeningError::TooManyQueries);
        }
        let mut seen = std::collections::BTreeSet::new();
        for query in &self.queries {
            if query.trim().is_empty() {
                return Err(ListeningError::EmptyQuery);
            }
            if query.chars().count() > QUERY_MOST_CHARS {
                return Err(ListeningError::LongQuery);
            }
            if !seen.insert(query.trim()) {
                return Err(ListeningError::DuplicateQuery(query.clone()));
            }
        }
        if !(1..=1440).contains(&self.every_minutes) {
            return Err(ListeningError::Every);
        }
        Ok(())
    }

    /// [`Self::check`], and each query is a hashtag (`#acmefibre`): what Instagram searches.
    pub fn check_hashtags(&self) -> Result<(), ListeningError> {
        self.check()?;
        match self.queries.iter().find(|q| hashtag(q).is_none()) {
            Some(query) => Err(ListeningError::NotAHashtag(query.clone())),
            None => Ok(()),
        }
    }

    pub fn every(&self) -> Duration {
        Duration::minutes(i64::from(self.every_minutes))
    }
}

/// `#AcmeFibre` → `acmefibre`: a hashtag as Instagram searches it (no `#`, one word of
/// letters, digits and `_`, at most 100 characters), if the query is one.
pub fn hashtag(query: &str) -> Option<String> {
    let tag = query.trim().trim_start_matches('#').to_lowercase();
    (!tag.is_empty()
        && tag.chars().count() <= 100
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_'))
    .then_some(tag)
}

/// How far a search has read, and what it heard: one small record per account and query.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchState {
    pub source: Source,
    pub account: String,
    pub query: String,
    /// The newest result read: the next poll asks only for newer ones.
    pub since_id: Option<String>,
    /// A poll that stopped between pages goes on from here.
    #[serde(default)]
    pub resume: Option<Resume>,
    /// Not polled before this: the query's interval, or the platform's rate limit.
    pub next_poll_at: Option<DateTime<Utc>>,
    pub last_polled_at: Option<DateTime<Utc>>,
    /// Why the last poll failed, until one succeeds.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Results read, all told (a post that addresses the brand is counted and queued like
    /// the webhook's copy of it, whatever triage says).
    #[serde(default)]
    pub found: u64,
    /// Results queued to become messages on tickets.
    #[serde(default)]
    pub ticketed: u64,
    /// Results not ticketed, by triage's intent (`praise`, `noise`).
    #[serde(default)]
    pub heard: BTreeMap<String, u64>,
    /// The latest results not ticketed, newest first, at most [`HEARD_KEPT`].
    #[serde(default)]
    pub latest_heard: Vec<Heard>,
    /// 0 before the first write; each write one more.
    pub version: u64,
}

/// Where a poll that stopped between pages goes on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The platform's token for the next page.
    pub next_token: String,
    /// The newest result of the poll's first page: the `since_id` once the poll is done.
    pub newest_id: String,
    /// The first poll's lower bound, asked again with every page of it.
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
}

/// A result that was heard, not ticketed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    pub external_id: String,
    pub author_handle: Option<String>,
    pub text: String,
    pub at: DateTime<Utc>,
    pub intent: String,
    /// Where it is seen on the platform (an Instagram post's permalink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl SearchState {
    /// A query never polled.
    pub fn new(source: Source, account: &str, query: &str) -> Self {
        Self {
            source,
            account: account.to_string(),
            query: query.to_string(),
            since_id: None,
            resume: None,
            next_poll_at: None,
            last_polled_at: None,
            last_error: None,
            found: 0,
            ticketed: 0,
            heard: BTreeMap::new(),
            latest_heard: Vec::new(),
            version: 0,
        }
    }

    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_poll_at.is_none_or(|at| at <= now)
    }

    /// What to ask the platform for next.
    pub fn request(&self, now: DateTime<Utc>) -> SearchRequest {
        SearchRequest {
            query: self.query.clone(),
            since_id: self.since_id.clone(),
            next_token: self.resume.as_ref().map(|r| r.next_token.clone()),
            // The first poll looks back a little (each of its pages with the same bound);
            // later ones go on from the newest read.
            start_time: match (&self.since_id, &self.resume) {
                (None, None) => Some(now - FIRST_LOOK_BACK),
                (_, Some(resume)) => resume.start_time,
                (Some(_), None) => None,
            },
        }
    }
}

/// One request of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: String,
    pub since_id: Option<String>,
    pub next_token: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPage {
    pub messages: Vec<NormalizedMessage>,
    /// The newest result's id (X's `meta.newest_id`; on Instagram, where ids say nothing of
    /// order, its time); none when the page is empty.
    pub newest_id: Option<String>,
    /// More (older) results wait behind this token.
    pub next_token: Option<String>,
    /// Where each result is seen on the platform, by its id, when the platform says.
    pub links: BTreeMap<String, String>,
}
