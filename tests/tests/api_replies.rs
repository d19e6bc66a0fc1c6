//! `POST /v1/tickets/{id}/replies` over HTTP: where a reply goes, what is queued for the
//! sender, and that every refusal leaves the ticket and the outbox as they were.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use socialcare_app::api::{ApiState, routes};
use socialcare_app::error::json_errors;
use socialcare_app::outbox::Outbox;
use socialcare_domain::ingest::{IngestOutcome, ingest};
use socialcare_domain::ports::Queue;
use socialcare_domain::replies::OutboxJob;
use socialcare_domain::{Channel, InboundEvent, Source};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::events::{inbound, x_mention};
use socialcare_tests::http::call;
use std::sync::Arc;

const KEY: &str = "sk_api_replies_tests_key";
const BRAND_X: &str = "1100000000000000001";
const PAGE: &str = "1234567890321";
const CUSTOMER: &str = "3001969357";
const TWEET: &str = "1992400000000000001";

/// Now, in whole seconds (so that times compare exactly once stored and printed).
fn now() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::seconds(1)).unwrap()
}

/// A public mention of the X brand by `CUSTOMER` (Jordan Brinks), ten minutes ago.
fn mention() -> InboundEvent {
    let mut event = x_mention(
        TWEET,
        CUSTOMER,
        "@acme_care my order never came",
        now() - Duration::minutes(10),
    );
    event.message.author.name = Some("Jordan Brinks".into());
    event
}

/// A message from `customer` to the Facebook page: a comment (public) or a Messenger DM.
fn facebook(id: &str, customer: &str, channel: Channel, at: DateTime<Utc>) -> InboundEvent {
    let mut event = inbound(id, customer, "still waiting for a refund", at);
    event.message.source = Source::Facebook;
    event.message.account = PAGE.into();
    event.message.channel = channel;
    event.message.author.email = None;
    event
}

/// An integrator's message, with or without a callback URL.
fn integration(callback_url: Option<&str>) -> InboundEvent {
    let mut event = inbound(
        "crm-1",
        "c1",
        "printer on fire",
        now() - Duration::minutes(5),
    );
    event.message.callback_url = callback_url.map(str::to_string);
    event
}

/// The API over an in-memory store holding the given messages, with an outbox or without.
struct Api {
    app: axum::Router,
    outbox: SqliteQueue,
    /// The ticket of each event, in order.
    tickets: Vec<String>,
}

async fn api(events: &[InboundEvent]) -> Api {
    build(events, true).await
}

async fn build(events: &[InboundEvent], with_outbox: bool) -> Api {
    let db = Database::in_memory().unwrap();
    let store = SqliteStore::new(db.clone());
    let mut tickets = Vec::new();
    for event in events {
        let (IngestOutcome::Opened { ticket_id, .. }
        | IngestOutcome::Joined { ticket_id, .. }
        | IngestOutcome::Duplicate { ticket_id, .. }) = ingest(&store, event).await.unwrap();
        tickets.push(ticket_id.to_string());
    }
    let outbox = SqliteQueue::outbox(db);
    let mut state = ApiState::new(store, KEY);
    if with_outbox {
        state = state.with_outbox(Outbox::new(outbox.clone()));
    }
    Api {
        app: json_errors(routes(Arc::new(state))),
        outbox,
        tickets,
    }
}

impl Api {
    fn ticket(&self) -> &str {
        &self.tickets[0]
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        call(
            &self.app,
            request.body(Body::from(body.to_string())).unwrap(),
        )
        .await
    }

    /// A reply on the first ticket with the bootstrap (admin) key.
    async fn reply(&self, body: Value) -> (StatusCode, Value) {
        self.reply_on(self.ticket(), Some(KEY), None, &body.to_string())
            .await
    }

    async fn reply_on(
        &self,
        ticket: &str,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let headers: Vec<(&str, &str)> = idempotency_key
            .map(|k| ("idempotency-key", k))
            .into_iter()
            .collect();
        let path = format!("/v1/tickets/{ticket}/replies");
        self.send("POST", &path, key, &headers, body).await
    }

