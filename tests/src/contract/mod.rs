//! The contract suites: what every adapter of a port must do. Each function is one test case;
//! `tests/tests/*_contract.rs` runs every case against every adapter.

pub mod contacts;
pub mod incidents;
pub mod listening;
pub mod merge;
pub mod privacy;
pub mod queue;
pub mod reminders;
pub mod replies;
pub mod store;
pub mod webhooks;
