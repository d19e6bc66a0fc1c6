//! Automatic acknowledgements: a new public complaint hears back within seconds, before a
//! person has read it. At most one per ticket, never to the brand's own posts, and never to a
//! customer acknowledged in the last 24 hours (a second "we've seen this" reads as a bot).

use crate::customer::Customer;
use crate::message::{Channel, Direction, NormalizedMessage, Source};
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

impl Acknowledgement {
    /// Checks every text as a template is checked, and that the default language has one.
    pub fn check(&self) -> Result<(), String> {
        if !self.texts.contains_key(&self.language) {
            return Err(format!(
                "no text for the default language {:?}",
                self.language
            ));
        }
        for (language, text) in &self.texts {
            templates::variables(text)
                .map_err(|e: TemplateError| format!("text {language:?}: {e}"))?;
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
        let values = Values {
            customer_name: author
                .name
                .clone()
                .or_else(|| customer.and_then(|c| c.name.clone())),
            customer_handle: author.handle.clone(),
            ..Values::default()
        };
        templates::render(&text, &values).unwrap_or(text)
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
        let public_complaint = message.direction == Direction::Inbound
            && message.channel == Channel::Public
            && message.source != Source::Integration;
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
    let key = message.dedupe_key_of(&reply_external_id(&key_of(message)));
    let waiting = store.get_message(&key).await?.filter(|ack| {
        ack.delivery
            .as_ref()
            .is_some_and(|d| d.state == DeliveryState::Pending)
    });
    Ok(waiting.as_ref().map(OutboxJob::of))
}