    /// `GET /v1/tickets/{id}`.
    async fn detail(&self, ticket: &str) -> Value {
        let (status, detail) = self
            .send("GET", &format!("/v1/tickets/{ticket}"), Some(KEY), &[], "")
            .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        detail
    }

    /// Creates a key with the bootstrap key; returns its secret.
    async fn new_key(&self, name: &str, role: &str) -> String {
        let body = json!({"name": name, "role": role}).to_string();
        let (status, answer) = self
            .send("POST", "/v1/api-keys", Some(KEY), &[], &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["key"].as_str().unwrap().to_string()
    }

    /// Every job on the outbox queue, visible or not.
    async fn depth(&self) -> u64 {
        self.outbox.depth().await.unwrap()
    }

    /// Receives what the outbox holds (and hides it for the visibility timeout).
    async fn jobs(&self) -> Vec<OutboxJob> {
        self.outbox
            .receive(10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .into_iter()
            .map(|delivery| serde_json::from_str(&delivery.body).unwrap())
            .collect()
    }

    /// Sends `body` and checks it is refused with `status`, `code` and a message containing
    /// `phrase`, and that neither the ticket nor the outbox changed.
    async fn refused(
        &self,
        ticket: &str,
        body: &str,
        status: StatusCode,
        code: &str,
        phrase: &str,
    ) {
        let before = self.detail(ticket).await;
        let queued = self.depth().await;
        let (got, answer) = self.reply_on(ticket, Some(KEY), None, body).await;
        assert_refusal(&answer, got, status, code, phrase);
        assert_eq!(
            self.detail(ticket).await,
            before,
            "{body}: the ticket changed"
        );
        assert_eq!(self.depth().await, queued, "{body}: something was queued");
    }
}

fn assert_refusal(answer: &Value, got: StatusCode, status: StatusCode, code: &str, phrase: &str) {
    assert_eq!(got, status, "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(phrase), "{message:?} lacks {phrase:?}");
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// The `delivery.target` of the reply in a 202 answer.
async fn target_of(api: &Api, body: Value) -> Value {
    let (status, answer) = api.reply(body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["message"]["delivery"]["target"].clone()
}

#[tokio::test]
async fn a_public_reply_on_x_is_pending_and_queued_once() {
    let api = api(&[mention()]).await;
    let before = now();
    let (status, answer) = api
        .reply(json!({"text": "  Sorry, Jordan! Checking now.  ", "channel": "public"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let reply = &answer["message"];
    let id = reply["id"].as_str().unwrap();
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(reply["ticket_id"], api.ticket());
    assert_eq!(reply["direction"], "outbound");
    assert_eq!(reply["channel"], "public");
    assert_eq!(reply["source"], "x");
    assert_eq!(reply["account"], BRAND_X);
    assert_eq!(reply["text"], "Sorry, Jordan! Checking now.");
    assert_eq!(reply["in_reply_to"], TWEET);
    assert_eq!(reply["delivery"]["state"], "pending");
    assert_eq!(reply["delivery"]["automatic"], false);
    assert_eq!(reply["delivery"]["attempts"], 0);
    assert_eq!(
        reply["delivery"]["target"],
        json!({"kind": "public", "to": TWEET})
    );
    let external_id = reply["external_id"].as_str().unwrap();
    assert!(external_id.starts_with("socialcare:api-"), "{external_id}");

    let jobs = api.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].message_id.to_string(), id);
    assert_eq!(jobs[0].ticket_id.to_string(), api.ticket());
    assert_eq!(jobs[0].message_key, format!("x:{BRAND_X}:{external_id}"));

    let detail = api.detail(api.ticket()).await;
    assert_eq!(detail["ticket"]["message_count"], 2);
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1], *reply);
    let first_response = time(&detail["ticket"]["first_response_at"]);
    assert!(first_response >= before && first_response <= Utc::now());
    assert_eq!(first_response, time(&reply["created_at"]));
}

#[tokio::test]
async fn auto_answers_a_first_public_mention_publicly_then_privately() {
    let api = api(&[mention()]).await;
    // `auto` is also the default channel
    let first = target_of(&api, json!({"text": "Sorry! Checking."})).await;
    assert_eq!(first, json!({"kind": "public", "to": TWEET}));
    let (status, second) = api
        .reply(json!({"text": "Sent you a DM", "channel": "auto"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    assert_eq!(second["message"]["channel"], "private");
    assert_eq!(
        second["message"]["delivery"]["target"],
        json!({"kind": "direct", "to": CUSTOMER, "window_ends": null})
    );
    assert_eq!(api.detail(api.ticket()).await["ticket"]["message_count"], 3);
    assert_eq!(api.jobs().await.len(), 2);
}

#[tokio::test]
async fn facebook_private_reply_answers_the_comment() {
    let comment = facebook(
        "111_222",
        "fb-user-1",
        Channel::Public,
        now() - Duration::hours(3),
    );
    let api = api(&[comment]).await;
    let target = target_of(
        &api,
        json!({"text": "We sent you a message", "channel": "private"}),
    )
    .await;
    assert_eq!(
        target,
        json!({"kind": "private_reply", "comment_id": "111_222"})
    );
    assert_eq!(api.jobs().await.len(), 1);
}

#[tokio::test]
async fn facebook_dm_within_24_hours_goes_direct_until_the_window_ends() {
    let written = now() - Duration::hours(2);
    let dm = facebook("m_abc", "fb-user-2", Channel::Private, written);
    let api = api(&[dm]).await;
    let (status, answer) = api
        .reply(json!({"text": "Refund issued", "channel": "private"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let target = &answer["message"]["delivery"]["target"];
    assert_eq!(target["kind"], "direct");
    assert_eq!(target["to"], "fb-user-2");
    assert_eq!(time(&target["window_ends"]), written + Duration::hours(24));
    // the customer wrote only privately: no public thread to answer in
    api.refused(
        api.ticket(),
        r#"{"text": "hi", "channel": "public"}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_route",
        "no public thread",
    )
    .await;
}

#[tokio::test]
async fn facebook_dm_older_than_24_hours_is_window_closed() {
    let written = now() - Duration::hours(30);
    let api = api(&[facebook("m_old", "fb-user-3", Channel::Private, written)]).await;
    let closed_at = (written + Duration::hours(24)).to_string();
    for channel in ["private", "auto"] {
        api.refused(
            api.ticket(),
            &json!({"text": "Sorry for the wait", "channel": channel}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "window_closed",
            &format!("closed at {closed_at}"),
        )
        .await;
    }
}

#[tokio::test]
async fn an_integration_reply_goes_to_the_callback_url() {
    let url = "https://crm.example.com/socialcare/replies";
    let api = api(&[integration(Some(url))]).await;
    let (status, answer) = api
        .reply(json!({"text": "A technician is on the way"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer["message"]["delivery"]["target"],
        json!({"kind": "callback", "url": url})
    );
    assert_eq!(answer["message"]["source"], "integration");
    assert_eq!(answer["message"]["channel"], "private");
    let jobs = api.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].message_id.to_string(),
        answer["message"]["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn an_integration_ticket_without_callback_url_has_no_route() {
    let api = api(&[integration(None)]).await;
    api.refused(
        api.ticket(),
        r#"{"text": "A technician is on the way"}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_route",
        "callback_url",
    )
    .await;
}

#[tokio::test]
async fn a_template_is_filled_with_the_customer_and_the_agent() {
    let api = api(&[mention()]).await;
    let template =
        json!({"id": "sorry", "text": "Hi {{customer.name}}, {{agent.name}} here. We are on it."});
    let (status, created) = api
        .send(
            "POST",
            "/v1/templates",
            Some(KEY),
            &[],
            &template.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let sally = api.new_key("sally", "agent").await;
    let (status, answer) = api
        .reply_on(api.ticket(), Some(&sally), None, r#"{"template": "sorry"}"#)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer["message"]["text"],
        "Hi Jordan Brinks, sally here. We are on it."
    );
    let (_, events) = api
        .send(
            "GET",
            &format!("/v1/tickets/{}/events", api.ticket()),
            Some(KEY),
            &[],
            "",
        )
        .await;
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "message_added", "{events}");
    assert_eq!(last["actor"], json!({"type": "agent", "id": "sally"}));
    assert_eq!(last["message_id"], answer["message"]["id"]);
    assert_eq!(last["direction"], "outbound");
    assert_eq!(api.jobs().await.len(), 1);
}

#[tokio::test]
async fn an_unknown_template_is_refused() {
    let api = api(&[mention()]).await;
    api.refused(
        api.ticket(),
        r#"{"template": "nope"}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_template",
        "no template nope",
    )
    .await;
}

#[tokio::test]
async fn text_and_template_together_or_neither_are_invalid() {
    let api = api(&[mention()]).await;
    for body in [
        r#"{"text": "hi", "template": "sorry"}"#,
        r#"{}"#,
        r#"{"channel": "public"}"#,
    ] {
        api.refused(
            api.ticket(),
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reply",
            "exactly one of text and template",
        )
        .await;
    }
}

#[tokio::test]
async fn x_takes_at_most_280_characters() {
    let api = api(&[mention()]).await;
    api.refused(
        api.ticket(),
        &json!({"text": "é".repeat(281)}).to_string(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_reply",
        "1 to 280 characters on x",
    )
    .await;
    // 280 characters (not bytes) is fine
    let (status, answer) = api.reply(json!({"text": "é".repeat(280)})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn other_sources_take_2000_characters() {
    let api = api(&[integration(Some("https://crm.example.com/r"))]).await;
    let (status, answer) = api.reply(json!({"text": "a".repeat(2000)})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    api.refused(
        api.ticket(),
        &json!({"text": "a".repeat(2001)}).to_string(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_reply",
        "1 to 2000 characters on integration",
    )
    .await;
}

#[tokio::test]
async fn empty_or_blank_text_is_refused() {
    let api = api(&[mention()]).await;
    for text in ["", "   ", "\n\t "] {
        api.refused(
            api.ticket(),
            &json!({"text": text}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reply",
            "must be 1 to 280 characters",
        )
        .await;
    }
}

#[tokio::test]
async fn the_same_idempotency_key_is_the_same_reply() {
    let api = api(&[mention()]).await;
    let ticket = api.ticket().to_string();
    let body = r#"{"text": "Sorry! Checking."}"#;
    let (first_status, first) = api
        .reply_on(&ticket, Some(KEY), Some("retry-1"), body)
        .await;
    let (second_status, second) = api
        .reply_on(&ticket, Some(KEY), Some("retry-1"), body)
        .await;
    assert_eq!(first_status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(second_status, StatusCode::ACCEPTED, "{second}");
    assert_eq!(first["message"], second["message"]);
    let id = first["message"]["id"].as_str().unwrap();
    assert_eq!(api.detail(&ticket).await["ticket"]["message_count"], 2);
    // the pending reply is queued again; the sender absorbs the duplicate
    let jobs = api.jobs().await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert!(jobs.iter().all(|job| job.message_id.to_string() == id));
    assert_eq!(jobs[0], jobs[1]);

    // another key is another reply (private now: the mention was answered publicly)
    let (status, third) = api
        .reply_on(&ticket, Some(KEY), Some("retry-2"), body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{third}");
    assert_ne!(third["message"]["id"], id);
    assert_eq!(third["message"]["channel"], "private");
    // so is the same key from another caller
    let sally = api.new_key("sally", "agent").await;
    let (status, fourth) = api
        .reply_on(&ticket, Some(&sally), Some("retry-1"), body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{fourth}");
    assert_ne!(fourth["message"]["id"], id);
    assert_ne!(fourth["message"]["id"], third["message"]["id"]);
    assert_eq!(api.detail(&ticket).await["ticket"]["message_count"], 4);
}

#[tokio::test]
async fn an_idempotency_key_used_on_another_ticket_does_not_return_that_ticket_s_reply() {
    // Two customers' mentions of the same brand account: two tickets.
    let mut other = x_mention(
        "1992400000000000002",
        "4001",
        "@acme_care also broken",
        now() - Duration::minutes(8),
    );
    other.message.author.name = Some("Other Customer".into());
    let api = api(&[mention(), other]).await;
    let (a, b) = (api.tickets[0].clone(), api.tickets[1].clone());
    assert_ne!(a, b);
    let (status, on_a) = api
        .reply_on(&a, Some(KEY), Some("same-key"), r#"{"text": "For A"}"#)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{on_a}");
    let (status, on_b) = api
        .reply_on(&b, Some(KEY), Some("same-key"), r#"{"text": "For B"}"#)
        .await;
    // Either refused, or a reply on B; never A's reply answered as B's.
    if status == StatusCode::ACCEPTED {
        assert_eq!(on_b["message"]["ticket_id"], b, "{on_b}");
        assert_eq!(on_b["message"]["text"], "For B");
        assert_eq!(api.detail(&b).await["ticket"]["message_count"], 2);
    } else {
        assert!(status.is_client_error(), "{status} {on_b}");
        assert_eq!(api.detail(&b).await["ticket"]["message_count"], 1);
    }
}

#[tokio::test]
async fn a_bad_idempotency_key_is_400() {
    let api = api(&[mention()]).await;
    let long = "k".repeat(201);
    for key in ["", long.as_str()] {
        let before = api.detail(api.ticket()).await;
        let (status, answer) = api
            .reply_on(api.ticket(), Some(KEY), Some(key), r#"{"text": "hi"}"#)
            .await;
        assert_refusal(
            &answer,
            status,
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "1 to 200",
        );
        assert_eq!(api.detail(api.ticket()).await, before);
    }
    assert_eq!(api.depth().await, 0);
}

#[tokio::test]
async fn an_integrator_may_not_reply() {
    let api = api(&[mention()]).await;
    let integrator = api.new_key("crm-bridge", "integrator").await;
    let before = api.detail(api.ticket()).await;
    let (status, answer) = api
        .reply_on(api.ticket(), Some(&integrator), None, r#"{"text": "hi"}"#)
        .await;
    assert_refusal(
        &answer,
        status,
        StatusCode::FORBIDDEN,
        "forbidden",
        "needs the agent role",
    );
    assert_eq!(api.detail(api.ticket()).await, before);
    assert_eq!(api.depth().await, 0);
}

#[tokio::test]
async fn an_unknown_or_malformed_ticket_is_404() {
    let api = api(&[mention()]).await;
    for id in [
        "tkt_01KAQ5Z0000000000000000000",
        "nope",
        "msg_01KAQ5Z0000000000000000000",
    ] {
        let (status, answer) = api.reply_on(id, Some(KEY), None, r#"{"text": "hi"}"#).await;
        assert_refusal(
            &answer,
            status,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no ticket {id}"),
        );
    }
    assert_eq!(api.detail(api.ticket()).await["ticket"]["message_count"], 1);
    assert_eq!(api.depth().await, 0);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let api = api(&[mention()]).await;
    for body in [r#"{"text": "#, "", "text=hi"] {
        api.refused(
            api.ticket(),
            body,
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "not valid JSON",
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_fields_and_channels_are_422() {
    let api = api(&[mention()]).await;
    for (body, phrase) in [
        (r#"{"text": "hi", "to": "someone"}"#, "unknown field `to`"),
        (
            r#"{"text": "hi", "channel": "email"}"#,
            "channel: unknown variant `email`",
        ),
        (r#"{"text": 5}"#, "text: invalid type"),
    ] {
        api.refused(
            api.ticket(),
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            phrase,
        )
        .await;
    }
}

#[tokio::test]
async fn a_reply_wants_a_valid_key() {
    let api = api(&[mention()]).await;
    for key in [None, Some("wrong")] {
        let (status, answer) = api
            .reply_on(api.ticket(), key, None, r#"{"text": "hi"}"#)
            .await;
        assert_refusal(
            &answer,
            status,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Bearer",
        );
    }
    assert_eq!(api.detail(api.ticket()).await["ticket"]["message_count"], 1);
    assert_eq!(api.depth().await, 0);
}

#[tokio::test]
async fn without_an_outbox_replies_are_503_and_nothing_is_stored() {
    let api = build(&[mention()], false).await;
    api.refused(
        api.ticket(),
        r#"{"text": "Sorry! Checking."}"#,
        StatusCode::SERVICE_UNAVAILABLE,
        "replies_unavailable",
        "no outbox",
    )
    .await;
    let detail = api.detail(api.ticket()).await;
    assert_eq!(detail["ticket"]["message_count"], 1);
    assert_eq!(detail["ticket"]["first_response_at"], Value::Null);
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1);
}
