//! Every Meta fixture in tests/fixtures/meta/ (real payloads, unchanged) through the parser,
//! asserting the normalized result field by field.

use chrono::{DateTime, TimeZone, Utc};
use socialcare_domain::{
    Attachment, Author, ChangeKind, Channel, Direction, MessageChange, NormalizedMessage, Source,
};
use socialcare_webhooks::meta::parse_delivery;
use socialcare_webhooks::payload::{Delivery, PayloadError};

fn delivery(name: &str) -> Delivery {
    let path = format!(
        "{}/../../tests/fixtures/meta/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_delivery(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn only_message(name: &str) -> NormalizedMessage {
    let d = delivery(name);
    assert_eq!(d.messages.len(), 1, "{name}: {d:?}");
    assert!(
        d.changes.is_empty() && d.ignored.is_empty(),
        "{name}: {d:?}"
    );
    d.messages.into_iter().next().unwrap()
}

fn only_change(name: &str) -> MessageChange {
    let d = delivery(name);
    assert_eq!(d.changes.len(), 1, "{name}: {d:?}");
    assert!(
        d.messages.is_empty() && d.ignored.is_empty(),
        "{name}: {d:?}"
    );
    d.changes.into_iter().next().unwrap()
}

fn only_ignored(name: &str) -> Vec<String> {
    let d = delivery(name);
    assert!(
        d.messages.is_empty() && d.changes.is_empty(),
        "{name}: {d:?}"
    );
    d.ignored
}

fn secs(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).unwrap()
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

fn person(id: &str, name: Option<&str>, handle: Option<&str>) -> Author {
    Author {
        id: id.into(),
        name: name.map(Into::into),
        handle: handle.map(Into::into),
        email: None,
        followers: None,
        verified_email: false,
    }
}

const PAGE: &str = "1234567890321";
const MESSENGER_PAGE: &str = "12345654332";
const CUSTOMER: &str = "987654321432";

// ---------------------------------------------------------------- Page feed

#[test]
fn feed_comment_add_211_by_the_page_itself() {
    let m = only_message("meta_page_restfb_feed-comment-add-211.json");
    assert_eq!(m.source, Source::Facebook);
    assert_eq!(m.account, PAGE);
    assert_eq!(m.channel, Channel::Public);
    // from.id is the page: the brand commented
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.external_id, "901097836652708_903438993085259");
    assert_eq!(
        m.in_reply_to.as_deref(),
        Some("1234567890321_901097836652708")
    );
    assert_eq!(
        m.thread_id.as_deref(),
        Some("1234567890321_901097836652708")
    );
    assert_eq!(m.conversation_id, None);
    assert_eq!(m.recipient_id, None);
    assert_eq!(m.author, person(PAGE, Some("Tester"), None));
    assert_eq!(m.text, "and the next one");
    assert_eq!(m.attachments, vec![]);
    assert_eq!(m.created_at, secs(1449135003));
    assert_eq!(m.callback_url, None);
}

#[test]
fn feed_comment_add_25_names_the_sender_by_sender_id() {
    let m = only_message("meta_page_restfb_feed-comment-add-25.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.external_id, "901097836652708_903438993085259");
    assert_eq!(m.author, person(PAGE, Some("Tester"), None));
    assert_eq!(
        m.in_reply_to.as_deref(),
        Some("1234567890321_901097836652708")
    );
    assert_eq!(m.text, "and the next one");
    assert_eq!(m.created_at, secs(1449135003));
}

#[test]
fn feed_comment_with_a_photo() {
    let m = only_message("meta_page_restfb_feed-comment-add-with-photo.json");
    assert_eq!(m.external_id, "901097836652708_903438993085259");
    assert_eq!(m.text, "and the next one");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: "photo".into(),
            url: "https://scontent-fra3-1.xx.fbcdn.net/v/t31.0-8/16715996_472849323104563_2289972788116415727_o.jpg?oh=7e0959913ff772d51e17b6d2bdebf44f&oe=593B77BB".into(),
            file: None,
        }]
    );
}

