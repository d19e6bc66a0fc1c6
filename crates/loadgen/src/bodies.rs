//! Signed webhook bodies in the shapes the platforms send (see `tests/fixtures/` and the
//! parsers in `crates/webhooks`), one customer message each, and the key under which socialcare
//! stores each message (source, brand account, the platform's id of the message).
//!
//! Signatures are computed here with `hmac` directly, not with the product's code, so that a
//! mistake there cannot hide behind the same mistake here.

use crate::accounts::Brand;
use crate::plan::Kind;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// How socialcare names a stored message: `source`, `account` and `external_id` of the API's
/// message objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MessageKey {
    pub source: String,
    pub account: String,
    pub external_id: String,
}

impl std::fmt::Display for MessageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.account, self.external_id)
    }
}

/// What a follow-up needs of the message it answers.
#[derive(Debug, Clone)]
pub struct Thread {
    pub kind: Kind,
    pub customer: u64,
    pub key: MessageKey,
    /// The post or media a comment is on (replies stay on it).
    pub container: Option<String>,
}

/// One webhook request, ready to send (and to send again, as platforms redeliver).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub path: &'static str,
    pub body: Vec<u8>,
    signing: Signing,
}

#[derive(Debug, Clone)]
enum Signing {
    /// X and Meta sign the body alone: a redelivery carries the same header.
    Fixed { header: &'static str, value: String },
    /// The integrator scheme signs `<t>.<body>`: a retry is signed anew with its own time.
    Integration,
}

/// The secrets of the three webhooks (X and Meta are optional: without them, that platform is
/// left out of the burst).
#[derive(Debug, Clone)]
pub struct Secrets {
    pub x_consumer: Option<String>,
    pub meta_app: Option<String>,
    pub integration: String,
}

/// Writes the messages of one run: every id carries the run's tag, so that runs against the
/// same store never collide.
#[derive(Debug, Clone)]
pub struct Composer {
    run: String,
    brand: Brand,
    secrets: Secrets,
}

/// Comments go on one of this many posts (or media) of the brand.
const POSTS: u64 = 50;

const COMPLAINTS: [&str; 8] = [
    "my internet has been down since this morning, can you help?",
    "I was charged twice for my last order",
    "the parcel says delivered but nothing arrived",
    "your app logs me out every five minutes",
    "still waiting for the refund you promised last week",
    "the modem shows a red light again",
    "nobody answers the phone line, what is going on?",
    "I want to cancel my subscription",
];

const FOLLOW_UPS: [&str; 4] = [
    "any news on this?",
    "still broken, it's been hours",
    "hello? anyone there?",
    "here is my account number: 55-1234-9",
];

impl Composer {
    /// `run` is a small number that tags this run's ids (shown in the summary).
    pub fn new(run: u32, brand: Brand, secrets: Secrets) -> Self {
        Self {
            run: format!("{:06}", run % 1_000_000),
            brand,
            secrets,
        }
    }

