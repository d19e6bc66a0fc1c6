//! Escalation notices: a JSON POST to the team's target, shaped so that a Slack-style incoming
//! webhook shows its `text`, and signed like the integrators' callbacks so that an integrator
//! can check it came from us. The notice id is the idempotency key: a notice sent again (after
//! an answer was lost) is recognised as the same one.

use crate::{
    Answer, ConfigError, OutboundGuard, SigningSecrets, describe, retry_after, send_within,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::escalation::{Notice, Notifier};
use socialcare_domain::incidents::IncidentNotice;
use socialcare_domain::integrations::DEFAULT_INTEGRATION;
use socialcare_domain::replies::PostError;
use socialcare_domain::subscriptions::Posted;
use socialcare_webhooks::integration::signature;
use std::time::Duration;

/// How the target is named in errors. Never the URL: a Slack webhook URL is itself the secret.
const TARGET: &str = "the escalation target";

/// Posts escalation notices over HTTPS.
///
/// With a secret, every notice carries `X-Socialcare-Signature` over the exact bytes sent.
/// With an empty secret notices are still sent, unsigned: Slack-style webhooks do not check
/// signatures, and their URLs are themselves secret.
#[derive(Clone)]
pub struct HttpNotifier {
    client: reqwest::Client,
    guard: OutboundGuard,
    secret: Vec<u8>,
    /// Once the default integration is rotated, its outbound secrets sign instead.
    secrets: Option<SigningSecrets>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = match self.secret.is_empty() {
            true => "<none>",
            false => "<redacted>",
        };
        f.debug_struct("HttpNotifier")
            .field("secret", &secret)
            .field("guard", &self.guard)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpNotifier {
    /// `secret` signs the notices (empty: unsigned); targets pass `guard`; `timeout` bounds
    /// each call.
    pub fn new(
        secret: Vec<u8>,
        guard: OutboundGuard,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let client = guard
            .client(timeout)
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        Ok(Self {
            client,
            guard,
            secret,
            secrets: None,
            timeout,
        })
    }

    /// The same, signing with the default integration's secrets as `lookup` gives them.
    pub fn with_signing_secrets(self, lookup: SigningSecrets) -> Self {
        Self {
            secrets: Some(lookup),
            ..self
        }
    }
}

impl Notifier for HttpNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), PostError> {
        let result = self.post(&notice.id, &notice.url, escalation(notice)).await;
        if let Err(error) = &result {
            // The URL is not logged either.
            tracing::warn!(notice_id = %notice.id, reason = notice.reason.as_str(), %error,
                "the escalation notice was not delivered");
        }
        result
    }

    async fn deliver(&self, url: &str, secrets: &[&str], event: &DomainEvent) -> Posted {
        let posted = self.post_event(url, secrets, event).await;
        if let Posted::Refused { reason, .. } = &posted {
            // Nor here is the URL logged.
            tracing::warn!(event_id = %event.id, %reason, "an event was not delivered");
        }
        posted
    }

    async fn announce(&self, notice: &IncidentNotice) -> Result<(), PostError> {
        let result = self.post(&notice.id, &notice.url, incident(notice)).await;
        if let Err(error) = &result {
            tracing::warn!(notice_id = %notice.id, %error, "the incident notice was not delivered");
        }
        result
    }
}

