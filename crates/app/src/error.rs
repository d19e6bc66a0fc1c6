//! Errors as the HTTP API shows them: a status and `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable and machine-readable: clients branch on it.
    pub code: &'static str,
    /// For people: says what was wrong and, where it helps, what to do.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The store failed; the client may retry.
    pub fn store(detail: impl std::fmt::Display) -> Self {
        Self::unavailable("store_unavailable", detail)
    }

    /// A dependency failed; the client may retry. The detail goes to the log, not the client.
    pub fn unavailable(code: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(code, error = %detail, "dependency failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "a dependency is unavailable; retry later",
        )
    }
}

impl From<socialcare_webhooks::payload::PayloadError> for ApiError {
    fn from(e: socialcare_webhooks::payload::PayloadError) -> Self {
        use socialcare_webhooks::payload::PayloadError;
        match e {
            PayloadError::Syntax(_) => ApiError::bad_request("invalid_json", e.to_string()),
            PayloadError::Field { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_event",
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// Makes unknown routes and wrong methods answer with the JSON error shape too. Call it once,
/// on the finished router (after merging), as axum allows only one fallback.
pub fn json_errors(router: axum::Router) -> axum::Router {
    router
        .method_not_allowed_fallback(wrong_method)
        .fallback(no_such_route)
}

async fn no_such_route() -> ApiError {
    ApiError::not_found("no such route")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
