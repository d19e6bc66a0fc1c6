//! Property tests over every payload parser and signature check: arbitrary bytes, arbitrary
//! JSON, and mutations of the real fixtures. Nothing may panic, and whatever parses must be a
//! well-formed delivery. `SOCIALCARE_FUZZ_CASES` sets the cases per property (default 2000).

use proptest::prelude::*;
use proptest::test_runner::Config;
use socialcare_webhooks::payload::Delivery;
use socialcare_webhooks::{integration, meta, x};

fn cases() -> u32 {
    std::env::var("SOCIALCARE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn fixtures() -> Vec<Vec<u8>> {
    let root = format!("{}/../../tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut bodies = Vec::new();
    for dir in ["x", "meta", "lambda-events"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                bodies.push(std::fs::read(path).unwrap());
            }
        }
    }
    bodies
}

/// Every parser on the same input; a parsed delivery must be well formed.
fn check_all(body: &[u8]) {
    for delivery in [
        x::account_activity::parse_delivery(body),
        meta::parse_delivery(body),
    ]
    .into_iter()
    .flatten()
    {
        well_formed(&delivery);
    }
    if let Ok(message) = integration::normalize(body) {
        assert!(!message.external_id.trim().is_empty());
        assert!(!message.author.id.trim().is_empty());
    }
}

fn well_formed(delivery: &Delivery) {
    for message in &delivery.messages {
        assert!(!message.account.is_empty());
        assert!(!message.author.id.is_empty());
    }
    for change in &delivery.changes {
        assert!(!change.account.is_empty());
    }
}

/// Arbitrary JSON values, a few levels deep, with the keys the parsers look for.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("object".to_string()),
        Just("entry".to_string()),
        Just("id".to_string()),
        Just("time".to_string()),
        Just("changes".to_string()),
        Just("messaging".to_string()),
        Just("field".to_string()),
        Just("value".to_string()),
        Just("for_user_id".to_string()),
        Just("tweet_create_events".to_string()),
        Just("direct_message_events".to_string()),
        Just("message".to_string()),
        Just("sender".to_string()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("page".to_string()),
            Just("instagram".to_string()),
            ".{0,20}"
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(Config::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_all(&body);
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        check_all(value.to_string().as_bytes());
    }

    #[test]
    fn mutated_fixtures(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = fixtures();
        let mut body = all[pick.index(all.len())].clone();
        for (at, byte, kind) in edits {
            if body.is_empty() { break; }
            let i = at.index(body.len());
            match kind {
                0 => body[i] = byte,
                1 => body.insert(i, byte),
                _ => { body.remove(i); }
            }
        }
        check_all(&body);
        let keep = cut.index(body.len() + 1);
        check_all(&body[..keep]);
    }

    #[test]
    fn signature_checks_take_any_header(
        header in prop::collection::vec(any::<u8>(), 0..256),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assert!(x::signature::verify(b"secret", Some(&header), &body).is_err());
        prop_assert!(meta::signature::verify(b"secret", Some(&header), &body).is_err());
        let now = chrono::Utc::now();
        prop_assert!(integration::signature::verify(b"secret", Some(&header), &body, now).is_err());
    }
}