impl HttpNotifier {
    /// POSTs `event` to a subscription's URL, signed with each of its secrets.
    async fn post_event(&self, url: &str, secrets: &[&str], event: &DomainEvent) -> Posted {
        let refused = |status: Option<u16>, reason: String, retry_at| Posted::Refused {
            status,
            reason,
            retry_at,
        };
        let url = match self.guard.check(url) {
            Ok(url) => url,
            Err(e) => return refused(None, format!("the subscription's URL {e}"), None),
        };
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => return refused(None, format!("could not write the event: {e}"), None),
        };
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", event.id.as_str())
            .header(
                "X-Socialcare-Signature",
                signature::sign_with_each(
                    &secrets.iter().map(|s| s.as_bytes()).collect::<Vec<_>>(),
                    Utc::now(),
                    &body,
                ),
            )
            .body(body);
        let answer = match send_within(self.timeout, "the subscriber", request).await {
            Ok(answer) => answer,
            Err(e) => return refused(None, e.to_string(), None),
        };
        let status = answer.status.as_u16();
        match answer.status.is_success() {
            true => Posted::Accepted { status },
            false => refused(
                Some(status),
                format!("the subscriber answered {status}: {}", answer.excerpt()),
                (status == 429 || status == 503)
                    .then(|| retry_after(&answer, Utc::now()))
                    .filter(|_| answer.headers.contains_key(reqwest::header::RETRY_AFTER)),
            ),
        }
    }

    /// POSTs `body` to `url`, signed, with `id` as its idempotency key.
    async fn post(&self, id: &str, url: &str, body: serde_json::Value) -> Result<(), PostError> {
        let url = self
            .guard
            .check(url)
            .map_err(|refused| PostError::Permanent(format!("{TARGET}'s URL {refused}")))?;
        // The signature covers these exact bytes.
        let body = serde_json::to_vec(&body)
            .map_err(|e| PostError::Permanent(format!("could not write the notice: {e}")))?;
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", id);
        let secrets = match &self.secrets {
            Some(lookup) => lookup(DEFAULT_INTEGRATION.to_string()).await,
            None => vec![self.secret.clone()],
        };
        let secrets: Vec<&[u8]> = secrets
            .iter()
            .map(Vec::as_slice)
            .filter(|secret| !secret.is_empty())
            .collect();
        if !secrets.is_empty() {
            request = request.header(
                "X-Socialcare-Signature",
                signature::sign_with_each(&secrets, Utc::now(), &body),
            );
        }
        let answer = send_within(self.timeout, TARGET, request.body(body)).await?;
        outcome(&answer, Utc::now())
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The JSON of an escalation notice.
fn escalation(notice: &Notice) -> serde_json::Value {
    json!({
        // What a Slack-style webhook shows; the rest is for integrators.
        "text": notice.text,
        "type": "escalation",
        "id": notice.id,
        "reason": notice.reason.as_str(),
        "measure": notice.measure,
        "ticket_id": notice.ticket_id.as_str(),
        "account": notice.account,
        "priority": notice.priority,
        "owner": notice.owner,
        "team": notice.team,
        "subject": notice.subject,
        "due_at": time(notice.due_at),
        "at": time(notice.at),
    })
}

/// The JSON of an incident notice.
fn incident(notice: &IncidentNotice) -> serde_json::Value {
    json!({
        "text": notice.text,
        "type": "incident",
        "id": notice.id,
        "incident_id": notice.incident_id.as_str(),
        "account": notice.account,
        "topic": notice.topic,
        "count": notice.spike.count,
        "baseline": notice.spike.baseline,
        "window_start": time(notice.spike.window_start),
        "window_minutes": notice.spike.window_minutes,
        "example": notice.example,
        "at": time(notice.opened_at),
    })
}

fn outcome(answer: &Answer, now: DateTime<Utc>) -> Result<(), PostError> {
    let status = answer.status;
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    let excerpt = answer.excerpt();
    match code {
        429 => Err(PostError::RateLimited {
            retry_at: retry_after(answer, now),
            reason: format!("{TARGET} is rate limiting (429): {excerpt}"),
        }),
        408 | 500..=599 => Err(PostError::Transient(format!(
            "{TARGET} failed ({code}): {excerpt}"
        ))),
        _ => Err(PostError::Permanent(format!(
            "{TARGET} refused the notice ({code}): {excerpt}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use socialcare_domain::escalation::NoticeReason;
    use socialcare_domain::ids::TicketId;
    use socialcare_domain::sla::Measure;
    use socialcare_domain::ticket::Priority;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &[u8] = b"whsec_notify_test";
    const ROUTE: &str = "/services/T000/B000/secret-part";

    fn notice(url: String) -> Notice {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        Notice {
            id: "ntc_01".into(),
            url,
            ticket_id: TicketId::derive(at, "k"),
            account: "acme".into(),
            reason: NoticeReason::SlaBreach,
            measure: Measure::FirstResponse,
            due_at: at - chrono::Duration::minutes(5),
            priority: Priority::High,
            owner: Some("agent-7".into()),
            team: None,
            subject: "Order never arrived".into(),
            target: "support".into(),
            text: "Ticket breached its first response target".into(),
            at,
        }
    }

    /// A notifier for the fake target on loopback.
    fn notifier(secret: &[u8]) -> HttpNotifier {
        let guard = OutboundGuard::allowing_private_targets();
        HttpNotifier::new(secret.to_vec(), guard, Duration::from_secs(5)).unwrap()
    }

    async fn target_answering(answer: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ROUTE))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        server
    }

    fn url(server: &MockServer) -> String {
        format!("{}{ROUTE}", server.uri())
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let shown = format!("{:?}", notifier(SECRET));
        assert!(!shown.contains("whsec"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn the_notice_is_posted_signed_with_its_id_as_the_idempotency_key() {
        let server = target_answering(ResponseTemplate::new(200)).await;
        let sent = notice(url(&server));

        assert_eq!(notifier(SECRET).notify(&sent).await, Ok(()));

        let requests = server.received_requests().await.unwrap();
        let request = &requests[0];
        assert_eq!(request.method.as_str(), "POST");
        assert_eq!(request.url.path(), ROUTE);
        let header = |name: &str| request.headers.get(name).map(|v| v.to_str().unwrap());
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(header("idempotency-key"), Some("ntc_01"));
        assert_eq!(
            signature::verify(
                SECRET,
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
                "text": "Ticket breached its first response target",
                "type": "escalation",
                "id": "ntc_01",
                "reason": "sla_breach",
                "measure": "first_response",
                "ticket_id": sent.ticket_id.as_str(),
                "account": "acme",
                "priority": "high",
                "owner": "agent-7",
                "team": null,
                "subject": "Order never arrived",
                "due_at": "2026-11-22T09:55:00Z",
                "at": "2026-11-22T10:00:00Z"
            })
        );
    }

    #[tokio::test]
    async fn an_incident_notice_is_posted_signed_with_its_own_shape() {
        let server = target_answering(ResponseTemplate::new(204)).await;
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 12, 4, 0).unwrap();
        let spike = socialcare_domain::incidents::Spike {
            window_start: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
            window_minutes: 10,
            count: 23,
            baseline: 0.5,
        };
        let incident = socialcare_domain::incidents::Incident::open(
            socialcare_domain::Source::X,
            "acme",
            "fibr",
            "@acme_care fibre down again",
            at,
            spike,
        );
        let sent = IncidentNotice::opened(&incident, &url(&server));

        assert_eq!(notifier(SECRET).announce(&sent).await, Ok(()));

        let requests = server.received_requests().await.unwrap();
        let request = &requests[0];
        let header = |name: &str| request.headers.get(name).map(|v| v.to_str().unwrap());
        let id = format!("{}:opened", incident.id);
        assert_eq!(header("idempotency-key"), Some(id.as_str()));
        assert_eq!(
            signature::verify(
                SECRET,
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
                "text": format!("Incident {}: 23 new complaints about \"fibr\" in 10 minutes on account acme (usually 0.5). For example: \"@acme_care fibre down again\"", incident.id),
                "type": "incident",
                "id": id,
                "incident_id": incident.id.as_str(),
                "account": "acme",
                "topic": "fibr",
                "count": 23,
                "baseline": 0.5,
                "window_start": "2026-11-20T12:00:00Z",
                "window_minutes": 10,
                "example": "@acme_care fibre down again",
                "at": "2026-11-20T12:04:00Z"
            })
        );
    }

    #[tokio::test]
    async fn without_a_secret_the_notice_is_sent_unsigned() {
        let server = target_answering(ResponseTemplate::new(200)).await;

        assert_eq!(notifier(b"").notify(&notice(url(&server))).await, Ok(()));

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].headers.get("x-socialcare-signature").is_none());
    }

    #[tokio::test]
    async fn a_429_waits_as_long_as_retry_after_says() {
        let answer = ResponseTemplate::new(429).insert_header("Retry-After", "30");
        let server = target_answering(answer).await;
        let before = Utc::now();

        match notifier(SECRET).notify(&notice(url(&server))).await {
            Err(PostError::RateLimited { retry_at, .. }) => {
                let drift = (retry_at - (before + chrono::Duration::seconds(30))).num_seconds();
                assert!((0..=5).contains(&drift), "{retry_at}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_server_error_is_worth_another_try() {
        let server = target_answering(ResponseTemplate::new(500).set_body_string("busy")).await;

        assert_eq!(
            notifier(SECRET).notify(&notice(url(&server))).await,
            Err(PostError::Transient(
                "the escalation target failed (500): busy".into()
            ))
        );
    }

    #[tokio::test]
    async fn a_refusal_is_permanent_and_does_not_show_the_url() {
        let answer = ResponseTemplate::new(404).set_body_string("no_service");
        let server = target_answering(answer).await;

        match notifier(SECRET).notify(&notice(url(&server))).await {
            Err(PostError::Permanent(reason)) => {
                assert_eq!(
                    reason,
                    "the escalation target refused the notice (404): no_service"
                );
                assert!(!reason.contains("secret-part"), "{reason}");
                assert!(!reason.contains(&server.uri()), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Issue 14: an escalation URL on this machine or its network is never called.
    #[tokio::test]
    async fn a_private_or_plain_http_target_is_refused_without_a_call() {
        let server = MockServer::start().await;
        let on_loopback = format!("https://{}{ROUTE}", server.address());
        let strict = HttpNotifier::new(
            SECRET.to_vec(),
            OutboundGuard::strict(),
            Duration::from_secs(5),
        )
        .unwrap();
        // A request to any of these would fail as Transient (unreachable or no such name), so
        // Permanent shows it was refused before anything was sent.
        for url in [
            on_loopback.as_str(),
            "http://hooks.example.invalid/services/x",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://localhost/hook",
            "https://127.0.0.1@hooks.example.invalid/hook",
            "ftp://hooks.example.invalid/hook",
            "not a url",
        ] {
            match strict.notify(&notice(url.into())).await {
                Err(PostError::Permanent(reason)) => {
                    assert!(!reason.contains(url), "{reason}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_refused_connection_is_worth_another_try() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}{ROUTE}");

        match notifier(SECRET).notify(&notice(url)).await {
            Err(PostError::Transient(reason)) => {
                assert!(reason.contains("could not reach"), "{reason}");
                assert!(!reason.contains("secret-part"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn no_answer_within_the_timeout_is_unknown() {
        let late = ResponseTemplate::new(200).set_delay(Duration::from_secs(5));
        let server = target_answering(late).await;
        let guard = OutboundGuard::allowing_private_targets();
        let notifier =
            HttpNotifier::new(SECRET.to_vec(), guard, Duration::from_millis(300)).unwrap();

        match notifier.notify(&notice(url(&server))).await {
            Err(PostError::Unknown(reason)) => {
                assert!(reason.contains("did not answer"), "{reason}");
                assert!(!reason.contains("secret-part"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
