//! Replies on X: the exact requests (signed with OAuth 1.0a as the brand) and what X's answers
//! become.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};
use socialcare_domain::message::Source;
use socialcare_domain::replies::{Platform, PostError, Target};
use std::collections::BTreeMap;
use std::num::NonZeroU64;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Mounts one answer to `POST route` and returns the server.
async fn x_answering(route: &str, answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn only_request(server: &MockServer) -> Request {
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The parameters of an `Authorization: OAuth k="v", ...` header, decoded.
fn oauth_params(header: &str) -> BTreeMap<String, String> {
    let params = header
        .strip_prefix("OAuth ")
        .unwrap_or_else(|| panic!("not an OAuth header: {header}"));
    params
        .split(',')
        .map(|pair| {
            let (key, value) = pair.trim().split_once('=').unwrap();
            let value = value.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
            (key.to_string(), percent_decode(value))
        })
        .collect()
}

/// The header a correct signer makes for this POST, with the nonce and timestamp the request
/// used; `token_secret` is a parameter so a test can show a wrong key gives another signature.
fn expected_authorization(url: &str, nonce: &str, timestamp: u64, token_secret: &str) -> String {
    let token = oauth1_request::Token::from_parts(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        ACCESS_TOKEN,
        token_secret,
    );
    oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1)
        .nonce(nonce)
        .timestamp(NonZeroU64::new(timestamp))
        .version(true)
        .post(url, &())
}

/// Checks every OAuth parameter of the request and recomputes its signature.
fn assert_signed_as_the_brand(request: &Request, url: &str) {
    let header = request
        .headers
        .get("authorization")
        .expect("an Authorization header")
        .to_str()
        .unwrap();
    let params = oauth_params(header);
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "oauth_consumer_key",
            "oauth_nonce",
            "oauth_signature",
            "oauth_signature_method",
            "oauth_timestamp",
            "oauth_token",
            "oauth_version"
        ]
    );
    assert_eq!(params["oauth_consumer_key"], CONSUMER_KEY);
    assert_eq!(params["oauth_token"], ACCESS_TOKEN);
    assert_eq!(params["oauth_signature_method"], "HMAC-SHA1");
    assert_eq!(params["oauth_version"], "1.0");
    let nonce = &params["oauth_nonce"];
    assert!(nonce.len() >= 8, "a weak nonce: {nonce}");
    let timestamp: u64 = params["oauth_timestamp"].parse().unwrap();
    let now = Utc::now().timestamp() as u64;
    assert!(
        now.abs_diff(timestamp) < 60,
        "timestamp {timestamp}, now {now}"
    );

    let expected = expected_authorization(url, nonce, timestamp, ACCESS_TOKEN_SECRET);
    assert_eq!(
        params["oauth_signature"],
        oauth_params(&expected)["oauth_signature"],
        "the signature of POST {url}"
    );
    assert_eq!(header, expected);
    // The check has teeth: another key signs differently.
    let forged = expected_authorization(url, nonce, timestamp, "another-secret");
    assert_ne!(
        params["oauth_signature"],
        oauth_params(&forged)["oauth_signature"]
    );
}

fn assert_json_request(request: &Request) -> Value {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    serde_json::from_slice(&request.body).expect("a JSON body")
}

#[test]
fn the_signer_reproduces_the_signature_x_documents() {
    // The example of X's "Creating a signature" page; its base string and key give
    // hCtSmYh+iHYCEqBWrE7C7hYmtUk= (also checked with `openssl dgst -sha1 -hmac`).
    let token = oauth1_request::Token::from_parts(
        "xvz1evFS4wEEPTGEFPHBog",
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    );
    let request = oauth1_request::ParameterList::new([
        ("include_entities", "true"),
        (
            "status",
            "Hello Ladies + Gentlemen, a signed OAuth request!",
        ),
    ]);
    let header = oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1)
        .nonce("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg")
        .timestamp(NonZeroU64::new(1318622958))
        .version(true)
        .post("https://api.twitter.com/1.1/statuses/update.json", &request);
    assert_eq!(
        oauth_params(&header)["oauth_signature"],
        "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    );
}

#[tokio::test]
async fn a_public_reply_is_a_tweet_in_reply_to_the_customers_tweet() {
    let answer = ResponseTemplate::new(201).set_body_json(json!({
        "data": { "id": "1860000000000000001", "text": TEXT, "edit_history_tweet_ids": ["1860000000000000001"] }
    }));
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1859999999999999999")))
        .await;

    assert_eq!(posted, Ok("1860000000000000001".to_string()));
    let request = only_request(&server).await;
    let body = assert_json_request(&request);
    assert_eq!(
        body,
        json!({ "text": TEXT, "reply": { "in_reply_to_tweet_id": "1859999999999999999" } })
    );
    assert_signed_as_the_brand(&request, &format!("{}/2/tweets", server.uri()));
}

