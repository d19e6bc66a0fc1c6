//! Calling a router in-process, as API Gateway (through `lambda_http`) or axum would.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// Sends `request` to `app`; returns the status and the JSON body (`Null` when not JSON).
pub async fn call<B>(app: &axum::Router, request: Request<B>) -> (StatusCode, Value)
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = app
        .clone()
        .oneshot(request.map(Body::new))
        .await
        .expect("routers are infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body is in memory");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
