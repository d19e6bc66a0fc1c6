//! The integrators' webhook body (`POST /webhooks/generic`): a public contract, documented in
//! the README. Unknown fields are ignored, so integrators may send more than we read.

use crate::payload::{PayloadError as EventError, parse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use socialcare_domain::{Attachment, Author, Channel, Direction, NormalizedMessage, Source};

#[derive(Debug, Clone, Deserialize)]
pub struct GenericEvent {
    /// The integrator's id of this message, unique per source.
    pub id: String,
    /// The integrator's name; messages are deduplicated per source.
    pub source: Option<String>,
    pub customer: GenericCustomer,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub in_reply_to: Option<String>,
    pub callback_url: Option<String>,
    /// `private` (the default: e-mail, web form, chat) or `public`.
    pub channel: Option<Channel>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GenericCustomer {
    pub id: String,
    pub name: String,
    pub handle: Option<String>,
    pub email: Option<String>,
    /// Whether the brand's system checked that `email` is theirs (a confirmed sign-up): such an
    /// address may merge customers on its own (`link_same_email`), one merely given only
    /// suggests it.
    #[serde(default)]
    pub email_verified: bool,
}

pub const DEFAULT_SOURCE: &str = "integration";

const MAX_ID_CHARS: usize = 256;
const MAX_SOURCE_CHARS: usize = 64;

/// Parses and checks a body, then maps it to the normalized message.
pub fn normalize(body: &[u8]) -> Result<NormalizedMessage, EventError> {
    parse_event(body)?.into_message(DEFAULT_SOURCE)
}

/// Parses a body, unchecked; [`GenericEvent::into_message`] checks it.
pub fn parse_event(body: &[u8]) -> Result<GenericEvent, EventError> {
    parse::<GenericEvent>(body)
}

fn check_id(field: &str, value: &str) -> Result<(), EventError> {
    if value.trim().is_empty() {
        return Err(EventError::field(field, "must not be empty"));
    }
    if value.chars().count() > MAX_ID_CHARS {
        return Err(EventError::field(field, "must be at most 256 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(EventError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl GenericEvent {
    /// Checks it and maps it to the normalized message, filed under its `source` or, when it
    /// names none, `default_source`.
    pub fn into_message(self, default_source: &str) -> Result<NormalizedMessage, EventError> {
        check_id("id", &self.id)?;
        check_id("customer.id", &self.customer.id)?;
        if let Some(parent) = &self.in_reply_to {
            check_id("in_reply_to", parent)?;
        }
        let source = self.source.unwrap_or_else(|| default_source.to_string());
        let source_ok = !source.is_empty()
            && source.len() <= MAX_SOURCE_CHARS
            && source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !source_ok {
            return Err(EventError::field(
                "source",
                "must be 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if self.customer.name.trim().is_empty() {
            return Err(EventError::field("customer.name", "must not be empty"));
        }
        if self.text.trim().is_empty() && self.attachments.is_empty() {
            return Err(EventError::field("text", "must not be empty"));
        }
        if let Some(url) = &self.callback_url {
            let web = url.starts_with("https://") || url.starts_with("http://");
            if !web || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(EventError::field("callback_url", "must be an http(s) URL"));
            }
        }
        Ok(NormalizedMessage {
            source: Source::Integration,
            account: source,
            channel: self.channel.unwrap_or(Channel::Private),
            direction: Direction::Inbound,
            external_id: self.id,
            in_reply_to: self.in_reply_to,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: self.customer.id,
                name: Some(self.customer.name),
                handle: self.customer.handle,
                email: self.customer.email,
                followers: None,
                verified_email: self.customer.email_verified,
            },
            text: self.text,
            attachments: self.attachments,
            created_at: self.created_at,
            callback_url: self.callback_url,
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
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn full() -> serde_json::Value {
        json!({
            "id": "ev-1",
            "source": "crm",
            "customer": {"id": "c-9", "name": "Ann Lee", "handle": "annlee", "email": "ann@example.com"},
            "text": "My router is down again",
            "created_at": "2026-11-22T10:00:00+01:00",
            "in_reply_to": "ev-0",
            "callback_url": "https://crm.example.com/replies",
            "channel": "private",
            "extra": {"ignored": true}
        })
    }

    fn parse(value: serde_json::Value) -> Result<NormalizedMessage, EventError> {
        normalize(value.to_string().as_bytes())
    }

    #[test]
    fn maps_every_field() {
        let message = parse(full()).unwrap();
        assert_eq!(message.source, Source::Integration);
        assert_eq!(message.account, "crm");
        assert_eq!(message.channel, Channel::Private);
        assert_eq!(message.direction, Direction::Inbound);
        assert_eq!(message.external_id, "ev-1");
        assert_eq!(message.in_reply_to.as_deref(), Some("ev-0"));
        assert_eq!(message.author.id, "c-9");
        assert_eq!(message.author.name.as_deref(), Some("Ann Lee"));
        assert_eq!(message.author.handle.as_deref(), Some("annlee"));
        assert_eq!(message.author.email.as_deref(), Some("ann@example.com"));
        assert_eq!(message.author.followers, None);
        assert_eq!(message.text, "My router is down again");
        assert_eq!(message.attachments, vec![]);
        assert_eq!(
            message.created_at,
            Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
        );
        assert_eq!(
            message.callback_url.as_deref(),
            Some("https://crm.example.com/replies")
        );
    }

    #[test]
    fn source_defaults_to_integration() {
        let mut body = full();
        body.as_object_mut().unwrap().remove("source");
        assert_eq!(parse(body).unwrap().account, DEFAULT_SOURCE);
    }

    #[test]
    fn names_the_missing_field() {
        for (path, field) in [
            (vec!["id"], "id"),
            (vec!["text"], "text"),
            (vec!["created_at"], "created_at"),
            (vec!["customer"], "customer"),
            (vec!["customer", "id"], "id"),
            (vec!["customer", "name"], "name"),
        ] {
            let mut body = full();
            let mut target = &mut body;
            for key in &path[..path.len() - 1] {
                target = target.get_mut(*key).unwrap();
            }
            target
                .as_object_mut()
                .unwrap()
                .remove(*path.last().unwrap());
            let err = parse(body).unwrap_err();
            let EventError::Field { problem, .. } = &err else {
                panic!("{path:?}: {err:?}")
            };
            assert!(
                problem.contains(&format!("missing field `{field}`")),
                "{path:?}: {err}"
            );
        }
    }

    #[test]
    fn names_the_field_with_a_bad_value() {
        let cases = [
            ("/id", json!(""), "id"),
            ("/id", json!(7), "id"),
            ("/customer/id", json!("  "), "customer.id"),
            ("/customer/name", json!(""), "customer.name"),
            ("/text", json!(" "), "text"),
            ("/created_at", json!("yesterday"), "created_at"),
            ("/source", json!("has spaces"), "source"),
            ("/callback_url", json!("ftp://x"), "callback_url"),
            ("/in_reply_to", json!(""), "in_reply_to"),
            ("/channel", json!("telepathy"), "channel"),
        ];
        for (pointer, value, field) in cases {
            let mut body = full();
            *body.pointer_mut(pointer).unwrap() = value;
            match parse(body) {
                Err(EventError::Field { field: named, .. }) => {
                    assert_eq!(named, field, "{pointer}")
                }
                other => panic!("{pointer}: {other:?}"),
            }
        }
    }

    #[test]
    fn tells_broken_json_from_a_bad_event() {
        assert!(matches!(
            normalize(b"{\"id\": "),
            Err(EventError::Syntax(_))
        ));
        assert!(matches!(normalize(b"not json"), Err(EventError::Syntax(_))));
        assert!(matches!(
            normalize(b"{\"id\":\"\xff\"}"),
            Err(EventError::Syntax(_))
        ));
        let trailing = format!("{} {{}}", full());
        assert!(matches!(
            normalize(trailing.as_bytes()),
            Err(EventError::Syntax(_))
        ));
        // Deep nesting is refused by type or by serde_json's recursion limit, never by the stack.
        let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let mut body = full();
        body["attachments"] =
            serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap();
        assert!(matches!(parse(body), Err(EventError::Field { .. })));
        assert!(normalize(nested.as_bytes()).is_err());
        let in_attachments = format!(r#"{{"attachments": {nested}}}"#);
        assert!(normalize(in_attachments.as_bytes()).is_err());
        assert!(matches!(normalize(b"[]"), Err(EventError::Field { .. })));
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = normalize(&body);
        }

        #[test]
        fn never_panics_on_any_field_values(
            id in ".{0,300}", name in ".{0,20}", text in ".{0,50}", source in ".{0,70}"
        ) {
            let body = json!({
                "id": id, "source": source, "customer": {"id": "c", "name": name},
                "text": text, "created_at": "2026-11-22T10:00:00Z"
            });
            let _ = normalize(body.to_string().as_bytes());
        }
    }
}