#[tokio::test]
async fn a_status_update_is_a_tweet_of_the_brand_answering_no_one() {
    let answer = ResponseTemplate::new(201).set_body_json(json!({
        "data": { "id": "1860000000000000009", "text": TEXT, "edit_history_tweet_ids": ["1860000000000000009"] }
    }));
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .publish(Source::X, X_ACCOUNT, TEXT)
        .await;

    assert_eq!(posted, Ok("1860000000000000009".to_string()));
    let request = only_request(&server).await;
    assert_eq!(assert_json_request(&request), json!({ "text": TEXT }));
    assert_signed_as_the_brand(&request, &format!("{}/2/tweets", server.uri()));
}

#[tokio::test]
async fn a_private_reply_is_a_direct_message_to_the_customer() {
    let route = "/2/dm_conversations/with/98765/messages";
    let answer = ResponseTemplate::new(201).set_body_json(json!({
        "data": { "dm_conversation_id": "1234-98765", "dm_event_id": "1860000000000000002" }
    }));
    let server = x_answering(route, answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, direct("98765")))
        .await;

    assert_eq!(posted, Ok("1860000000000000002".to_string()));
    let request = only_request(&server).await;
    assert_eq!(assert_json_request(&request), json!({ "text": TEXT }));
    assert_signed_as_the_brand(&request, &format!("{}{route}", server.uri()));
}

#[tokio::test]
async fn over_the_limit_waits_until_x_says_it_resets() {
    let answer = ResponseTemplate::new(429)
        .insert_header("x-rate-limit-limit", "200")
        .insert_header("x-rate-limit-remaining", "0")
        .insert_header("x-rate-limit-reset", "1795341600")
        .set_body_json(json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 }));
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    match posted {
        Err(PostError::RateLimited { retry_at, reason }) => {
            assert_eq!(retry_at, DateTime::from_timestamp(1795341600, 0).unwrap());
            assert!(reason.contains("Too Many Requests"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn over_the_limit_without_a_reset_waits_a_window() {
    let server = x_answering("/2/tweets", ResponseTemplate::new(429)).await;
    let before = Utc::now();

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    match posted {
        Err(PostError::RateLimited { retry_at, .. }) => {
            assert_around(retry_at, before + chrono::Duration::minutes(15))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn duplicate_content_is_refused_for_good_in_xs_words() {
    let answer = ResponseTemplate::new(403).set_body_json(json!({
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403
    }));
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Permanent(
            "X refused the post (403): You are not allowed to create a Tweet with duplicate content."
                .into()
        ))
    );
}

#[tokio::test]
async fn a_v1_style_error_list_is_read_too() {
    let answer = ResponseTemplate::new(401).set_body_json(
        json!({ "errors": [{ "code": 89, "message": "Invalid or expired token." }] }),
    );
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Permanent(
            "X refused the post (401): Invalid or expired token.".into()
        ))
    );
}

#[tokio::test]
async fn a_server_error_is_worth_another_try() {
    let answer = ResponseTemplate::new(503).set_body_string("Service Unavailable");
    let server = x_answering("/2/tweets", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Transient(
            "X failed (503): Service Unavailable".into()
        ))
    );
}

#[tokio::test]
async fn an_accepted_post_without_an_id_may_have_been_posted() {
    let server = x_answering(
        "/2/tweets",
        ResponseTemplate::new(201).set_body_string("{}"),
    )
    .await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;

    assert!(matches!(posted, Err(PostError::Unknown(_))), "{posted:?}");
}

#[tokio::test]
async fn an_account_without_credentials_is_refused_without_a_call() {
    let server = MockServer::start().await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, "999", public("1")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Permanent(
            "X account 999 is not connected: connect it in the console's settings".into()
        ))
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn x_has_no_private_replies_to_comments_nor_callbacks() {
    let server = MockServer::start().await;
    let platform = platform(&server.uri());
    for target in [
        Target::PrivateReply {
            comment_id: "1".into(),
        },
        Target::Callback { url: server.uri() },
    ] {
        match platform.post(&reply(Source::X, X_ACCOUNT, target)).await {
            Err(PostError::Permanent(reason)) => {
                assert!(reason.starts_with("X has no"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_id_that_would_change_the_path_is_refused_without_a_call() {
    let server = MockServer::start().await;

    let posted = platform(&server.uri())
        .post(&reply(Source::X, X_ACCOUNT, direct("../../2/tweets")))
        .await;

    assert!(matches!(posted, Err(PostError::Permanent(_))), "{posted:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
