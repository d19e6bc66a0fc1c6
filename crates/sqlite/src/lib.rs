//! The embedded adapters: the ticket store and the queues in one SQLite file.
//!
//! This is the default for a newcomer, for development and for small self-hosted teams. It
//! passes the same contract suites as the DynamoDB and SQS adapters.

mod database;
mod queue;
mod store;

pub use database::Database;
pub use queue::{QueueOptions, SqliteQueue};
pub use store::SqliteStore;
