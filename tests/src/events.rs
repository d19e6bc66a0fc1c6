//! Integrator events for the tests, and signatures computed here with `hmac` directly, so that
//! a mistake in the product's signing code cannot hide behind the same mistake in the tests.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use socialcare_domain::{Author, Channel, Direction, InboundEvent, NormalizedMessage, Source};

/// An X Account Activity delivery of a customer (`furiouscamper`, 3001969357) mentioning the
/// fixtures' brand account (`acme_care`, 1100000000000000001), for `POST /webhooks/x`.
pub fn x_activity_mention(id: u64, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "for_user_id": "1100000000000000001",
        "tweet_create_events": [{
            "created_at": at.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
            "id": id, "id_str": id.to_string(),
            "text": text,
            "in_reply_to_status_id_str": null,
            "user": {"id": 3001969357u64, "id_str": "3001969357", "name": "Jordan Brinks", "screen_name": "furiouscamper", "followers_count": 22},
            "entities": {"hashtags": [], "urls": [], "user_mentions": [{"screen_name": "acme_care", "id_str": "1100000000000000001", "indices": [0, 10]}]},
            "lang": "en",
            "timestamp_ms": at.timestamp_millis().to_string()
        }]
    })
}

/// A body for `POST /webhooks/generic`.
pub fn generic_body(id: &str, customer: &str, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "source": "crm",
        "customer": {"id": customer, "name": format!("Customer {customer}"), "email": format!("{customer}@example.com")},
        "text": text,
        "created_at": at.to_rfc3339(),
    })
}

/// `X-Socialcare-Signature` for `body` signed at `at`.
pub fn signature(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{}.", at.timestamp()).as_bytes());
    mac.update(body);
    format!(
        "t={},v1={}",
        at.timestamp(),
        hex::encode(mac.finalize().into_bytes())
    )
}

/// `x-twitter-webhooks-signature` for `body`: base64 HMAC-SHA256 with the consumer secret.
pub fn x_signature(consumer_secret: &str, body: &[u8]) -> String {
    use base64::Engine;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(consumer_secret.as_bytes()).expect("any key");
    mac.update(body);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// `X-Hub-Signature-256` for `body`: hex HMAC-SHA256 with the Meta app secret.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The brand accounts of the X and Meta fixtures, as a SOCIALCARE_CONFIG document.
pub const FIXTURE_ACCOUNTS: &str = r#"
[[accounts]]
platform = "x"
id = "1100000000000000001"
handle = "acme_care"

[[accounts]]
platform = "facebook"
id = "1234567890321"

[[accounts]]
platform = "facebook"
id = "12345654332"

[[accounts]]
platform = "instagram"
id = "17841452691600098"

[[accounts]]
platform = "instagram"
id = "0"
"#;

/// The same accounts with automatic acknowledgements off, for tests that count messages.
pub fn fixture_accounts_without_acknowledgements() -> String {
    FIXTURE_ACCOUNTS.replace(
        "\n\n[[accounts]]",
        "\n[accounts.acknowledgement]\nenabled = false\n\n[[accounts]]",
    ) + "[accounts.acknowledgement]\nenabled = false\n"
}

/// A queued inbound event of the integration `crm`, as the webhook would enqueue it.
pub fn inbound(id: &str, customer: &str, text: &str, at: DateTime<Utc>) -> InboundEvent {
    InboundEvent {
        message: NormalizedMessage {
            source: Source::Integration,
            account: "crm".into(),
            channel: Channel::Private,
            direction: Direction::Inbound,
            external_id: id.into(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: customer.into(),
                name: Some(format!("Customer {customer}")),
                handle: None,
                email: Some(format!("{customer}@example.com")),
                followers: None,
                verified_email: false,
            },
            text: text.into(),
            attachments: vec![],
            created_at: at,
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        },
        received_at: at + chrono::Duration::seconds(1),
    }
}

/// A public mention of the X fixture brand account by `customer`, as the webhook queues it.
pub fn x_mention(id: &str, customer: &str, text: &str, at: DateTime<Utc>) -> InboundEvent {
    let mut event = inbound(id, customer, text, at);
    event.message.source = Source::X;
    event.message.account = "1100000000000000001".into();
    event.message.channel = Channel::Public;
    event.message.author.handle = Some(customer.into());
    event.message.author.email = None;
    event
}

/// The same, answering `parent`.
pub fn reply(id: &str, customer: &str, parent: &str, at: DateTime<Utc>) -> InboundEvent {
    let mut event = inbound(id, customer, "replying", at);
    event.message.in_reply_to = Some(parent.into());
    event
}

/// The brand's own answer to `parent`, addressed to `customer` (as a platform echoes it).
pub fn brand_reply(id: &str, customer: &str, parent: &str, at: DateTime<Utc>) -> InboundEvent {
    let mut event = inbound(id, "acme-support", "Sorry to hear that, we're on it", at);
    event.message.direction = Direction::Outbound;
    event.message.author.name = Some("Acme Support".into());
    event.message.author.email = None;
    event.message.recipient_id = Some(customer.into());
    event.message.in_reply_to = Some(parent.into());
    event
}
