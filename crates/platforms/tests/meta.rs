//! Replies on Facebook and Instagram through the Graph API: the exact requests and what
//! Meta's answers become.

mod common;

use chrono::Utc;
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use socialcare_domain::message::Source;
use socialcare_domain::replies::{Platform, PostError, Target};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Mounts one answer to `POST route` and returns the server.
async fn graph_answering(route: &str, answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// The one request made, checked for what every Graph call carries; returns its JSON body.
async fn graph_request(server: &MockServer, token: &str, proof: &str) -> Value {
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request: &Request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        [
            ("access_token".to_string(), token.to_string()),
            ("appsecret_proof".to_string(), proof.to_string()),
        ]
    );
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    serde_json::from_slice(&request.body).expect("a JSON body")
}

#[test]
fn the_expected_proofs_are_hmac_sha256_of_the_tokens() {
    for (token, proof) in [(PAGE_TOKEN, PAGE_PROOF), (IG_TOKEN, IG_PROOF)] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        assert_eq!(hex::encode(mac.finalize().into_bytes()), proof);
    }
}

#[tokio::test]
async fn a_facebook_public_reply_is_a_comment_on_the_comment() {
    let answer = ResponseTemplate::new(200).set_body_json(json!({ "id": "5678_111_222" }));
    let server = graph_answering("/v21.0/5678_111/comments", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Facebook, PAGE, public("5678_111")))
        .await;

    assert_eq!(posted, Ok("5678_111_222".to_string()));
    let body = graph_request(&server, PAGE_TOKEN, PAGE_PROOF).await;
    assert_eq!(body, json!({ "message": TEXT }));
}

#[tokio::test]
async fn a_facebook_status_update_is_a_post_on_the_pages_feed() {
    let answer = ResponseTemplate::new(200).set_body_json(json!({ "id": "5678_333" }));
    let server = graph_answering("/v21.0/5678/feed", answer).await;

    let posted = platform(&server.uri())
        .publish(Source::Facebook, PAGE, TEXT)
        .await;

    assert_eq!(posted, Ok("5678_333".to_string()));
    let body = graph_request(&server, PAGE_TOKEN, PAGE_PROOF).await;
    assert_eq!(body, json!({ "message": TEXT }));
}

