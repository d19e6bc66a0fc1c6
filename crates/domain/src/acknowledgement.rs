//! Automatic acknowledgements: a new public complaint hears back within seconds, before a
//! person has read it. At most one per ticket, never to the brand's own posts, and never to a
//! customer acknowledged in the last 24 hours (a second "we've seen this" reads as a bot).

use crate::customer::Customer;
use crate::message::{Channel, Direction, Message, NormalizedMessage, Source};
use crate::ports::{IngestStore, StoreError};
use crate::replies::{DeliveryState, OutboxJob, reply_external_id};
use crate::templates::{self, TemplateError, Values};
use chrono::Duration;
use std::collections::BTreeMap;

/// What a brand account says when it acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The text per language (ISO 639-1 code); may use `{{customer.name}}`-style variables.
    pub texts: BTreeMap<String, String>,
    /// The language used when the message's own has no text.
    pub language: String,
}

impl Default for Acknowledgement {
    fn default() -> Self {
        Self {
            texts: BTreeMap::from([(
                "en".to_string(),
                "Thanks for reaching out, {{customer.name}}. We've seen this and a person from our team will answer you shortly."
                    .to_string(),
            )]),
            language: "en".into(),
        }
    }
}

/// Why an account's acknowledgement cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcknowledgementError {
    #[error("no text for the default language {0:?}")]
    NoDefaultText(String),
    #[error("text {language:?}: {error}")]
    Text {
        language: String,
        error: TemplateError,
    },
}

impl Acknowledgement {
    /// Checks every text as a template is checked, and that the default language has one.
    pub fn check(&self) -> Result<(), AcknowledgementError> {
        if !self.texts.contains_key(&self.language) {
            return Err(AcknowledgementError::NoDefaultText(self.language.clone()));
        }
        for (language, text) in &self.texts {
            templates::variables(text).map_err(|error| AcknowledgementError::Text {
                language: language.clone(),
                error,
            })?;
        }
        Ok(())
    }

    /// The text for `language` (the default language's when it has none), filled in.
    pub fn text_for(
        &self,
        language: Option<&str>,
        customer: Option<&Customer>,
        author: &crate::message::Author,
    ) -> String {
        let text = language
            .and_then(|l| self.texts.get(l))
            .or_else(|| self.texts.get(&self.language))
            .or_else(|| self.texts.values().next())
            .cloned()
            .unwrap_or_default();
        // The brand posts this in public, unread by anyone: what the customer named themselves
        // must not carry links, mentions or hashtags into it.
        let values = Values {
            customer_name: author
                .name
                .as_deref()
                .and_then(public_name)
                .or_else(|| customer.and_then(|c| c.name.as_deref().and_then(public_name))),
            customer_handle: author.handle.as_deref().and_then(public_handle),
            ..Values::default()
        };
        templates::render(&text, &values).unwrap_or(text)
    }
}

/// The longest name put into an automatic public text.
pub const MAX_PUBLIC_NAME_CHARS: usize = 40;

