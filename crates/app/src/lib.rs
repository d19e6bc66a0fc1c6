//! The handlers of socialcare, shared by the Lambda functions and the local runner:
//! the webhook intake, the ingest consumer and the HTTP API.
//!
//! Each one is a plain async function or an axum router over the ports, so it runs the same
//! behind API Gateway (through `lambda_http`), in `socialcare-local`, and in tests.

pub mod accounts;
pub mod api;
pub mod bootstrap;
pub mod error;
pub mod ingest;
pub mod integrations;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod reminders;
pub mod webhook;
