//! A webhook subscriber on a loopback port: it records every POST (headers and body) and
//! answers from a script of statuses, then 200.

use crate::fake_server::Server;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One POST as the subscriber received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub idempotency_key: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    answers: VecDeque<u16>,
    received: Vec<Received>,
}

pub struct FakeSubscriber {
    server: Server,
    script: Arc<Mutex<Script>>,
}

impl FakeSubscriber {
    /// Answers `answers` in turn to the POSTs at `/hooks`, then 200 to every other.
    pub fn start(answers: &[u16]) -> Self {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            received: Vec::new(),
        }));
        let shared = script.clone();
        let router = axum::Router::new().route(
            "/hooks",
            post(move |headers: HeaderMap, body: Bytes| {
                let script = shared.clone();
                async move {
                    let text = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let mut script = script.lock().unwrap();
                    script.received.push(Received {
                        idempotency_key: text("idempotency-key"),
                        signature: text("x-socialcare-signature"),
                        body: body.to_vec(),
                    });
                    let status = script.answers.pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
                }
            }),
        );
        Self {
            server: Server::start(router),
            script,
        }
    }

    /// Where the subscription points.
    pub fn url(&self) -> String {
        format!("{}/hooks", self.server.url())
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }
}