/// A display name made safe to post: without links or domain names, `@` or `#`, control or
/// bidirectional-override characters or runs of spaces, at most [`MAX_PUBLIC_NAME_CHARS`]; `None` when nothing is left.
pub fn public_name(raw: &str) -> Option<String> {
    let looks_like_link = |word: &str| {
        let lower = word.to_ascii_lowercase();
        lower.contains("://")
            || lower.starts_with("www.")
            || word
                .split('.')
                .skip(1)
                .any(|part| part.chars().filter(|c| c.is_alphabetic()).count() >= 2)
    };
    let words: Vec<String> = raw
        .split_whitespace()
        .filter(|word| !looks_like_link(word))
        .map(|word| {
            word.chars()
                .filter(|c| {
                    // Bidirectional overrides could make the brand's text read backwards.
                    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
                    !c.is_control() && !bidi && !matches!(c, '@' | '#' | '\u{FF20}' | '\u{FF03}')
                })
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect();
    let name: String = words
        .join(" ")
        .chars()
        .take(MAX_PUBLIC_NAME_CHARS)
        .collect();
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// A handle made safe to post after an `@`: letters, digits, `_` and `.`, at most 30.
fn public_handle(raw: &str) -> Option<String> {
    let handle: String = raw
        .trim_start_matches('@')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        .take(30)
        .collect();
    (!handle.is_empty()).then_some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: a display name went verbatim into the brand's public acknowledgement.
    #[test]
    fn names_lose_links_mentions_and_hashtags() {
        let cases = [
            ("Ann Lee", Some("Ann Lee")),
            ("J.R. Smith", Some("J.R. Smith")),
            ("Ann @everyone #scam", Some("Ann everyone scam")),
            ("Win at evil.example now", Some("Win at now")),
            ("see https://evil.example/x", Some("see")),
            ("www.evil.example", None),
            ("@ #", None),
            ("Ann\u{202e}\u{0007}\nLee", Some("Ann Lee")),
            ("Ｘ＠ｓｃａｍ", Some("Ｘｓｃａｍ")),
        ];
        for (raw, expected) in cases {
            assert_eq!(public_name(raw).as_deref(), expected, "{raw:?}");
        }
        let long = "A".repeat(100);
        assert_eq!(
            public_name(&long).unwrap().chars().count(),
            MAX_PUBLIC_NAME_CHARS
        );
        assert_eq!(
            public_handle("@ann_lee evil.example").as_deref(),
            Some("ann_lee")
        );
        assert_eq!(public_handle("#x"), None);
    }

    #[test]
    fn the_acknowledgement_greets_by_the_safe_name_or_handle() {
        let author = |name: Option<&str>, handle: Option<&str>| crate::message::Author {
            id: "1".into(),
            name: name.map(str::to_string),
            handle: handle.map(str::to_string),
            email: None,
            followers: None,
            verified_email: false,
        };
        let ack = Acknowledgement::default();
        let text = ack.text_for(
            None,
            None,
            &author(Some("Ann #free https://x.example"), None),
        );
        assert!(
            text.starts_with("Thanks for reaching out, Ann free."),
            "{text}"
        );
        let text = ack.text_for(None, None, &author(Some("@@@"), Some("ann_lee")));
        assert!(
            text.starts_with("Thanks for reaching out, ann_lee."),
            "{text}"
        );
    }
}

/// The brand accounts that acknowledge, by `<source>:<account id>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acknowledgements(BTreeMap<String, Acknowledgement>);

/// A customer acknowledged this recently is not acknowledged again.
pub fn quiet_period() -> Duration {
    Duration::hours(24)
}

impl Acknowledgements {
    pub fn insert(&mut self, source: Source, account: &str, acknowledgement: Acknowledgement) {
        self.0
            .insert(format!("{source}:{account}"), acknowledgement);
    }

    /// How to acknowledge `message` when it opens a ticket, if at all.
    pub fn for_new_ticket(
        &self,
        message: &NormalizedMessage,
        customer: Option<&Customer>,
    ) -> Option<&Acknowledgement> {
        // A post found by a search did not address the brand: X's automation rules forbid
        // automated replies to posts found by keyword, and an answer to it is a person's.
        let public_complaint = message.direction == Direction::Inbound
            && message.channel == Channel::Public
            && message.source != Source::Integration
            && message.found_by.is_none();
        let recently = customer
            .and_then(|c| c.acknowledged_at)
            .is_some_and(|at| message.created_at - at < quiet_period());
        match public_complaint && !recently {
            true => self
                .0
                .get(&format!("{}:{}", message.source, message.account)),
            false => None,
        }
    }

    /// Whether `message` could have been acknowledged (cheap: no store read).
    pub fn may_acknowledge(&self, message: &NormalizedMessage) -> bool {
        self.for_new_ticket(message, None).is_some()
    }
}

/// The key of the acknowledgement of `message`: one per message, so redelivery cannot add two.
pub fn key_of(message: &NormalizedMessage) -> String {
    format!("ack:{}", message.external_id)
}

/// The outbox job of `message`'s acknowledgement while it waits to be posted: ingest queues
/// it after every delivery of the message (redelivery included), so a crash between storing
/// and queuing cannot strand it; the sender posts it once whatever the count of jobs.
pub async fn pending_job<S: IngestStore>(
    store: &S,
    acknowledgements: &Acknowledgements,
    message: &NormalizedMessage,
) -> Result<Option<OutboxJob>, StoreError> {
    if !acknowledgements.may_acknowledge(message) {
        return Ok(None);
    }
    let waiting = store.get_message(&stored_key(message)).await?;
    Ok(job_while_pending(waiting.as_ref()))
}

/// [`pending_job`] of the acknowledgement ingest has just written with `message`'s new ticket,
/// among the `replies` written with it: nothing to read back.
pub fn written_job(
    acknowledgements: &Acknowledgements,
    message: &NormalizedMessage,
    replies: &[Message],
) -> Option<OutboxJob> {
    if !acknowledgements.may_acknowledge(message) {
        return None;
    }
    let key = stored_key(message);
    job_while_pending(replies.iter().find(|reply| reply.body.dedupe_key() == key))
}

/// The dedupe key the acknowledgement of `message` is stored under.
fn stored_key(message: &NormalizedMessage) -> String {
    message.dedupe_key_of(&reply_external_id(&key_of(message)))
}

fn job_while_pending(acknowledgement: Option<&Message>) -> Option<OutboxJob> {
    acknowledgement
        .filter(|ack| {
            ack.delivery
                .as_ref()
                .is_some_and(|d| d.state == DeliveryState::Pending)
        })
        .map(OutboxJob::of)
}
