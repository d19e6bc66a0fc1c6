//! Every X payload in tests/fixtures/x/ through the Account Activity parser, field by field.

use chrono::{TimeZone, Utc};
use socialcare_domain::{Attachment, Channel, Direction, NormalizedMessage, Source};
use socialcare_webhooks::payload::Delivery;
use socialcare_webhooks::payload::PayloadError;
use socialcare_webhooks::x::account_activity::parse_delivery;

const BRAND: &str = "1100000000000000001";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/x/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn delivery(name: &str) -> Delivery {
    let delivery = parse_delivery(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(delivery.messages.iter().all(|m| m.account == BRAND));
    delivery
}

fn only_message(name: &str) -> NormalizedMessage {
    let delivery = delivery(name);
    assert_eq!(delivery.messages.len(), 1, "{name}");
    assert!(
        delivery.ignored.is_empty(),
        "{name}: {:?}",
        delivery.ignored
    );
    delivery.messages.into_iter().next().unwrap()
}

fn millis(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

#[test]
fn a_mention() {
    let m = only_message("tweet-mention.json");
    assert_eq!(m.source, Source::X);
    assert_eq!(m.account, BRAND);
    assert_eq!(m.channel, Channel::Public);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "1992500000000000001");
    assert_eq!(m.in_reply_to, None);
    assert_eq!(m.thread_id, None);
    assert_eq!(m.conversation_id, None);
    assert_eq!(m.recipient_id, None);
    assert_eq!(m.author.id, "3001969357");
    assert_eq!(m.author.handle.as_deref(), Some("furiouscamper"));
    assert_eq!(m.author.name.as_deref(), Some("Jordan Brinks"));
    assert_eq!(m.author.followers, Some(22));
    assert_eq!(m.author.email, None);
    assert_eq!(
        m.text,
        "@acme_care my internet has been down since 6am and nobody picks up the phone"
    );
    assert_eq!(m.attachments, vec![]);
    // timestamp_ms wins over the second-precision created_at
    assert_eq!(m.created_at, millis(1_795_338_847_123));
    assert_eq!(m.callback_url, None);
}

#[test]
fn a_reply_links_to_the_tweet_it_answers() {
    let m = only_message("tweet-reply.json");
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "1992500000000000003");
    assert_eq!(m.in_reply_to.as_deref(), Some("1992500000000000002"));
    assert_eq!(m.recipient_id.as_deref(), Some(BRAND));
    assert_eq!(m.author.id, "3001969357");
    assert_eq!(m.text, "@acme_care still nothing, it's been 3 hours");
    assert_eq!(m.created_at, millis(1_795_339_900_000));
}

#[test]
fn a_long_tweet_brings_its_full_text_and_photo() {
    let m = only_message("tweet-extended.json");
    assert_eq!(m.external_id, "1992500000000000004");
    assert_eq!(
        m.text,
        "@acme_care Third time this month the router drops every evening between 7 and 10. I've restarted it, reset it, swapped the cable and sat on hold for 40 minutes. Photo of the lights attached. What now?"
    );
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: "photo".into(),
            url: "https://pbs.twimg.com/media/Fx1aBcDeFgH.jpg".into(),
            file: None,
        }]
    );
    assert_eq!(m.author.id, "4337869213");
    assert_eq!(m.author.handle.as_deref(), Some("lee_ann"));
    assert_eq!(m.author.followers, Some(15873));
    assert_eq!(m.created_at, millis(1_795_341_731_000));
}

#[test]
fn a_quote_tweet_links_the_quoted_tweet() {
    let m = only_message("tweet-quote.json");
    assert_eq!(m.external_id, "1992500000000000005");
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.in_reply_to, None);
    assert_eq!(
        m.text,
        "\"All services running normally\" – not in my street they aren't"
    );
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: "quoted_tweet".into(),
            url: "https://x.com/i/status/1992400000000000000".into(),
            file: None,
        }]
    );
    // no timestamp_ms: the v1.1 date is used
    assert_eq!(
        m.created_at,
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap()
    );
}