    /// The webhook carrying message number `seq` of `customer`, written `now`; a follow-up
    /// when `answers` is given (then of the same kind and customer as the message answered).
    pub fn compose(
        &self,
        seq: u64,
        kind: Kind,
        customer: u64,
        answers: Option<&Thread>,
        now: DateTime<Utc>,
    ) -> (Webhook, Thread) {
        let text = match answers {
            None => format!("{} (#{seq})", COMPLAINTS[(seq % 8) as usize]),
            Some(_) => format!("{} (#{seq})", FOLLOW_UPS[(seq % 4) as usize]),
        };
        let parent = answers.map(|thread| thread.key.external_id.as_str());
        let run = &self.run;
        let post = customer % POSTS;
        let (webhook, key, container) = match kind {
            Kind::XMention => {
                let id = format!("19{run}{seq:010}");
                let user = format!("7{run}{customer:09}");
                let body = json!({
                    "for_user_id": self.brand.x_account,
                    "tweet_create_events": [{
                        "created_at": now.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
                        "id_str": id,
                        "text": format!("@{} {text}", self.brand.x_handle),
                        "truncated": false,
                        "in_reply_to_status_id_str": parent,
                        // A follow-up answers the customer's own tweet.
                        "in_reply_to_user_id_str": parent.map(|_| user.clone()),
                        "user": {"id_str": user, "name": format!("Customer {customer}"), "screen_name": format!("cust{run}{customer}"), "followers_count": customer % 5_000},
                        "entities": {"hashtags": [], "urls": [], "user_mentions": [{"screen_name": self.brand.x_handle, "id_str": self.brand.x_account, "indices": [0, self.brand.x_handle.len() + 1]}]},
                        "lang": "en",
                        "timestamp_ms": now.timestamp_millis().to_string()
                    }]
                });
                (self.x(body), self.key("x", &self.brand.x_account, id), None)
            }
            Kind::XDirectMessage => {
                let id = format!("18{run}{seq:010}");
                let user = format!("7{run}{customer:09}");
                let body = json!({
                    "for_user_id": self.brand.x_account,
                    "direct_message_events": [{
                        "type": "message_create",
                        "id": id,
                        "created_timestamp": now.timestamp_millis().to_string(),
                        "message_create": {
                            "target": {"recipient_id": self.brand.x_account},
                            "sender_id": user,
                            "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}}
                        }
                    }],
                    "users": {
                        user.clone(): {"id": user, "name": format!("Customer {customer}"), "screen_name": format!("cust{run}{customer}"), "followers_count": customer % 5_000}
                    }
                });
                (self.x(body), self.key("x", &self.brand.x_account, id), None)
            }
            Kind::FacebookComment => {
                let page = &self.brand.facebook_page;
                let post_id = answers
                    .and_then(|thread| thread.container.clone())
                    .unwrap_or_else(|| format!("{page}_{run}{post:04}"));
                let id = format!("{run}{post:04}_{run}{seq:010}");
                let body = json!({
                    "object": "page",
                    "entry": [{
                        "id": page,
                        "time": now.timestamp(),
                        "changes": [{
                            "field": "feed",
                            "value": {
                                "item": "comment",
                                "verb": "add",
                                "comment_id": id,
                                "post_id": post_id,
                                // A top-level comment's parent is the post.
                                "parent_id": parent.unwrap_or(&post_id),
                                "from": {"id": format!("6{run}{customer:09}"), "name": format!("Customer {customer}")},
                                "created_time": now.timestamp(),
                                "message": text
                            }
                        }]
                    }]
                });
                (
                    self.meta(body),
                    self.key("facebook", page, id),
                    Some(post_id),
                )
            }
            Kind::Messenger | Kind::InstagramDirectMessage => {
                let (object, account, source, sender, id) = match kind {
                    Kind::Messenger => (
                        "page",
                        &self.brand.facebook_page,
                        "facebook",
                        format!("5{run}{customer:09}"),
                        format!("m_{run}{seq:010}"),
                    ),
                    _ => (
                        "instagram",
                        &self.brand.instagram_account,
                        "instagram",
                        format!("176{run}{customer:09}"),
                        format!("aWdf{run}{seq:010}"),
                    ),
                };
                let mut message = json!({"mid": id, "text": text});
                if let Some(parent) = parent {
                    message["reply_to"] = json!({"mid": parent});
                }
                let body = json!({
                    "object": object,
                    "entry": [{
                        "id": account,
                        "time": now.timestamp_millis(),
                        "messaging": [{
                            "sender": {"id": sender},
                            "recipient": {"id": account},
                            "timestamp": now.timestamp_millis(),
                            "message": message
                        }]
                    }]
                });
                (self.meta(body), self.key(source, account, id), None)
            }
            Kind::InstagramComment => {
                let account = &self.brand.instagram_account;
                let media = answers
                    .and_then(|thread| thread.container.clone())
                    .unwrap_or_else(|| format!("180{run}{post:04}"));
                let id = format!("179{run}{seq:010}");
                let mut value = json!({
                    "id": id,
                    "text": text,
                    "from": {"id": format!("178{run}{customer:09}"), "username": format!("cust{run}{customer}")},
                    "media": {"id": media, "media_product_type": "FEED"}
                });
                if let Some(parent) = parent {
                    value["parent_id"] = json!(parent);
                }
                // Instagram comment values carry no time: the entry's time is the message's.
                let body = json!({
                    "object": "instagram",
                    "entry": [{"id": account, "time": now.timestamp(), "changes": [{"field": "comments", "value": value}]}]
                });
                (
                    self.meta(body),
                    self.key("instagram", account, id),
                    Some(media),
                )
            }
            Kind::Integration => {
                let id = format!("lg-{run}-{seq}");
                let customer_id = format!("lg-{run}-{customer}");
                let mut body = json!({
                    "id": id,
                    "source": self.brand.integration_source,
                    "customer": {"id": customer_id, "name": format!("Customer {customer}"), "email": format!("{customer_id}@example.com")},
                    "text": text,
                    "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                });
                if let Some(parent) = parent {
                    body["in_reply_to"] = json!(parent);
                }
                let webhook = Webhook {
                    path: "/webhooks/generic",
                    body: body.to_string().into_bytes(),
                    signing: Signing::Integration,
                };
                let key = self.key("integration", &self.brand.integration_source, id);
                (webhook, key, None)
            }
        };
        let thread = Thread {
            kind,
            customer,
            key,
            container,
        };
        (webhook, thread)
    }

    /// The signature header of `webhook` sent at `now`.
    pub fn signature(&self, webhook: &Webhook, now: DateTime<Utc>) -> (&'static str, String) {
        match &webhook.signing {
            Signing::Fixed { header, value } => (header, value.clone()),
            Signing::Integration => (
                "x-socialcare-signature",
                integration_signature(&self.secrets.integration, now.timestamp(), &webhook.body),
            ),
        }
    }

    fn key(&self, source: &str, account: &str, external_id: String) -> MessageKey {
        MessageKey {
            source: source.into(),
            account: account.into(),
            external_id,
        }
    }

    fn x(&self, body: Value) -> Webhook {
        let body = body.to_string().into_bytes();
        let secret = self.secrets.x_consumer.as_deref().unwrap_or_default();
        let value = format!(
            "sha256={}",
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &[&body]))
        );
        Webhook {
            path: "/webhooks/x",
            body,
            signing: Signing::Fixed {
                header: "x-twitter-webhooks-signature",
                value,
            },
        }
    }