#[test]
fn feed_comment_edited_is_a_change_with_the_new_text() {
    let c = only_change("meta_page_restfb_feed-comment-edited-25.json");
    assert_eq!(c.source, Source::Facebook);
    assert_eq!(c.account, PAGE);
    assert_eq!(c.external_id, "900728623356296_900744590021366");
    assert_eq!(
        c.change,
        ChangeKind::Edited {
            text: "Let's see the Webhooks in action :D".into()
        }
    );
    assert_eq!(c.at, secs(1448555737));
}

#[test]
fn feed_comment_removed() {
    let c = only_change("meta_page_restfb_feed-comment-remove-25.json");
    assert_eq!(c.external_id, "905578656204626_905579239537901");
    assert_eq!(c.change, ChangeKind::Removed);
    // no created_time: the entry's time
    assert_eq!(c.at, secs(1452107182));
}

#[test]
fn feed_comment_hidden() {
    let c = only_change("meta_page_restfb_feed-comment-hide.json");
    assert_eq!(c.external_id, "900728623356296_900744590021366");
    assert_eq!(c.change, ChangeKind::Hidden);
    assert_eq!(c.at, secs(1467894562));
}

#[test]
fn a_visitor_post_on_the_page_is_inbound() {
    let m = only_message("meta_page_restfb_feed-post-add-25.json");
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.channel, Channel::Public);
    assert_eq!(m.external_id, "1234567890321_7293787835232");
    assert_eq!(m.thread_id.as_deref(), Some("1234567890321_7293787835232"));
    assert_eq!(m.in_reply_to, None);
    assert_eq!(m.author, person("8423678347823", Some("John Doe"), None));
    assert_eq!(m.text, "Let's check this");
    assert_eq!(m.created_at, secs(1454707020));
}

#[test]
fn the_pages_own_status_is_outbound() {
    let m = only_message("meta_page_restfb_feed-status-add-25.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.external_id, "1234567890321_930145403745849");
    assert_eq!(m.author, person(PAGE, Some("Tester"), None));
    assert_eq!(m.text, "This is just a short test message");
    assert_eq!(m.created_at, secs(1448633038));
}

#[test]
fn a_reaction_is_accepted_and_ignored() {
    assert_eq!(
        only_ignored("meta_page_restfb_feed-reaction-add-comment.json"),
        ["feed:reaction:add"]
    );
}

#[test]
fn two_entries_of_other_fields_are_accepted_and_ignored() {
    assert_eq!(
        only_ignored("meta_page_restfb_feed-two-entries-25.json"),
        ["facebook:parking", "facebook:payment_options"]
    );
}

#[test]
fn a_mention_in_a_comment_has_no_known_author() {
    let m = only_message("meta_page_restfb_mention-comment-add.json");
    assert_eq!(m.source, Source::Facebook);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "7363534231324_3754798971271444");
    assert_eq!(m.thread_id.as_deref(), Some("1234567890321_7363534231324"));
    assert_eq!(
        m.author,
        person("unknown:7363534231324_3754798971271444", None, None)
    );
    assert_eq!(m.text, "Just a test message");
    assert_eq!(m.created_at, secs(1614340862));
}

#[test]
fn a_mention_in_a_post() {
    let m = only_message("meta_page_restfb_mention-post-add-real.json");
    assert_eq!(m.external_id, "1234567890321_98722536423179");
    assert_eq!(m.thread_id.as_deref(), Some("1234567890321_98722536423179"));
    assert_eq!(m.text, "A test post message");
    assert_eq!(m.created_at, secs(1614340562));
}

// ---------------------------------------------------------------- Messenger