#[tokio::test]
async fn instagram_and_integrations_have_no_text_only_public_post() {
    let server = MockServer::start().await;
    let platform = platform(&server.uri());
    for (source, account) in [
        (Source::Instagram, IG_ACCOUNT),
        (Source::Integration, "crm"),
    ] {
        match platform.publish(source, account, TEXT).await {
            Err(PostError::Permanent(reason)) => assert!(!reason.is_empty()),
            other => panic!("{source}: {other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_facebook_direct_message_answers_in_messenger() {
    let answer = ResponseTemplate::new(200)
        .set_body_json(json!({ "recipient_id": "24000001", "message_id": "m_AbC-123" }));
    let server = graph_answering("/v21.0/5678/messages", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Facebook, PAGE, direct("24000001")))
        .await;

    assert_eq!(posted, Ok("m_AbC-123".to_string()));
    let body = graph_request(&server, PAGE_TOKEN, PAGE_PROOF).await;
    assert_eq!(
        body,
        json!({
            "recipient": { "id": "24000001" },
            "messaging_type": "RESPONSE",
            "message": { "text": TEXT }
        })
    );
}

#[tokio::test]
async fn a_facebook_private_reply_goes_to_the_comments_author() {
    let answer = ResponseTemplate::new(200)
        .set_body_json(json!({ "recipient_id": "24000001", "message_id": "m_private" }));
    let server = graph_answering("/v21.0/5678/messages", answer).await;

    let target = Target::PrivateReply {
        comment_id: "5678_111".into(),
    };
    let posted = platform(&server.uri())
        .post(&reply(Source::Facebook, PAGE, target))
        .await;

    assert_eq!(posted, Ok("m_private".to_string()));
    let body = graph_request(&server, PAGE_TOKEN, PAGE_PROOF).await;
    assert_eq!(
        body,
        json!({ "recipient": { "comment_id": "5678_111" }, "message": { "text": TEXT } })
    );
}

#[tokio::test]
async fn an_instagram_public_reply_is_a_reply_to_the_comment() {
    let answer = ResponseTemplate::new(200).set_body_json(json!({ "id": "17900000000000002" }));
    let server = graph_answering("/v21.0/17900000000000001/replies", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(
            Source::Instagram,
            IG_ACCOUNT,
            public("17900000000000001"),
        ))
        .await;

    assert_eq!(posted, Ok("17900000000000002".to_string()));
    let body = graph_request(&server, IG_TOKEN, IG_PROOF).await;
    assert_eq!(body, json!({ "message": TEXT }));
}

#[tokio::test]
async fn an_instagram_direct_message_is_sent_from_the_account() {
    let answer = ResponseTemplate::new(200)
        .set_body_json(json!({ "recipient_id": "ig-scoped-1", "message_id": "aWdfZAG1" }));
    let server = graph_answering(&format!("/v21.0/{IG_ACCOUNT}/messages"), answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Instagram, IG_ACCOUNT, direct("ig-scoped-1")))
        .await;

    assert_eq!(posted, Ok("aWdfZAG1".to_string()));
    let body = graph_request(&server, IG_TOKEN, IG_PROOF).await;
    assert_eq!(
        body,
        json!({
            "recipient": { "id": "ig-scoped-1" },
            "messaging_type": "RESPONSE",
            "message": { "text": TEXT }
        })
    );
}

#[tokio::test]
async fn an_instagram_private_reply_goes_to_the_comments_author() {
    let answer = ResponseTemplate::new(200)
        .set_body_json(json!({ "recipient_id": "ig-scoped-1", "message_id": "aWdfZAG2" }));
    let server = graph_answering(&format!("/v21.0/{IG_ACCOUNT}/messages"), answer).await;

    let target = Target::PrivateReply {
        comment_id: "17900000000000001".into(),
    };
    let posted = platform(&server.uri())
        .post(&reply(Source::Instagram, IG_ACCOUNT, target))
        .await;

    assert_eq!(posted, Ok("aWdfZAG2".to_string()));
    let body = graph_request(&server, IG_TOKEN, IG_PROOF).await;
    assert_eq!(
        body,
        json!({ "recipient": { "comment_id": "17900000000000001" }, "message": { "text": TEXT } })
    );
}

fn meta_error(code: i64, subcode: Option<i64>, message: &str) -> Value {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123"
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "error": error })
}

async fn post_facebook_comment(answer: ResponseTemplate) -> Result<String, PostError> {
    let server = graph_answering("/v21.0/5678_111/comments", answer).await;
    platform(&server.uri())
        .post(&reply(Source::Facebook, PAGE, public("5678_111")))
        .await
}