    fn meta(&self, body: Value) -> Webhook {
        let body = body.to_string().into_bytes();
        let secret = self.secrets.meta_app.as_deref().unwrap_or_default();
        let value = format!("sha256={}", hex::encode(hmac_sha256(secret, &[&body])));
        Webhook {
            path: "/webhooks/meta",
            body,
            signing: Signing::Fixed {
                header: "x-hub-signature-256",
                value,
            },
        }
    }
}

#[cfg(test)]
impl Composer {
    /// The default brand accounts, with the secrets the tests verify against.
    pub fn for_tests() -> Self {
        Composer::new(
            42,
            Brand {
                x_account: "1100000000000000001".into(),
                x_handle: "acme_care".into(),
                facebook_page: "1234567890321".into(),
                instagram_account: "17841452691600098".into(),
                integration_source: "loadgen".into(),
            },
            Secrets {
                x_consumer: Some("x-secret".into()),
                meta_app: Some("app-secret".into()),
                integration: "whsec_test".into(),
            },
        )
    }
}

fn hmac_sha256(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `X-Socialcare-Signature: t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
fn integration_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(secret, &[format!("{t}.").as_bytes(), body]);
    format!("t={t},v1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn composer() -> Composer {
        Composer::for_tests()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
    }

    #[test]
    fn signs_the_integrator_scheme() {
        // printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            integration_signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn a_reply_answers_its_parent_on_the_same_post() {
        let composer = composer();
        let (_, parent) = composer.compose(1, Kind::FacebookComment, 7, None, at());
        let (webhook, reply) = composer.compose(2, Kind::FacebookComment, 7, Some(&parent), at());
        let body: Value = serde_json::from_slice(&webhook.body).unwrap();
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["parent_id"], json!(parent.key.external_id));
        assert_eq!(value["post_id"], json!(parent.container.clone().unwrap()));
        assert_eq!(reply.container, parent.container);
        assert_ne!(reply.key, parent.key);
    }

    /// The product's parsers read each kind, original and follow-up, as the message meant:
    /// the key, the message answered, the customer (the FIFO group), inbound.
    #[test]
    fn the_product_reads_every_kind_as_meant() {
        use socialcare_webhooks::{integration, meta, x};
        let composer = composer();
        let now = Utc::now();
        for kind in [
            Kind::XMention,
            Kind::XDirectMessage,
            Kind::FacebookComment,
            Kind::Messenger,
            Kind::InstagramComment,
            Kind::InstagramDirectMessage,
            Kind::Integration,
        ] {
            let (first, parent) = composer.compose(1, kind, 9, None, now);
            let answers = kind.threads_replies().then_some(&parent);
            let (second, thread) = composer.compose(2, kind, 9, answers, now);
            let read = |webhook: &Webhook| {
                let (_, signature) = composer.signature(webhook, now);
                let (body, signature) = (&webhook.body, Some(signature.as_bytes()));
                match webhook.path {
                    "/webhooks/x" => {
                        x::signature::verify(b"x-secret", signature, body).unwrap();
                        x::account_activity::parse_delivery(body).unwrap().messages
                    }
                    "/webhooks/meta" => {
                        meta::signature::verify(b"app-secret", signature, body).unwrap();
                        meta::parse_delivery(body).unwrap().messages
                    }
                    _ => {
                        integration::signature::verify(b"whsec_test", signature, body, now)
                            .unwrap();
                        vec![integration::normalize(body).unwrap()]
                    }
                }
            };
            let (first, second) = (read(&first), read(&second));
            assert_eq!((first.len(), second.len()), (1, 1), "{kind:?}");
            let (first, second) = (&first[0], &second[0]);
            assert_eq!(first.external_id, parent.key.external_id, "{kind:?}");
            assert_eq!(second.external_id, thread.key.external_id, "{kind:?}");
            assert_eq!(second.source.as_str(), thread.key.source, "{kind:?}");
            assert_eq!(second.account, thread.key.account, "{kind:?}");
            assert_eq!(
                second.in_reply_to,
                answers.map(|parent| parent.key.external_id.clone()),
                "{kind:?}"
            );
            assert_eq!(first.customer_key(), second.customer_key(), "{kind:?}");
            assert_eq!(format!("{:?}", second.direction), "Inbound", "{kind:?}");
            assert!(
                (second.created_at - now).num_seconds().abs() <= 1,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn every_kind_names_the_brand_account() {
        let composer = composer();
        for (kind, source, account) in [
            (Kind::XMention, "x", "1100000000000000001"),
            (Kind::XDirectMessage, "x", "1100000000000000001"),
            (Kind::FacebookComment, "facebook", "1234567890321"),
            (Kind::Messenger, "facebook", "1234567890321"),
            (Kind::InstagramComment, "instagram", "17841452691600098"),
            (
                Kind::InstagramDirectMessage,
                "instagram",
                "17841452691600098",
            ),
            (Kind::Integration, "integration", "loadgen"),
        ] {
            let (webhook, thread) = composer.compose(3, kind, 9, None, at());
            assert_eq!(thread.key.source, source, "{kind:?}");
            assert_eq!(thread.key.account, account, "{kind:?}");
            let body = String::from_utf8(webhook.body.clone()).unwrap();
            assert!(body.contains(&thread.key.external_id), "{kind:?}: {body}");
            let (header, value) = composer.signature(&webhook, at());
            assert!(!header.is_empty() && !value.is_empty());
        }
    }
}
