//! Replies to integrators: a signed, idempotent POST to their callback URL.

mod common;

use chrono::Utc;
use common::*;
use serde_json::json;
use socialcare_domain::message::{Message, Source};
use socialcare_domain::replies::{Platform, PostError, Target};
use socialcare_platforms::OutboundGuard;
use socialcare_webhooks::integration::signature;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROUTE: &str = "/hooks/socialcare/replies";

async fn integrator_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ROUTE))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn callback_reply(server: &MockServer) -> Message {
    let target = Target::Callback {
        url: format!("{}{ROUTE}", server.uri()),
    };
    reply(Source::Integration, "acme-helpdesk", target)
}

#[tokio::test]
async fn the_reply_is_posted_signed_with_its_id_as_the_idempotency_key() {
    let answer = ResponseTemplate::new(201).set_body_json(json!({ "id": "their-reply-77" }));
    let server = integrator_answering(answer).await;
    let sent = callback_reply(&server);

    let posted = platform(&server.uri()).post(&sent).await;

    assert_eq!(posted, Ok("their-reply-77".to_string()));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.query(), None);
    let header = |name: &str| request.headers.get(name).map(|v| v.to_str().unwrap());
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("idempotency-key"), Some(sent.id.as_str()));
    assert_eq!(
        signature::verify(
            INTEGRATION_SECRET,
            header("x-socialcare-signature").map(str::as_bytes),
            &request.body,
            Utc::now()
        ),
        Ok(())
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "reply",
            "ticket_id": sent.ticket_id.as_str(),
            "message_id": sent.id.as_str(),
            "account": "acme-helpdesk",
            "channel": "private",
            "in_reply_to": "customer-message-1",
            "recipient_id": "customer-9",
            "text": TEXT,
            "created_at": "2026-11-22T10:00:00Z"
        })
    );
}

