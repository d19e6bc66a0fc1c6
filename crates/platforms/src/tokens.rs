//! The brand accounts' own tokens, as connected from the console and kept sealed in the store,
//! and what posting with them showed: the rate-limit headroom, or a refusal.

use crate::Answer;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use socialcare_domain::Source;
use socialcare_domain::tokens::RateHeadroom;
use std::sync::Arc;

/// A brand account's token: an X user token (OAuth 1.0a) or a Meta page token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountToken {
    X {
        access_token: String,
        access_token_secret: String,
    },
    Meta {
        page_token: String,
    },
}

impl std::fmt::Debug for AccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountToken::X { .. } => f.write_str("AccountToken::X(<redacted>)"),
            AccountToken::Meta { .. } => f.write_str("AccountToken::Meta(<redacted>)"),
        }
    }
}

/// The account's stored token, if any (the wiring opens it from the store); an error when it
/// could not be read or opened just now (the post is tried again later).
pub type TokenLookup = Arc<
    dyn Fn(Source, String) -> BoxFuture<'static, Result<Option<AccountToken>, String>>
        + Send
        + Sync,
>;

/// What a call with an account's token showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEvent {
    /// The platform took the token: whether the post went out, and the rate-limit headroom
    /// it reported, if it did.
    Used {
        source: Source,
        account: String,
        posted: bool,
        rate: Option<RateHeadroom>,
    },
    /// The platform refused the token itself (revoked, expired), in its words.
    Refused {
        source: Source,
        account: String,
        reason: String,
    },
}

/// Where token events go (the wiring records them as the account's health).
pub type TokenEvents = Arc<dyn Fn(TokenEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// X's rate-limit headers of an answer.
pub(crate) fn x_headroom(answer: &Answer) -> Option<RateHeadroom> {
    let header = |name: &str| {
        answer
            .headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    Some(RateHeadroom {
        remaining: header("x-rate-limit-remaining")?,
        limit: header("x-rate-limit-limit")?,
        resets_at: header("x-rate-limit-reset")
            .and_then(|s| i64::try_from(s).ok())
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
    })
}

/// Whether an answer of X refuses the user token itself: 401 (X's code 32, 89 or 215).
pub(crate) fn x_refused(answer: &Answer) -> bool {
    answer.status == reqwest::StatusCode::UNAUTHORIZED
}

/// Whether an answer of the Graph API refuses the page token itself: an `OAuthException` of
/// code 190 (invalid or expired) or 102 (session), or a 401.
pub(crate) fn meta_refused(answer: &Answer) -> bool {
    let code = answer
        .json()
        .and_then(|json| json.pointer("/error/code")?.as_i64());
    answer.status == reqwest::StatusCode::UNAUTHORIZED || matches!(code, Some(190 | 102))
}
