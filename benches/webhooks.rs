//! Verify + parse + normalize one X tweet delivery and one Meta comment delivery, beside a bare
//! `serde_json::from_slice::<Value>` of the same bytes: the normalizer should cost no more than
//! three times the bare parse (issue #3).
//!
//! And the integrators' signature header with a 200 KB body: one bad `v1=` entry against
//! 2,000 empty ones and the most a header may carry (issue 14: a header must not cost more
//! to refuse than one MAC of the body).

use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use socialcare_webhooks::integration::signature;
use socialcare_webhooks::{meta, x};
use std::hint::black_box;

fn fixture(relative: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/{relative}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hmac(secret: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn webhooks(c: &mut Criterion) {
    let tweet = fixture("x/tweet-extended.json");
    let x_header = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(hmac(b"consumer", &tweet))
    );
    let comment = fixture("meta/meta_page_restfb_feed-comment-add-25.json");
    let meta_header = format!("sha256={}", hex::encode(hmac(b"app", &comment)));

    let mut group = c.benchmark_group("x_tweet");
    group.bench_function("verify_parse_normalize", |b| {
        b.iter(|| {
            x::signature::verify(b"consumer", Some(x_header.as_bytes()), black_box(&tweet))
                .unwrap();
            x::account_activity::parse_delivery(black_box(&tweet)).unwrap()
        })
    });
    group.bench_function("bare_value_parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&tweet)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("meta_comment");
    group.bench_function("verify_parse_normalize", |b| {
        b.iter(|| {
            meta::signature::verify(b"app", Some(meta_header.as_bytes()), black_box(&comment))
                .unwrap();
            meta::parse_delivery(black_box(&comment)).unwrap()
        })
    });
    group.bench_function("bare_value_parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&comment)).unwrap())
    });
    group.finish();
}

fn signature_headers(c: &mut Criterion) {
    let body = vec![b'x'; 200 * 1024];
    let now = chrono::Utc::now();
    let t = now.timestamp();
    let one_bad = format!("t={t},v1={}", "00".repeat(32));
    let most = format!("t={t}{}", format!(",v1={}", "00".repeat(32)).repeat(4));
    let empty_2000 = format!("t={t}{}", ",v1=".repeat(2000));
    let mut group = c.benchmark_group("signature_200kb");
    for (name, header) in [
        ("one_bad_entry", &one_bad),
        ("four_bad_entries", &most),
        ("2000_empty_entries", &empty_2000),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                signature::verify(b"secret", Some(header.as_bytes()), black_box(&body), now)
                    .unwrap_err()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, webhooks, signature_headers);
criterion_main!(benches);
