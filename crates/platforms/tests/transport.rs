//! When the answer does not come: a platform that never answers may have posted (`Unknown`),
//! one that cannot be reached has not (`Transient`).

mod common;

use common::*;
use serde_json::json;
use socialcare_domain::message::Source;
use socialcare_domain::replies::{Platform, PostError, Target};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn never_answering() -> MockServer {
    let server = MockServer::start().await;
    let late = ResponseTemplate::new(200)
        .set_body_json(json!({ "id": "too-late", "data": { "id": "too-late" } }))
        .set_delay(Duration::from_secs(5));
    Mock::given(method("POST"))
        .respond_with(late)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_unknown_on_every_platform() {
    let server = never_answering().await;
    let platform = platform_with_timeout(&server.uri(), Duration::from_millis(300));
    let callback = Target::Callback {
        url: format!("{}/hook", server.uri()),
    };
    for sent in [
        reply(Source::X, X_ACCOUNT, public("1")),
        reply(Source::Facebook, PAGE, public("5678_1")),
        reply(Source::Instagram, IG_ACCOUNT, direct("ig-1")),
        reply(Source::Integration, "acme", callback),
    ] {
        match platform.post(&sent).await {
            Err(PostError::Unknown(reason)) => {
                assert!(reason.contains("did not answer"), "{reason}")
            }
            other => panic!("{:?}: {other:?}", sent.body.source),
        }
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_refused_connection_is_worth_another_try_and_shows_no_token() {
    let closed = closed_port_url();
    let platform = platform(&closed);
    let callback = Target::Callback {
        url: format!("{closed}/hook"),
    };
    for sent in [
        reply(Source::X, X_ACCOUNT, direct("98765")),
        reply(Source::Facebook, PAGE, direct("24000001")),
        reply(Source::Integration, "acme", callback),
    ] {
        match platform.post(&sent).await {
            Err(PostError::Transient(reason)) => {
                assert!(reason.contains("could not reach"), "{reason}");
                assert!(!reason.contains(PAGE_TOKEN), "{reason}");
                assert!(!reason.contains(ACCESS_TOKEN), "{reason}");
            }
            other => panic!("{:?}: {other:?}", sent.body.source),
        }
    }
}

#[tokio::test]
async fn a_message_that_is_not_a_reply_is_not_posted() {
    let server = MockServer::start().await;
    let mut message = reply(Source::X, X_ACCOUNT, public("1"));
    message.delivery = None;

    let posted = platform(&server.uri()).post(&message).await;

    assert_eq!(posted, Err(PostError::Permanent("not a reply".into())));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn the_debug_form_of_the_platform_shows_no_secret() {
    let shown = format!("{:?}", platform("http://localhost"));
    for secret in [
        CONSUMER_SECRET,
        ACCESS_TOKEN,
        ACCESS_TOKEN_SECRET,
        PAGE_TOKEN,
        APP_SECRET,
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(!shown.contains("whsec"), "{shown}");
}
