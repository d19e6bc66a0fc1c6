//! Logs as JSON lines (CloudWatch and local alike), level from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    // A second init (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(json_lines(std::io::stdout));
}

/// The subscriber [`init`] installs, writing to `writer`: one JSON object a line, the event's
/// fields at the top, the current span's fields (the ids) under `span`.
pub fn json_lines<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .flatten_event(true)
        .with_writer(writer)
        .finish()
}

/// Runs every request of `router` in a span with its method, path and request id (the
/// caller's `x-request-id`, else the platform's trace id, else a new one), so that each line
/// logged for it carries them. The query is left out: it may hold a challenge token.
pub fn traced(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(request_span))
}

async fn request_span(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let span = request_span_of(&request);
    next.run(request).instrument(span).await
}

fn request_span_of(request: &axum::extract::Request) -> tracing::Span {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty() && value.len() <= 128)
            .map(str::to_string)
    };
    let request_id = header("x-request-id")
        .or_else(|| header("x-amzn-trace-id"))
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
