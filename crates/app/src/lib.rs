//! The handlers of socialcare, shared by the Lambda functions and the local runner, one module
//! per function they serve: `webhook`, `ingest`, `api`, `sender`, `scheduler`, `reminders`.
//! Beside them, what several share: the `outbox` queue's writer, the queue consumers'
//! `queues` plumbing, the `accounts` document, `metrics`, `logging` and `error`.
//!
//! Each one is a plain async function or an axum router over the ports, so it runs the same
//! behind API Gateway (through `lambda_http`), in `socialcare-local`, and in tests.

pub mod accounts;
pub mod api;
pub mod attachments;
pub mod bootstrap;
pub mod configuration;
pub mod connect;
pub mod deliveries;
pub mod email;
pub mod error;
pub mod ingest;
pub mod integrations;
pub mod listening;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod queues;
pub mod reminders;
pub mod scheduler;
pub mod sender;
pub mod tokens;
pub mod webhook;
