//! What every page shares: the layout, the security headers, and errors as readable pages.

use crate::assets;
use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use socialcare_app::error::ApiError;

/// The signed-in agent, as the layout shows them.
pub struct Agent {
    pub name: String,
    pub role: &'static str,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: String,
}

pub struct Layout {
    pub title: String,
    pub stylesheet: String,
    pub script: String,
    pub icon: String,
    pub agent: Option<Agent>,
    /// The header's current section.
    pub section: &'static str,
}

impl Layout {
    pub fn new(title: impl Into<String>, agent: Option<Agent>, section: &'static str) -> Self {
        Self {
            title: title.into(),
            stylesheet: assets::stylesheet(),
            script: assets::script(),
            icon: assets::icon(),
            agent,
            section,
        }
    }
}

/// A rendered page with its status.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    back: &'a str,
}

/// An error as a page: its status, what went wrong, and a way back.
pub fn error(status: StatusCode, message: &str, agent: Option<Agent>, back: &str) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_server_error() => "Something failed on our side",
        _ => "That did not work",
    };
    let page = ErrorPage {
        layout: Layout::new(heading, agent, ""),
        heading,
        message,
        back,
    };
    render(status, &page)
}

/// An API error (the same operations answer both) as a page.
pub fn api_error(e: &ApiError, agent: Option<Agent>, back: &str) -> Response {
    error(e.status, &e.message, agent, back)
}

/// The Content-Security-Policy of every console answer: our own scripts, styles and fetches
/// only, no inline script or style, no framing, forms only to us.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(https: bool, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Over https, browsers keep to https for a year (no downgrade to plain http).
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // A response with its own policy (a customer's file: sandboxed) keeps it.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // `same-origin`, not `no-referrer`: with that, browsers send `Origin: null` on our own forms.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages carry a session's data: never kept by a shared cache. Assets set their own.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
