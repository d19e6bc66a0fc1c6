//! Errors as the HTTP API shows them: a status and `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use socialcare_domain::ports::{Failure, StoreError};

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

    /// The store failed: 503 when trying again may help (throttled: a little later), 500 when
    /// it will not (a bug or bad data; the detail goes to the log, not the client).
    pub fn store(e: StoreError) -> Self {
        match e.failure {
            Failure::Throttled => Self::unavailable("store_throttled", e),
            Failure::Unavailable => Self::unavailable("store_unavailable", e),
            Failure::Invalid => {
                tracing::error!(error = %e, "the store refused the request");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_failed",
                    "the request failed on our side and was logged; retrying will not help",
                )
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_says_whether_to_retry() {
        let cases = [
            (
                StoreError::throttled("slow down"),
                StatusCode::SERVICE_UNAVAILABLE,
                "store_throttled",
            ),
            (
                StoreError::unavailable("timeout"),
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
            ),
            (
                StoreError::invalid("bad item"),
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_failed",
            ),
        ];
        for (error, status, code) in cases {
            let answer = ApiError::store(error.clone());
            assert_eq!((answer.status, answer.code), (status, code), "{error}");
            assert!(
                !answer.message.contains(&error.detail),
                "the detail stays in the log"
            );
        }
    }
}