#[tokio::test]
async fn a_rate_limit_waits_as_long_as_the_usage_header_estimates() {
    let usage = json!({
        "112233": [
            { "type": "pages", "call_count": 100, "total_cputime": 30, "total_time": 40, "estimated_time_to_regain_access": 7 },
            { "type": "messenger", "call_count": 80, "total_cputime": 10, "total_time": 10, "estimated_time_to_regain_access": 2 }
        ]
    });
    let answer = ResponseTemplate::new(400)
        .insert_header("X-Business-Use-Case-Usage", usage.to_string().as_str())
        .set_body_json(meta_error(
            4,
            None,
            "(#4) Application request limit reached",
        ));
    let before = Utc::now();

    match post_facebook_comment(answer).await {
        Err(PostError::RateLimited { retry_at, reason }) => {
            assert_around(retry_at, before + chrono::Duration::minutes(7));
            assert!(
                reason.contains("Application request limit reached"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_rate_limit_without_an_estimate_waits_five_minutes() {
    let answer = ResponseTemplate::new(400)
        .insert_header(
            "X-App-Usage",
            r#"{"call_count":100,"total_time":25,"total_cputime":25}"#,
        )
        .set_body_json(meta_error(
            613,
            None,
            "Calls to this api have exceeded the rate limit.",
        ));
    let before = Utc::now();

    match post_facebook_comment(answer).await {
        Err(PostError::RateLimited { retry_at, .. }) => {
            assert_around(retry_at, before + chrono::Duration::minutes(5))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn business_use_case_codes_and_http_429_are_rate_limits() {
    for (status, code) in [(400, 80006), (400, 32), (400, 17), (429, 100)] {
        let answer = ResponseTemplate::new(status).set_body_json(meta_error(code, None, "limit"));
        let posted = post_facebook_comment(answer).await;
        assert!(
            matches!(posted, Err(PostError::RateLimited { .. })),
            "{status} {code}: {posted:?}"
        );
    }
}

#[tokio::test]
async fn outside_the_messaging_window_is_refused_for_good_in_metas_words() {
    let message = "(#10) This message is sent outside of allowed window.";
    let answer = ResponseTemplate::new(400).set_body_json(meta_error(10, Some(2018278), message));
    let server = graph_answering("/v21.0/5678/messages", answer).await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Facebook, PAGE, direct("24000001")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Permanent(format!(
            "Meta refused the post (code 10, subcode 2018278): {message}"
        )))
    );
}

#[tokio::test]
async fn bad_tokens_missing_objects_and_unavailable_users_are_permanent() {
    for (code, message) in [
        (190, "Error validating access token: Session has expired"),
        (
            100,
            "Unsupported post request. Object with ID '5678_111' does not exist",
        ),
        (551, "This person isn't available right now."),
    ] {
        let answer = ResponseTemplate::new(400).set_body_json(meta_error(code, None, message));
        assert_eq!(
            post_facebook_comment(answer).await,
            Err(PostError::Permanent(format!(
                "Meta refused the post (code {code}): {message}"
            )))
        );
    }
}

#[tokio::test]
async fn a_server_error_is_worth_another_try() {
    let answer =
        ResponseTemplate::new(500).set_body_json(meta_error(1, None, "An unknown error occurred"));
    assert_eq!(
        post_facebook_comment(answer).await,
        Err(PostError::Transient(
            "Meta failed (code 1): An unknown error occurred".into()
        ))
    );
    let answer = ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>");
    assert_eq!(
        post_facebook_comment(answer).await,
        Err(PostError::Transient(
            "Meta failed (HTTP 502): <html>Bad Gateway</html>".into()
        ))
    );
}

#[tokio::test]
async fn codes_1_and_2_and_transient_flags_are_worth_another_try() {
    let mut flagged = meta_error(368, None, "Temporarily unavailable");
    flagged["error"]["is_transient"] = json!(true);
    for body in [
        meta_error(2, None, "Service temporarily unavailable"),
        meta_error(1, None, "Please reduce the amount of data"),
        flagged,
    ] {
        let answer = ResponseTemplate::new(400).set_body_json(body.clone());
        let posted = post_facebook_comment(answer).await;
        assert!(
            matches!(posted, Err(PostError::Transient(_))),
            "{body}: {posted:?}"
        );
    }
}

#[tokio::test]
async fn a_page_without_a_token_is_refused_without_a_call() {
    let server = MockServer::start().await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Facebook, "4321", public("4321_1")))
        .await;

    assert_eq!(
        posted,
        Err(PostError::Permanent(
            "facebook account 4321 is not connected: connect it in the console's settings".into()
        ))
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_accepted_post_without_an_id_may_have_been_posted() {
    let answer = ResponseTemplate::new(200).set_body_json(json!({ "success": true }));
    let posted = post_facebook_comment(answer).await;
    assert!(matches!(posted, Err(PostError::Unknown(_))), "{posted:?}");
}
