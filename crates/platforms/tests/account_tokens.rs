//! Posting with an account's connected token: it is used before the credentials file's, the
//! request is signed with it, and what the platform answered is told (posted, with X's
//! rate-limit headroom; or the token refused, in the platform's words).

mod common;

use common::*;
use socialcare_domain::message::Source;
use socialcare_domain::replies::{Platform, PostError};
use socialcare_domain::tokens::RateHeadroom;
use socialcare_platforms::tokens::{AccountToken, TokenEvent, TokenEvents, TokenLookup};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONNECTED_TOKEN: &str = "1234-connected-token";
const CONNECTED_PAGE_TOKEN: &str = "EAAGconnectedpage";

fn connected() -> TokenLookup {
    Arc::new(|source, account: String| {
        Box::pin(async move {
            Ok(match (source, account.as_str()) {
                (Source::X, X_ACCOUNT) => Some(AccountToken::X {
                    access_token: CONNECTED_TOKEN.into(),
                    access_token_secret: "connected-secret".into(),
                }),
                (Source::Facebook, PAGE) => Some(AccountToken::Meta {
                    page_token: CONNECTED_PAGE_TOKEN.into(),
                }),
                _ => None,
            })
        })
    })
}

fn recorder() -> (TokenEvents, Arc<Mutex<Vec<TokenEvent>>>) {
    let told = Arc::new(Mutex::new(Vec::new()));
    let events: TokenEvents = {
        let told = told.clone();
        Arc::new(move |event| {
            told.lock().unwrap().push(event);
            Box::pin(async {})
        })
    };
    (events, told)
}

#[tokio::test]
async fn a_connected_x_token_signs_the_post_and_the_headroom_is_told() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-rate-limit-limit", "100")
                .insert_header("x-rate-limit-remaining", "97")
                .insert_header("x-rate-limit-reset", "1796000000")
                .set_body_json(serde_json::json!({"data": {"id": "1999", "text": TEXT}})),
        )
        .mount(&server)
        .await;
    let (events, told) = recorder();
    let platform = platform(&server.uri()).with_account_tokens(connected(), events);
    let posted = platform
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;
    assert_eq!(posted, Ok("1999".to_string()));
    let request = &server.received_requests().await.unwrap()[0];
    let authorization = request.headers["authorization"].to_str().unwrap();
    assert!(
        authorization.contains(&format!("oauth_token=\"{CONNECTED_TOKEN}\"")),
        "{authorization}"
    );
    assert!(
        !authorization.contains(ACCESS_TOKEN),
        "the file's token is not used"
    );
    assert_eq!(
        *told.lock().unwrap(),
        [TokenEvent::Used {
            source: Source::X,
            account: X_ACCOUNT.into(),
            posted: true,
            rate: Some(RateHeadroom {
                remaining: 97,
                limit: 100,
                resets_at: chrono::DateTime::from_timestamp(1_796_000_000, 0),
            }),
        }]
    );
}

#[tokio::test]
async fn a_refused_x_token_is_told_in_xs_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"errors": [{"code": 89, "message": "Invalid or expired token."}]}),
        ))
        .mount(&server)
        .await;
    let (events, told) = recorder();
    let platform = platform(&server.uri()).with_account_tokens(connected(), events);
    let posted = platform
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;
    let reason = "X refused the post (401): Invalid or expired token.".to_string();
    assert_eq!(posted, Err(PostError::Permanent(reason.clone())));
    assert_eq!(
        *told.lock().unwrap(),
        [TokenEvent::Refused {
            source: Source::X,
            account: X_ACCOUNT.into(),
            reason,
        }]
    );
}

#[tokio::test]
async fn a_refused_page_token_is_told_and_another_refusal_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
            "message": "Error validating access token: The session has been invalidated.",
            "type": "OAuthException", "code": 190}})),
        )
        .mount(&server)
        .await;
    let (events, told) = recorder();
    let facebook = platform(&server.uri()).with_account_tokens(connected(), events);
    let posted = facebook.publish(Source::Facebook, PAGE, TEXT).await;
    assert!(matches!(posted, Err(PostError::Permanent(_))), "{posted:?}");
    let request = &server.received_requests().await.unwrap()[0];
    assert!(
        request.url.query().unwrap().contains(CONNECTED_PAGE_TOKEN),
        "posted with the connected page token"
    );
    let told = told.lock().unwrap().clone();
    assert!(
        matches!(&told[..], [TokenEvent::Refused { source: Source::Facebook, reason, .. }] if reason.contains("session has been invalidated")),
        "{told:?}"
    );

    // A refusal of the post itself (not of the token) is no token refusal.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"detail": "You are not allowed to create a Tweet with duplicate content."}),
        ))
        .mount(&server)
        .await;
    let (events, told) = recorder();
    let platform = platform(&server.uri()).with_account_tokens(connected(), events);
    let _ = platform
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;
    assert!(
        matches!(
            &told.lock().unwrap()[..],
            [TokenEvent::Used { posted: false, .. }]
        ),
        "{:?}",
        told.lock().unwrap()
    );
}

/// Review of issue 17: a token that could not be read just now (a throttled store or KMS)
/// made the reply fail for good as "not connected".
#[tokio::test]
async fn a_token_that_cannot_be_read_now_is_tried_again_later() {
    let server = MockServer::start().await;
    let failing: TokenLookup =
        Arc::new(|_, _| Box::pin(async { Err("kms decrypt: ThrottlingException".to_string()) }));
    let (events, told) = recorder();
    let platform = platform(&server.uri()).with_account_tokens(failing, events);
    let posted = platform
        .post(&reply(Source::X, X_ACCOUNT, public("1")))
        .await;
    assert_eq!(
        posted,
        Err(PostError::Transient(
            "the account's token could not be read: kms decrypt: ThrottlingException".into()
        ))
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(told.lock().unwrap().is_empty());
}
