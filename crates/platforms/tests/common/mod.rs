//! What the adapter's tests share: credentials with known secrets, replies, and a platform
//! pointed at a wiremock server.

#![allow(dead_code)] // each test file uses part of it

use chrono::{DateTime, TimeZone, Utc};
use socialcare_domain::ids::TicketId;
use socialcare_domain::message::{Author, Channel, Direction, Message, NormalizedMessage, Source};
use socialcare_domain::replies::{Delivery, Target};
use socialcare_platforms::{Credentials, Endpoints, HttpPlatform, OutboundGuard};
use std::time::Duration;

pub const X_ACCOUNT: &str = "1234";
pub const CONSUMER_KEY: &str = "xck-0123456789";
pub const CONSUMER_SECRET: &str = "xcs-consumer-secret";
pub const ACCESS_TOKEN: &str = "1234-access-token";
pub const ACCESS_TOKEN_SECRET: &str = "xats-token-secret";

pub const PAGE: &str = "5678";
pub const PAGE_TOKEN: &str = "EAAGpage5678token";
pub const IG_ACCOUNT: &str = "17841400000000";
pub const IG_TOKEN: &str = "EAAGig1784token";
pub const APP_SECRET: &str = "meta-app-secret-0123";
/// `printf %s EAAGpage5678token | openssl dgst -sha256 -hmac meta-app-secret-0123`
pub const PAGE_PROOF: &str = "6330bf94a0c83ce9dd7ef2306dbe19273bed81a328299af3ae35d3813185620a";
/// `printf %s EAAGig1784token | openssl dgst -sha256 -hmac meta-app-secret-0123`
pub const IG_PROOF: &str = "2ab13f2f60f43784c86daa3750e5f91c4b6b6c6c6e3c52d8638b7c4a61dea9cd";

pub const INTEGRATION_SECRET: &[u8] = b"whsec_platforms_test";
pub const TEXT: &str = "Sorry about that & thanks: we're on it 🙏";

pub fn credentials() -> Credentials {
    Credentials::parse(&format!(
        r#"
[x]
consumer_key = "{CONSUMER_KEY}"
consumer_secret = "{CONSUMER_SECRET}"
[[x.accounts]]
id = "{X_ACCOUNT}"
access_token = "{ACCESS_TOKEN}"
access_token_secret = "{ACCESS_TOKEN_SECRET}"

[meta]
app_secret = "{APP_SECRET}"
[[meta.pages]]
id = "{PAGE}"
access_token = "{PAGE_TOKEN}"
[[meta.pages]]
id = "{IG_ACCOUNT}"
access_token = "{IG_TOKEN}"
"#
    ))
    .expect("the test credentials parse")
}

/// A platform whose X and Graph APIs are `base`.
pub fn platform(base: &str) -> HttpPlatform {
    platform_with_timeout(base, Duration::from_secs(5))
}

pub fn platform_with_timeout(base: &str, timeout: Duration) -> HttpPlatform {
    // The fakes listen on loopback.
    platform_guarded(base, OutboundGuard::allowing_private_targets(), timeout)
}

pub fn platform_guarded(base: &str, guard: OutboundGuard, timeout: Duration) -> HttpPlatform {
    HttpPlatform::new(
        credentials(),
        INTEGRATION_SECRET.to_vec(),
        Endpoints {
            x_api: base.to_string(),
            meta_graph: base.to_string(),
            meta_version: "v21.0".into(),
        },
        guard,
        timeout,
    )
    .expect("the client builds")
}

pub fn written_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

/// A pending reply from `account` on `source`, going to `target`.
pub fn reply(source: Source, account: &str, target: Target) -> Message {
    let channel = match target {
        Target::Public { .. } => Channel::Public,
        _ => Channel::Private,
    };
    let now = written_at();
    let body = NormalizedMessage {
        source,
        account: account.to_string(),
        channel,
        direction: Direction::Outbound,
        external_id: "socialcare:key-1".into(),
        in_reply_to: Some("customer-message-1".into()),
        thread_id: None,
        conversation_id: None,
        recipient_id: Some("customer-9".into()),
        author: Author {
            id: account.to_string(),
            name: None,
            handle: None,
            email: None,
            followers: None,
            verified_email: false,
        },
        text: TEXT.into(),
        attachments: Vec::new(),
        created_at: now,
        callback_url: None,
        found_by: None,
        subject: None,
        quoted: None,
        html: None,
    };
    Message {
        delivery: Some(Delivery::pending(target, false)),
        ..Message::new(TicketId::derive(now, "ticket-1"), body, now)
    }
}

pub fn public(to: &str) -> Target {
    Target::Public { to: to.into() }
}

pub fn direct(to: &str) -> Target {
    Target::Direct {
        to: to.into(),
        window_ends: None,
    }
}

/// A local port nothing listens on: connecting to it is refused.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// `actual` is within a few seconds after `expected` (which was taken before the call).
pub fn assert_around(actual: DateTime<Utc>, expected: DateTime<Utc>) {
    let drift = (actual - expected).num_seconds();
    assert!(
        (0..=5).contains(&drift),
        "expected about {expected}, got {actual}"
    );
}
