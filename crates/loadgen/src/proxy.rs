//! `count-proxy`: a reverse proxy in front of the AWS emulator that forwards every request as it
//! came (method, path, query, headers including the signature, body) and counts them by
//! operation, with the DynamoDB request units each is billed (see [`crate::counts`]; the items
//! written are copied in [`crate::shadow`] to price each write by the whole item and its index
//! entries). Point the runner's
//! `AWS_ENDPOINT_URL` at it; `GET /__counts` shows the counts, `POST /__counts/reset` zeroes them.
//!
//! It can also play an outage of the emulator (see [`crate::outage`]):
//! `POST /__outage?after_secs=20&secs=30` plans one, `GET /__outage` reports it.

use crate::capacity;
use crate::counts::{self, Billed, Counts};
use crate::outage::{self, Outage};
use crate::shadow::{self, Outcome, PendingWrite, Shadow};
use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// DynamoDB takes at most 16 MB in a request; SQS far less.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// SQS long polls wait up to 20 s; anything past this is a stuck emulator.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Mutex<Counts>,
    outage: Arc<Outage>,
    shadow: Shadow,
}

impl Proxy {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic elsewhere cannot leave the counts half-written: each update is one call.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An outage planned from the command line, counted from the proxy's start.
#[derive(Debug, Clone, Copy)]
pub struct PlannedOutage {
    pub after: Duration,
    pub lasting: Duration,
}

/// Serves until Ctrl-C (or SIGTERM).
pub async fn run(
    listen: SocketAddr,
    upstream: &str,
    planned: Option<PlannedOutage>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    println!("count-proxy listening on http://{address}, forwarding to {upstream}");
    println!("  counts: curl -s http://{address}/__counts");
    serve(listener, upstream, planned, shutdown()).await
}

/// Serves on `listener` until `stop` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    upstream: &str,
    planned: Option<PlannedOutage>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let outage = Arc::new(Outage::default());
    if let Some(planned) = planned {
        outage.plan(planned.after, planned.lasting);
    }
    let http = reqwest::Client::builder()
        .timeout(UPSTREAM_TIMEOUT)
        // The proxy forwards redirects to its client, as it forwards everything else.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")?;
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        shadow: Shadow::new(upstream, http.clone()),
        http,
        counts: Mutex::new(Counts::default()),
        outage: Arc::clone(&outage),
    });
    let app = Router::new()
        .route("/__counts", get(show_counts))
        .route("/__counts/reset", post(reset_counts))
        .route("/__outage", get(show_outage).post(plan_outage))
        .fallback(forward)
        .with_state(proxy);
    axum::serve(outage::Listener::new(listener, outage), app)
        .with_graceful_shutdown(stop)
        .await
        .context("serving")
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = terminate.recv() => {},
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn show_counts(State(proxy): State<Arc<Proxy>>) -> Response {
    let counts = proxy.counts().clone();
    axum::Json(counts).into_response()
}

async fn reset_counts(State(proxy): State<Arc<Proxy>>) -> Response {
    *proxy.counts() = Counts::default();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, serde::Deserialize)]
struct OutagePlan {
    after_secs: f64,
    secs: f64,
}

/// `POST /__outage?after_secs=A&secs=S`: the emulator is unreachable from A seconds from now,
/// for S seconds.
async fn plan_outage(State(proxy): State<Arc<Proxy>>, Query(plan): Query<OutagePlan>) -> Response {
    let seconds = |s: f64| Duration::try_from_secs_f64(s).ok();
    let (Some(after), Some(lasting)) = (seconds(plan.after_secs), seconds(plan.secs)) else {
        return (
            StatusCode::BAD_REQUEST,
            "after_secs and secs are seconds, 0 or more",
        )
            .into_response();
    };
    proxy.outage.plan(after, lasting);
    axum::Json(proxy.outage.report()).into_response()
}

async fn show_outage(State(proxy): State<Arc<Proxy>>) -> Response {
    axum::Json(proxy.outage.report()).into_response()
}

/// Headers that belong to one connection, not to the request (RFC 9110, 7.6.1); the length is
/// set again for the bytes forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unreadable request body: {e}"),
            )
                .into_response();
        }
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok());
    let parsed = target.and_then(|_| serde_json::from_slice::<serde_json::Value>(&body).ok());
    let classified = counts::classify(
        target,
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &body,
        parsed.as_ref(),
    );
    let dynamodb_operation = target
        .and_then(|target| target.split_once('.'))
        .filter(|(service, _)| service.starts_with("DynamoDB"))
        .map(|(_, operation)| operation.to_string());
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    // A write: the items it touches are read (and locked) before it goes, to be priced after.
    let mut pending: Option<PendingWrite> = None;
    let mut unpriced = false;
    if let (Some(operation), Some(request)) = (&dynamodb_operation, &parsed)
        && shadow::is_write(operation)
    {
        match proxy
            .shadow
            .before(operation, request, authorization.as_deref())
            .await
        {
            Ok(write) => pending = Some(write),
            Err(e) => {
                eprintln!("count-proxy: cannot price a {operation}: {e:#}");
                unpriced = true;
            }
        }
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let mut upstream = proxy
        .http
        .request(
            parts.method.clone(),
            format!("{}{path_and_query}", proxy.upstream),
        )
        .body(body);
    // The Host header goes along too: the signature covers it.
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            upstream = upstream.header(name, value);
        }
    }
    let sent = Instant::now();
    let unbilled = Billed {
        unpriced,
        ..Billed::default()
    };
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(e) => {
            proxy
                .counts()
                .record(&classified, &unbilled, true, sent.elapsed());
            return (
                StatusCode::BAD_GATEWAY,
                format!("upstream {} failed: {e}", proxy.upstream),
            )
                .into_response();
        }
    };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            proxy
                .counts()
                .record(&classified, &unbilled, true, sent.elapsed());
            return (
                StatusCode::BAD_GATEWAY,
                format!("reading the upstream answer failed: {e}"),
            )
                .into_response();
        }
    };
    let upstream_time = sent.elapsed();
    let failed = status.is_client_error() || status.is_server_error();
    let mut billed = unbilled;
    if let (Some(operation), Some(request)) = (&dynamodb_operation, &parsed) {
        let answered = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if let Some(write) = pending {
            let outcome = Outcome::of(status.as_u16(), &answered);
            match proxy
                .shadow
                .after(write, outcome, &answered, authorization.as_deref())
                .await
            {
                Ok(units) => billed.write = units,
                Err(e) => {
                    eprintln!("count-proxy: cannot price a {operation}: {e:#}");
                    billed.unpriced = true;
                }
            }
        } else if status.is_success() {
            billed.read_units = capacity::read_cost(operation, request, &answered);
        }
    }
    proxy
        .counts()
        .record(&classified, &billed, failed, upstream_time);
    headers.insert(header::CONTENT_LENGTH, bytes.len().into());
    (status, headers, Body::from(bytes)).into_response()
}