#[test]
fn the_brands_own_reply_is_outbound_to_the_customer() {
    let m = only_message("brand-reply.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.channel, Channel::Public);
    assert_eq!(m.author.id, BRAND);
    assert_eq!(m.author.handle.as_deref(), Some("acme_care"));
    assert_eq!(m.in_reply_to.as_deref(), Some("1992500000000000001"));
    assert_eq!(m.recipient_id.as_deref(), Some("3001969357"));
    assert_eq!(m.customer_key(), "x:1100000000000000001:3001969357");
    assert_eq!(m.created_at, millis(1_795_339_200_000));
}

#[test]
fn a_direct_message() {
    let m = only_message("dm.json");
    assert_eq!(m.source, Source::X);
    assert_eq!(m.channel, Channel::Private);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "1992500000000000101");
    assert_eq!(m.in_reply_to, None);
    assert_eq!(
        m.conversation_id.as_deref(),
        Some("1100000000000000001-3001969357")
    );
    assert_eq!(m.recipient_id.as_deref(), Some(BRAND));
    assert_eq!(m.author.id, "3001969357");
    assert_eq!(m.author.name.as_deref(), Some("Jordan Brinks"));
    assert_eq!(m.author.handle.as_deref(), Some("furiouscamper"));
    assert_eq!(m.author.followers, Some(22));
    assert_eq!(
        m.text,
        "Account number is 55-1234-9. The modem shows a red light."
    );
    assert_eq!(m.attachments, vec![]);
    assert_eq!(m.created_at, millis(1_795_339_500_000));
    assert_eq!(m.customer_key(), "x:1100000000000000001:3001969357");
}

#[test]
fn a_direct_message_with_a_photo() {
    let m = only_message("dm-media.json");
    assert_eq!(m.external_id, "1992500000000000102");
    assert_eq!(m.text, "Here is the modem https://t.co/Zx9Yw8Vu7T");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: "photo".into(),
            url: "https://ton.twitter.com/1.1/ton/data/dm/1992500000000000102/1992500000000000199/AbCd.jpg".into(),
            file: None,
        }]
    );
}

#[test]
fn the_brands_own_dm_is_outbound_in_the_same_conversation() {
    let m = only_message("brand-dm.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.channel, Channel::Private);
    assert_eq!(m.author.id, BRAND);
    assert_eq!(m.author.handle.as_deref(), Some("acme_care"));
    assert_eq!(m.recipient_id.as_deref(), Some("3001969357"));
    assert_eq!(
        m.conversation_id.as_deref(),
        Some("1100000000000000001-3001969357")
    );
    assert_eq!(m.customer_key(), "x:1100000000000000001:3001969357");
}

#[test]
fn a_deleted_tweet_is_a_removal() {
    let d = delivery("tweet-delete.json");
    assert!(d.messages.is_empty() && d.ignored.is_empty());
    assert_eq!(
        d.changes,
        vec![socialcare_domain::MessageChange {
            source: Source::X,
            account: BRAND.into(),
            external_id: "1992500000000000003".into(),
            change: socialcare_domain::ChangeKind::Removed,
            at: millis(1_795_350_000_000),
        }]
    );
}

#[test]
fn retweets_likes_follows_and_indicators_are_accepted_without_messages() {
    let d = delivery("ignored.json");
    assert!(d.messages.is_empty());
    assert_eq!(
        d.ignored,
        [
            "direct_message_indicate_typing_events",
            "direct_message_mark_read_events",
            "favorite_events",
            "follow_events",
            "retweet"
        ]
    );
}

#[test]
fn a_delivery_without_for_user_id_is_refused_by_name() {
    for body in [
        &b"{\"tweet_create_events\": []}"[..],
        b"{\"for_user_id\": \"  \"}",
    ] {
        match parse_delivery(body) {
            Err(PayloadError::Field { problem, field }) => {
                assert!(
                    field == "for_user_id" || problem.contains("for_user_id"),
                    "{field}: {problem}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        parse_delivery(b"{not json"),
        Err(PayloadError::Syntax(_))
    ));
}