#[test]
fn a_messenger_message() {
    let m = only_message("meta_messenger_restfb_messaging-message-basic.json");
    assert_eq!(m.source, Source::Facebook);
    assert_eq!(m.account, MESSENGER_PAGE);
    assert_eq!(m.channel, Channel::Private);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(m.in_reply_to, None);
    assert_eq!(m.thread_id, None);
    assert_eq!(m.conversation_id.as_deref(), Some(CUSTOMER));
    assert_eq!(m.recipient_id.as_deref(), Some(MESSENGER_PAGE));
    assert_eq!(m.author, person(CUSTOMER, None, None));
    assert_eq!(m.text, "hello, world!");
    assert_eq!(m.attachments, vec![]);
    assert_eq!(m.created_at, millis(1457764197627));
}

#[test]
fn an_echo_is_the_brands_own_message_to_the_customer() {
    let m = only_message("meta_messenger_restfb_messaging-message-basic-echo.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.author, person(MESSENGER_PAGE, None, None));
    assert_eq!(m.recipient_id.as_deref(), Some(CUSTOMER));
    assert_eq!(m.conversation_id.as_deref(), Some(CUSTOMER));
    assert_eq!(
        m.customer_key(),
        format!("facebook:{MESSENGER_PAGE}:{CUSTOMER}")
    );
    assert_eq!(m.external_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(m.text, "hello, world!");
}

#[test]
fn a_standby_echo_is_handled_like_a_messaging_one() {
    let m = only_message("meta_messenger_restfb_standby-message-basic-echo.json");
    assert_eq!(m.direction, Direction::Outbound);
    assert_eq!(m.recipient_id.as_deref(), Some(CUSTOMER));
    assert_eq!(m.external_id, "mid.1457764197618:41d102a3e1ae206a38");
}

#[test]
fn a_reply_in_messenger_links_the_message_it_answers() {
    let m = only_message("meta_messenger_restfb_messaging-message-reply-1.json");
    assert_eq!(
        m.in_reply_to.as_deref(),
        Some("very_long_id_representing_the_original_message")
    );
    assert_eq!(m.text, "hello, world!");
}

#[test]
fn a_quick_reply_keeps_its_text() {
    let m = only_message("meta_messenger_restfb_messaging-message-quickreply.json");
    assert_eq!(m.account, PAGE);
    assert_eq!(m.external_id, "mid.1458696618141:b4ef9d19ec21086067");
    assert_eq!(m.text, "quick reply text");
    assert_eq!(m.created_at, millis(1470779510432));
}

#[test]
fn a_media_attachment() {
    let m = only_message("meta_messenger_restfb_messaging-message-media-attachment.json");
    assert_eq!(m.text, "");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: "image".into(),
            url: "IMAGE_URL".into(),
            file: None,
        }]
    );
    assert_eq!(m.created_at, millis(1458696618268));
}

#[test]
fn a_deleted_message_is_a_removal() {
    let c = only_change("meta_messenger_restfb_messaging-message-isdeleted.json");
    assert_eq!(c.external_id, "message_id");
    assert_eq!(c.change, ChangeKind::Removed);
    assert_eq!(c.at, millis(1457764197627));
}

#[test]
fn deliveries_reads_postbacks_and_reactions_are_accepted_and_ignored() {
    for (name, label) in [
        (
            "meta_messenger_restfb_messaging-delivery-basic.json",
            "messaging:delivery",
        ),
        (
            "meta_messenger_restfb_messaging-read-basic.json",
            "messaging:read",
        ),
        (
            "meta_messenger_restfb_messaging-postback-basic.json",
            "messaging:postback",
        ),
        (
            "meta_messenger_restfb_messaging-reaction-1.json",
            "messaging:reaction",
        ),
        (
            "meta_instagram_restfb_messaging-seen.json",
            "messaging:read",
        ),
    ] {
        assert_eq!(only_ignored(name), [label], "{name}");
    }
}

// ---------------------------------------------------------------- Instagram

