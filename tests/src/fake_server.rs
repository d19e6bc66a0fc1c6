//! What the platform fakes share: a server on a loopback port that runs on a thread (and a
//! runtime) of its own, so that it answers whatever the test's runtime is doing, and the
//! record of a request a fake refused.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// A refused request: what was asked, the status answered, and why (in the fake's words, for
/// the test's assertion messages; the platform's own words are in the answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub reason: String,
}

/// A request being refused: the answer, and the reason to record.
pub(crate) struct Refused {
    response: Box<Response>,
    status: StatusCode,
    reason: String,
}

impl Refused {
    /// A JSON error body.
    pub(crate) fn json(
        status: StatusCode,
        body: serde_json::Value,
        reason: impl Into<String>,
    ) -> Self {
        Self::answer(status, (status, axum::Json(body)).into_response(), reason)
    }

    /// A page (the platforms answer some refusals with HTML).
    pub(crate) fn html(status: StatusCode, text: &'static str, reason: impl Into<String>) -> Self {
        let page = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            text,
        );
        Self::answer(status, page.into_response(), reason)
    }

    /// Plain text.
    pub(crate) fn text(status: StatusCode, text: &'static str, reason: impl Into<String>) -> Self {
        Self::answer(status, (status, text).into_response(), reason)
    }

    fn answer(status: StatusCode, response: Response, reason: impl Into<String>) -> Self {
        Self {
            response: Box::new(response),
            status,
            reason: reason.into(),
        }
    }

    /// Records the refusal of `method path` in `refusals`; the answer.
    pub(crate) fn record(self, method: &str, path: &str, refusals: &mut Vec<Refusal>) -> Response {
        refusals.push(Refusal {
            method: method.to_string(),
            path: path.to_string(),
            status: self.status.as_u16(),
            reason: self.reason,
        });
        *self.response
    }
}

/// An axum router served on `127.0.0.1`, until dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub(crate) fn start(router: axum::Router) -> Self {
        Self::start_with(|_url| (router, ())).0
    }

    /// Listens first, then serves the router `make` builds knowing the server's URL.
    pub(crate) fn start_with<T>(make: impl FnOnce(String) -> (axum::Router, T)) -> (Self, T) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let (router, made) = make(format!("http://{addr}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                tokio::select! {
                    served = axum::serve(listener, router) => {
                        if let Err(e) = served {
                            eprintln!("the fake platform stopped: {e}");
                        }
                    }
                    _ = stopped => {}
                }
            });
        });
        let server = Self {
            addr,
            stop: Some(stop),
        };
        (server, made)
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A random token of `len` characters (letters and digits).
pub(crate) fn random(len: usize) -> String {
    let mut text = String::new();
    while text.len() < len {
        let ulid = ulid::Ulid::generate().to_string();
        // The first characters of a ULID are its time: take the random end.
        text.push_str(&ulid[10..]);
    }
    text.truncate(len);
    text
}

/// The query pairs of a request, decoded as a form.
pub(crate) fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The value of `name` among `pairs`, the first one given.
pub(crate) fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The form pairs of a body, when the request says it is a form.
pub(crate) fn form_pairs(headers: &http::HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let is_form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    match is_form {
        true => url::form_urlencoded::parse(body).into_owned().collect(),
        false => Vec::new(),
    }
}