#[tokio::test]
async fn without_an_id_in_the_answer_the_reply_is_known_by_its_own_id() {
    let server = integrator_answering(ResponseTemplate::new(202)).await;
    let sent = callback_reply(&server);

    let posted = platform(&server.uri()).post(&sent).await;

    assert_eq!(posted, Ok(sent.id.as_str().to_string()));
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let answer = ResponseTemplate::new(429).insert_header("Retry-After", "120");
    let server = integrator_answering(answer).await;
    let before = Utc::now();

    match platform(&server.uri()).post(&callback_reply(&server)).await {
        Err(PostError::RateLimited { retry_at, .. }) => {
            assert_around(retry_at, before + chrono::Duration::seconds(120))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_429_without_retry_after_waits_a_minute() {
    let server = integrator_answering(ResponseTemplate::new(429)).await;
    let before = Utc::now();

    match platform(&server.uri()).post(&callback_reply(&server)).await {
        Err(PostError::RateLimited { retry_at, .. }) => {
            assert_around(retry_at, before + chrono::Duration::seconds(60))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn server_errors_and_request_timeouts_are_worth_another_try() {
    for status in [500, 503, 408] {
        let server =
            integrator_answering(ResponseTemplate::new(status).set_body_string("busy")).await;
        assert_eq!(
            platform(&server.uri()).post(&callback_reply(&server)).await,
            Err(PostError::Transient(format!(
                "the integrator failed ({status}): busy"
            )))
        );
    }
}

#[tokio::test]
async fn other_refusals_are_permanent_with_the_start_of_their_answer() {
    let long = format!(
        "{{\"error\":\"unknown ticket\",\"detail\":\"{}\"}}",
        "x".repeat(400)
    );
    let server =
        integrator_answering(ResponseTemplate::new(422).set_body_string(long.clone())).await;

    let posted = platform(&server.uri()).post(&callback_reply(&server)).await;

    let expected: String = long.chars().take(200).collect();
    assert_eq!(
        posted,
        Err(PostError::Permanent(format!(
            "the integrator refused the reply (422): {expected}"
        )))
    );
}

#[tokio::test]
async fn an_integration_reply_goes_nowhere_but_its_callback() {
    let server = MockServer::start().await;

    let posted = platform(&server.uri())
        .post(&reply(Source::Integration, "acme-helpdesk", public("1")))
        .await;

    assert!(matches!(posted, Err(PostError::Permanent(_))), "{posted:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_callback_url_that_is_not_a_url_is_refused_for_good() {
    let target = Target::Callback {
        url: "not a url".into(),
    };

    let posted = platform("http://localhost")
        .post(&reply(Source::Integration, "acme-helpdesk", target))
        .await;

    assert!(matches!(posted, Err(PostError::Permanent(_))), "{posted:?}");
}

/// Issue 14: an integrator's callback URL on loopback (on Lambda, the runtime API on
/// 127.0.0.1:9001) is never called, and the reply fails for good with the reason.
#[tokio::test]
async fn a_callback_to_this_machine_is_refused_without_a_call() {
    let server = MockServer::start().await;
    let strict = platform_guarded(
        &server.uri(),
        OutboundGuard::strict(),
        std::time::Duration::from_secs(5),
    );
    let port = server.address().port();
    for (url, reason) in [
        (format!("{}{ROUTE}", server.uri()), "must use https"),
        (
            format!("https://127.0.0.1:{port}{ROUTE}"),
            "private, loopback or otherwise non-public address (127.0.0.1)",
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}{ROUTE}"),
            "non-public address (::ffff:127.0.0.1)",
        ),
        (format!("https://localhost:{port}{ROUTE}"), "(localhost)"),
    ] {
        let target = Target::Callback { url: url.clone() };
        match strict
            .post(&reply(Source::Integration, "acme-helpdesk", target))
            .await
        {
            Err(PostError::Permanent(why)) => assert!(why.contains(reason), "{url}: {why}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Issue 14: an answer without end is read up to 64 KiB, not into memory whole.
#[tokio::test]
async fn an_endless_callback_answer_is_read_up_to_its_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 64 * 1024];
        let _ = socket.read(&mut request).await.unwrap();
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
        let mut written = 0usize;
        // Until the client stops reading (or a gigabyte, which it must never take).
        while written < 1 << 30 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            written += 0x4000;
        }
        written
    });
    let sent = reply(
        Source::Integration,
        "acme-helpdesk",
        Target::Callback {
            url: format!("http://{address}{ROUTE}"),
        },
    );

    let posted = platform_with_timeout("http://127.0.0.1:9", std::time::Duration::from_secs(20))
        .post(&sent)
        .await;

    // 2xx: posted; the body (blank so far) names no id of theirs, so ours is kept.
    assert_eq!(posted, Ok(sent.id.as_str().to_string()));
    let written = server.await.unwrap();
    assert!(
        written < 16 << 20,
        "the client read on: {written} bytes were taken"
    );
}

/// Issue 14: a registered integration's callbacks are signed with its own outbound secrets
/// (both, during a rotation), never with the secret that signs what integrators send us.
#[tokio::test]
async fn callbacks_are_signed_with_the_integrations_outbound_secrets() {
    let server = integrator_answering(ResponseTemplate::new(200)).await;
    let sent = callback_reply(&server);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lookup: socialcare_platforms::SigningSecrets = {
        let asked = asked.clone();
        std::sync::Arc::new(move |source: String| {
            asked.lock().unwrap().push(source);
            Box::pin(async { vec![b"whout_new".to_vec(), b"whout_old".to_vec()] })
        })
    };

    let posted = platform(&server.uri())
        .with_integration_secrets(lookup)
        .post(&sent)
        .await;

    assert_eq!(posted, Ok(sent.id.as_str().to_string()));
    assert_eq!(*asked.lock().unwrap(), vec!["acme-helpdesk".to_string()]);
    let requests = server.received_requests().await.unwrap();
    let header = requests[0]
        .headers
        .get("x-socialcare-signature")
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_eq!(String::from_utf8_lossy(&header).matches(",v1=").count(), 2);
    for secret in [b"whout_new".as_slice(), b"whout_old"] {
        assert_eq!(
            signature::verify(secret, Some(&header), &requests[0].body, Utc::now()),
            Ok(()),
            "{}",
            String::from_utf8_lossy(secret)
        );
    }
    assert_eq!(
        signature::verify(
            INTEGRATION_SECRET,
            Some(&header),
            &requests[0].body,
            Utc::now()
        ),
        Err(socialcare_webhooks::signature::SignatureError::Mismatch)
    );
}
