//! Connecting a brand's account from the console instead of pasting tokens: the X OAuth 1.0a
//! three-legged flow and Account Activity webhook ([`XConnect`]), and Facebook Login with the
//! pages (and their Instagram accounts) it grants ([`MetaConnect`]).
//!
//! Every call here is made to the configured platform endpoints (never to an address someone
//! else chose), follows no redirect, is bounded by a timeout and reads at most
//! [`MAX_ANSWER_BYTES`](crate::MAX_ANSWER_BYTES) of an answer. A failure is a [`ConnectError`]
//! whose message is the platform's own words, and that says whether the platform refused a
//! credential. Tokens and secrets appear in no message and in no `Debug` output.

mod meta;
mod x;

pub use meta::{
    InstagramAccount, LOGIN_SCOPES, ManagedPage, MetaConnect, MetaUserToken, PageIdentity,
    SUBSCRIBED_FIELDS,
};
pub use x::{AppBearer, RequestToken, Webhook, XConnect, XUser, XUserToken};

use crate::credentials::ConfigError;
use crate::{MAX_ANSWER_BYTES, describe, read_capped};
use serde_json::Value;
use std::time::Duration;

/// Why a call made while connecting an account did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The platform refused a credential: a token it no longer (or never) accepted, a wrong
    /// consumer secret or `appsecret_proof`. Asking again with the same credential will not
    /// help; the brand has to connect the account again (or the app's keys are wrong).
    #[error("{platform} refused the credentials ({}): {message}", what(*status, *code))]
    Refused {
        platform: &'static str,
        status: u16,
        /// The platform's error code (X `errors[0].code`, Meta `error.code`), when it gave one.
        code: Option<i64>,
        /// The platform's own words.
        message: String,
    },
    /// The platform answered with an error of another kind (a bad parameter, a failed CRC,
    /// a limit, an outage).
    #[error("{platform} answered {}: {message}", what(*status, *code))]
    Failed {
        platform: &'static str,
        status: u16,
        code: Option<i64>,
        /// The platform's own words.
        message: String,
    },
    /// The platform answered success, but not with what its API documents.
    #[error("{platform} {message}")]
    Unexpected {
        platform: &'static str,
        message: String,
    },
    /// The platform could not be reached, or did not answer in time, or its answer could not
    /// be read.
    #[error("could not reach {platform}: {message}")]
    Unreachable {
        platform: &'static str,
        message: String,
    },
    /// Not asked at all: an argument cannot be sent (an id that is not an id, a URL that is
    /// not a URL).
    #[error("{0}")]
    Invalid(String),
}

impl ConnectError {
    /// Whether the platform refused a credential (a health view's "token refused").
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// The platform's own words, when it gave an error.
    pub fn platform_message(&self) -> Option<&str> {
        match self {
            Self::Refused { message, .. } | Self::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The platform's error code, when it gave one.
    pub fn platform_code(&self) -> Option<i64> {
        match self {
            Self::Refused { code, .. } | Self::Failed { code, .. } => *code,
            _ => None,
        }
    }
}

/// `401` or `401, code 32`.
fn what(status: u16, code: Option<i64>) -> String {
    match code {
        Some(code) => format!("{status}, code {code}"),
        None => status.to_string(),
    }
}

/// What a platform answered: its status and (capped) body.
struct Reply {
    status: reqwest::StatusCode,
    body: Vec<u8>,
    /// Whether the body was longer than what is read.
    truncated: bool,
}

impl Reply {
    /// The body as JSON, when it is JSON.
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The success body as JSON, or why it is not usable. The body itself is not quoted: a
    /// success answer can hold a token.
    fn success_json(&self, platform: &'static str, what: &str) -> Result<Value, ConnectError> {
        self.json().ok_or_else(|| ConnectError::Unexpected {
            platform,
            message: match self.truncated {
                true => format!(
                    "answered {} to {what} with more than the {MAX_ANSWER_BYTES} bytes that are read",
                    self.status
                ),
                false => format!(
                    "answered {} to {what} with a body that is not JSON",
                    self.status
                ),
            },
        })
    }

    /// Up to 200 characters of an error body, for when it has no error fields we know.
    fn excerpt(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        let text = text.trim().to_string();
        match text.is_empty() {
            true => format!("HTTP {}", self.status),
            false => text,
        }
    }
}

/// Sends the request and reads the answer, capped. A redirect is an answer like any other (the
/// clients follow none), which the callers report as a failure.
async fn send(
    platform: &'static str,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<Reply, ConnectError> {
    let response = request.send().await.map_err(|e| {
        if e.is_builder() {
            ConnectError::Invalid(format!(
                "could not make the request to {platform}: {}",
                describe(e)
            ))
        } else if e.is_timeout() {
            ConnectError::Unreachable {
                platform,
                message: format!("{platform} did not answer within {timeout:?}"),
            }
        } else {
            ConnectError::Unreachable {
                platform,
                message: describe(e),
            }
        }
    })?;
    let status = response.status();
    let body =
        read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| ConnectError::Unreachable {
                platform,
                message: format!(
                    "{platform} answered {status} but the answer could not be read: {}",
                    describe(e)
                ),
            })?;
    Ok(Reply {
        status,
        truncated: body.len() >= MAX_ANSWER_BYTES,
        body,
    })
}

/// A platform API base: http(s), without a query or fragment (signatures and paths are
/// appended to it), without a trailing slash.
fn base_url(name: &'static str, url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let invalid = |reason: &str| ConfigError::Address {
        name,
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("it is not http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it has a query or fragment"));
    }
    if parsed.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    Ok(trimmed.to_string())
}