#[test]
fn an_instagram_dm_with_an_unsupported_attachment() {
    let m = only_message("meta_instagram_restfb_messaging-attachment-unsupported.json");
    assert_eq!(m.source, Source::Instagram);
    assert_eq!(m.account, "17841452691600098");
    assert_eq!(m.channel, Channel::Private);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.author, person("5614879045272581", None, None));
    assert_eq!(m.recipient_id.as_deref(), Some("17841452691600098"));
    assert_eq!(m.conversation_id.as_deref(), Some("5614879045272581"));
    assert!(
        m.external_id
            .starts_with("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx")
    );
    assert_eq!(m.text, "");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].kind, "unsupported_type");
    assert!(
        m.attachments[0].url.starts_with(
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17997515821557846"
        )
    );
    assert_eq!(m.created_at, millis(1668022333735));
}

#[test]
fn an_instagram_comment_with_its_author_and_media() {
    let m = only_message("meta_instagram_restfb_wh-comments-2021.json");
    assert_eq!(m.source, Source::Instagram);
    assert_eq!(m.account, "0");
    assert_eq!(m.channel, Channel::Public);
    assert_eq!(m.direction, Direction::Inbound);
    assert_eq!(m.external_id, "123456789");
    assert_eq!(m.in_reply_to.as_deref(), Some("987654321"));
    assert_eq!(m.thread_id.as_deref(), Some("76543987"));
    assert_eq!(m.author, person("1234536447", None, Some("testuser")));
    assert_eq!(m.text, "This is an example.");
    assert_eq!(m.created_at, secs(1519399307));
}

#[test]
fn an_instagram_comment_without_author() {
    for name in [
        "meta_instagram_restfb_wh-comments.json",
        "meta_instagram_restfb_wh-livecomments.json",
    ] {
        let m = only_message(name);
        assert_eq!(m.external_id, "123456789", "{name}");
        assert_eq!(m.author, person("unknown:123456789", None, None), "{name}");
        assert_eq!(m.text, "This is an example.", "{name}");
        assert_eq!(m.in_reply_to, None, "{name}");
        assert_eq!(m.thread_id, None, "{name}");
        assert_eq!(m.created_at, secs(1519399307), "{name}");
    }
}

#[test]
fn an_instagram_mention() {
    let m = only_message("meta_instagram_restfb_wh-mentions.json");
    assert_eq!(m.source, Source::Instagram);
    assert_eq!(m.external_id, "17887498072083520");
    assert_eq!(m.thread_id.as_deref(), Some("17887498072083520"));
    assert_eq!(m.author, person("unknown:17887498072083520", None, None));
    assert_eq!(m.text, "");
    assert_eq!(m.created_at, secs(1519399310));
}

// ---------------------------------------------------------------- refusals

#[test]
fn another_object_is_refused_by_name() {
    match parse_delivery(br#"{"object": "whatsapp_business_account", "entry": []}"#) {
        Err(PayloadError::Field { field, problem }) => {
            assert_eq!(field, "object");
            assert!(problem.contains("whatsapp_business_account"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_entry_or_ids_are_refused() {
    for body in [
        &br#"{"object": "page"}"#[..],
        br#"{"object": "page", "entry": [{"time": 1}]}"#,
        br#"{"object": "page", "entry": [{"id": "", "time": 1}]}"#,
        br#"{"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed"}]}]}"#,
        br#"{"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {}, "recipient": {"id": "1"}}]}]}"#,
    ] {
        assert!(
            matches!(parse_delivery(body), Err(PayloadError::Field { .. })),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(matches!(
        parse_delivery(b"{\"object\""),
        Err(PayloadError::Syntax(_))
    ));
}

#[test]
fn every_fixture_is_asserted_here() {
    let dir = format!("{}/../../tests/fixtures/meta", env!("CARGO_MANIFEST_DIR"));
    let this_file = include_str!("meta.rs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        // Each fixture must be named by a test above, which asserts its fields.
        assert!(
            this_file.contains(&format!("\"{name}\"")),
            "{name} has no test"
        );
    }
}
