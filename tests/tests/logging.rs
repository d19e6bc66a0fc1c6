//! Log lines carry the ids of what they are about (issue 15): a span per queue message and per
//! request, whose fields every line inside it inherits, in the JSON the functions write.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use serde_json::Value;
use socialcare_app::error::json_errors;
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_app::logging::{json_lines, traced};
use socialcare_app::webhook::{WebhookState, routes};
use socialcare_domain::QueuedEvent;
use socialcare_domain::ports::SystemClock;
use socialcare_domain::threading::Rules;
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::events::{generic_body, inbound, signature};
use socialcare_tests::http::call;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where the lines go: a buffer the test reads.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// The line whose message is `message`.
    fn line(&self, message: &str) -> Value {
        let lines = self.parsed();
        lines
            .iter()
            .find(|line| line["message"] == message)
            .cloned()
            .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_ingested_message_logs_under_its_queue_message_id() {
    let lines = Lines::default();
    let writer = lines.clone();
    let _guard = tracing::subscriber::set_default(json_lines(move || writer.clone()));
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let event = inbound(
        "m-1",
        "ann",
        "My router is down",
        Utc::now() - Duration::minutes(1),
    );
    let record = QueueRecord {
        message_id: "q-span-1".into(),
        group_id: Some("ann".into()),
        body: serde_json::to_string(&QueuedEvent::Message(event)).unwrap(),
    };

    let failed = ingest_batch(&store, &Rules::default(), None, None, vec![record]).await;

    assert_eq!(failed, Vec::<String>::new());
    let line = lines.line("ingested");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["name"], "ingest");
    assert_eq!(line["span"]["queue_message_id"], "q-span-1");
    assert_eq!(line["outcome"], "opened");
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_logs_under_its_request_id_without_its_query() {
    let lines = Lines::default();
    let writer = lines.clone();
    let _guard = tracing::subscriber::set_default(json_lines(move || writer.clone()));
    let queue = SqliteQueue::inbound(Database::in_memory().unwrap());
    let app = traced(json_errors(routes(Arc::new(WebhookState::new(
        queue,
        b"whsec_logging",
        Arc::new(SystemClock),
    )))));
    let now = Utc::now();
    let body = serde_json::to_vec(&generic_body("e-1", "c-1", "Where is my refund?", now)).unwrap();
    let request = Request::post("/webhooks/generic?token=secret-in-query")
        .header("x-request-id", "req-7")
        .header(
            "x-socialcare-signature",
            signature("whsec_logging", now, &body),
        )
        .body(Body::from(body))
        .unwrap();

    let (status, answer) = call(&app, request).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let line = lines.line("queued");
    assert_eq!(line["span"]["name"], "request");
    assert_eq!(line["span"]["request_id"], "req-7");
    assert_eq!(line["span"]["method"], "POST");
    assert_eq!(line["span"]["path"], "/webhooks/generic");
    let all = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(!all.contains("secret-in-query"), "{all}");
}