/// A secret or key that must be there.
fn required(field: &str, value: String) -> Result<String, ConfigError> {
    match value.trim().is_empty() {
        true => Err(ConfigError::Empty {
            field: field.to_string(),
        }),
        false => Ok(value),
    }
}

/// An id that goes into a URL path: platform ids are letters, digits, `_` and `-`.
fn path_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ConnectError> {
    match crate::is_platform_id(id) {
        true => Ok(id),
        false => Err(ConnectError::Invalid(format!(
            "{what} {id:?} is not a valid id"
        ))),
    }
}

/// The most of a platform's words that is kept: enough for any error message it documents,
/// bounded for a health view.
const MAX_WORDS: usize = 300;

/// A platform's words, bounded.
fn words(text: &str) -> String {
    text.chars().take(MAX_WORDS).collect()
}

/// A string field of a JSON object, when it is a string and not empty.
fn text<'a>(json: &'a Value, pointer: &str) -> Option<&'a str> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_platform_its_words_and_its_code() {
        let refused = ConnectError::Refused {
            platform: "X",
            status: 401,
            code: Some(32),
            message: "Could not authenticate you.".into(),
        };
        assert_eq!(
            refused.to_string(),
            "X refused the credentials (401, code 32): Could not authenticate you."
        );
        assert!(refused.is_refused());
        assert_eq!(
            refused.platform_message(),
            Some("Could not authenticate you.")
        );
        assert_eq!(refused.platform_code(), Some(32));
        let failed = ConnectError::Failed {
            platform: "Meta",
            status: 400,
            code: None,
            message: "(#100) Invalid parameter".into(),
        };
        assert_eq!(
            failed.to_string(),
            "Meta answered 400: (#100) Invalid parameter"
        );
        assert!(!failed.is_refused());
        let unreachable = ConnectError::Unreachable {
            platform: "X",
            message: "X did not answer within 10s".into(),
        };
        assert_eq!(unreachable.platform_message(), None);
        assert_eq!(
            unreachable.to_string(),
            "could not reach X: X did not answer within 10s"
        );
    }

    #[test]
    fn takes_only_plain_api_bases() {
        assert_eq!(
            base_url("X API", "https://api.x.com/").unwrap(),
            "https://api.x.com"
        );
        assert_eq!(
            base_url("X API", "http://127.0.0.1:4000").unwrap(),
            "http://127.0.0.1:4000"
        );
        for bad in [
            "api.x.com",
            "ftp://api.x.com",
            "https://api.x.com/?a=b",
            "https://api.x.com/#top",
            "",
        ] {
            assert!(
                matches!(base_url("X API", bad), Err(ConfigError::Address { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_in_paths_are_plain() {
        assert_eq!(
            path_id("the webhook", "1146654567674912769"),
            Ok("1146654567674912769")
        );
        for bad in ["", "1/../2", "a?b", "a b", "é"] {
            assert!(path_id("the webhook", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_error_body_without_words_is_quoted_or_named_by_its_status() {
        let reply = Reply {
            status: reqwest::StatusCode::BAD_GATEWAY,
            body: Vec::new(),
            truncated: false,
        };
        assert_eq!(reply.excerpt(), "HTTP 502 Bad Gateway");
        let reply = Reply {
            status: reqwest::StatusCode::UNAUTHORIZED,
            body: format!("  {}  ", "x".repeat(500)).into_bytes(),
            truncated: false,
        };
        assert_eq!(reply.excerpt().len(), 198);
    }

    #[test]
    fn a_success_body_that_is_not_json_is_named_and_not_quoted() {
        let reply = Reply {
            status: reqwest::StatusCode::OK,
            body: b"oauth_token=secret-value".to_vec(),
            truncated: false,
        };
        let error = reply.success_json("X", "the user").unwrap_err();
        assert_eq!(
            error.to_string(),
            "X answered 200 OK to the user with a body that is not JSON"
        );
        let reply = Reply {
            status: reqwest::StatusCode::OK,
            body: br#"{"data":[{"access_token":"secret-value"#.to_vec(),
            truncated: true,
        };
        let error = reply.success_json("Meta", "the pages").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "Meta answered 200 OK to the pages with more than the {MAX_ANSWER_BYTES} bytes that are read"
            )
        );
        assert!(!error.to_string().contains("secret-value"));
    }
}
