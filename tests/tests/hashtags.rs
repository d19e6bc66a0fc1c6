//! Instagram hashtags through `socialcare-local` against a fake Graph API: an Instagram
//! account's hashtag in its settings is polled through the sender with the account's page token
//! (`ig_hashtag_search`, then the hashtag's `recent_media`, each with its `appsecret_proof`);
//! what it finds is counted by intent and kept among the latest heard with its link, never
//! ticketed (Meta names no author, and the brand cannot comment on it); the next poll reads only
//! what is newer.

use chrono::{Duration, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use socialcare_tests::runner::Driver;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_hashtags_key_0001";
const IG: &str = "17841400000000001";
const PAGE_TOKEN: &str = "EAAG-page-token-for-hashtags";
const APP_SECRET: &str = "meta-app-secret-for-hashtags";
const HASHTAG_ID: &str = "17843853986012965";

const ACCOUNTS: &str = r##"
[[accounts]]
platform = "instagram"
id = "17841400000000001"
name = "Acme on Instagram"

[accounts.listening]
queries = ["#AcmeFibre"]
every_minutes = 1
"##;

fn proof() -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(PAGE_TOKEN.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn at(minutes_ago: i64) -> String {
    // Meta's form: `2026-12-04T09:30:00+0000`.
    (Utc::now() - Duration::minutes(minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

async fn searches_when(driver: &Driver, found: u64) -> Value {
    let mut searches = Value::Null;
    for _ in 0..150 {
        let (status, answer) = driver
            .get(&format!("/v1/accounts/instagram/{IG}/searches"))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        searches = answer;
        if searches[0]["found"] == found {
            return searches;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the search never found {found}: {searches}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hashtag_is_polled_with_the_page_token_counted_and_linked_never_ticketed() {
    let meta = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/ig_hashtag_search"))
        .and(query_param("user_id", IG))
        .and(query_param("q", "acmefibre"))
        .and(query_param("access_token", PAGE_TOKEN))
        .and(query_param("appsecret_proof", proof()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "data": [{ "id": HASHTAG_ID }] })),
        )
        .mount(&meta)
        .await;
    let recent = format!("/v21.0/{HASHTAG_ID}/recent_media");
    let media = json!({
        "data": [
            { "id": "18000000000000002", "caption": "#acmefibre down again, third time this week. Useless.",
              "permalink": "https://www.instagram.com/p/C2down/", "timestamp": at(2) },
            { "id": "18000000000000001", "caption": "Loving my #acmefibre, thank you!",
              "permalink": "https://www.instagram.com/p/C1love/", "timestamp": at(3) },
            // Before the first poll's hour: not read.
            { "id": "18000000000000000", "caption": "old news #acmefibre",
              "permalink": "https://www.instagram.com/p/C0old/", "timestamp": at(120) }
        ],
        "paging": { "cursors": { "after": "QVFIUm" } }
    });
    Mock::given(method("GET"))
        .and(path(recent.as_str()))
        .and(query_param("user_id", IG))
        .and(query_param("fields", "id,caption,permalink,timestamp"))
        .and(query_param("limit", "50"))
        .and(query_param("access_token", PAGE_TOKEN))
        .and(query_param("appsecret_proof", proof()))
        .respond_with(ResponseTemplate::new(200).set_body_json(media))
        .mount(&meta)
        .await;

    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(&config, ACCOUNTS).unwrap();
    let credentials = data.path().join("platforms.toml");
    std::fs::write(
        &credentials,
        format!(
            "[meta]\napp_secret = \"{APP_SECRET}\"\n[[meta.pages]]\nid = \"{IG}\"\naccess_token = \"{PAGE_TOKEN}\"\n"
        ),
    )
    .unwrap();
    // SAFETY: set before the runner reads the environment; a test process runs one test.
    unsafe {
        std::env::set_var("META_GRAPH_BASE_URL", meta.uri());
    }
    let driver = Driver::start_with_files(
        data.path(),
        false,
        "whsec_hashtags",
        KEY,
        Some(config),
        Some(credentials),
    )
    .await;

    let searches = searches_when(&driver, 2).await;
    let search = &searches[0];
    assert_eq!(search["query"], "#AcmeFibre");
    assert_eq!(search["source"], "instagram");
    assert_eq!(search["ticketed"], 0);
    assert_eq!(search["heard"], json!({ "complaint": 1, "praise": 1 }));
    assert_eq!(search["last_error"], Value::Null);
    let latest = search["latest_heard"].as_array().unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0]["external_id"], "18000000000000002");
    assert_eq!(latest[0]["intent"], "complaint");
    assert_eq!(latest[0]["link"], "https://www.instagram.com/p/C2down/");
    assert_eq!(latest[0]["author_handle"], Value::Null);
    assert_eq!(latest[1]["link"], "https://www.instagram.com/p/C1love/");
    // The newest post's time is where the next poll starts.
    let newest = (Utc::now() - Duration::minutes(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let since = search["since_id"].as_str().unwrap();
    assert_eq!(&since[..16], &newest[..16], "{since}");
    let (_, list) = driver.get("/v1/tickets").await;
    assert_eq!(list["tickets"], json!([]), "nothing is ticketed");
    // The account's settings page lists them, each linked to the post.
    let mut visitor = socialcare_tests::browser::Visitor::new(&driver.base);
    assert_eq!(visitor.sign_in(KEY).await.status, StatusCode::SEE_OTHER);
    let page = visitor
        .get(&format!("/settings/accounts/instagram/{IG}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(
            "<a href=\"https://www.instagram.com/p/C2down/\" rel=\"noopener noreferrer\">#acmefibre down again, third time this week. Useless.</a>"
        ),
        "{}",
        page.body
    );

    // Polled again a minute on, the same posts are not counted again.
    let requests = meta.received_requests().await.unwrap();
    let polls = requests.iter().filter(|r| r.url.path() == recent).count();
    assert!(polls >= 1);
    tokio::time::sleep(std::time::Duration::from_secs(65)).await;
    let requests = meta.received_requests().await.unwrap();
    assert!(
        requests.iter().filter(|r| r.url.path() == recent).count() > polls,
        "polled again"
    );
    let (_, again) = driver
        .get(&format!("/v1/accounts/instagram/{IG}/searches"))
        .await;
    assert_eq!(again[0]["found"], 2, "{again}");
    assert!(
        requests.iter().all(|r| r
            .url
            .query()
            .is_some_and(|q| q.contains("appsecret_proof="))),
        "every call carries its proof"
    );
    driver.running.stop().await.unwrap();
}
