//! The ticket store on SQLite (the tables are in `database.rs`).
//!
//! One file per port, with the same names as in the DynamoDB adapter (`socialcare-aws`'s
//! `dynamodb/`): `ingest` (IngestStore), `tickets` (TicketReads, TicketLists, TicketCommands), `customers`
//! (CustomerStore), `contacts` (ContactStore), `teams` (TeamTurns), `settings` (SettingsStore, TemplateStore,
//! ApiKeyStore, IntegrationStore), `sessions` (SessionStore), `privacy` (PrivacyStore), `retention` (RetentionStore), `webhooks` (WebhookStore), `listening` (ListeningStore), `reminders` (ReminderStore), `metrics` (MetricsStore),
//! and IncidentStore in six: `spikes` (SpikeCounters), `incidents` (IncidentRecords, IncidentTickets, IncidentResolution),
//! `updates` (IncidentUpdateStore), `allowance` (PostAllowance). Beside them: `items` (the mapping of records to rows, and the
//! writes of the records several ports write: messages, tickets, events). DynamoDB's `keys`
//! has no counterpart here: rows are found by their columns.

mod allowance;
mod change_log;
mod contacts;
mod customers;
mod incidents;
mod ingest;
mod items;
mod listening;
mod metrics;
mod privacy;
mod reminders;
mod retention;
mod sessions;
mod settings;
mod spikes;
mod teams;
mod tickets;
mod updates;
mod webhooks;

use crate::database::{Database, SqliteError};
use rusqlite::Connection;
use socialcare_domain::ports::{CommitError, StoreError};

/// The ticket store on SQLite. Rows keep the domain value as JSON beside the columns that are
/// looked up or sorted on.
#[derive(Clone)]
pub struct SqliteStore {
    db: Database,
}

impl SqliteStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Runs `work` on the writing connection (a single statement commits on its own).
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.db
            .run(move |conn| work(conn).map_err(SqliteError::from))
            .await
            .map_err(StoreError::from)
    }

    /// Runs `work`, which only reads, on the reading connection: beside the writer, seeing
    /// what is committed.
    async fn query<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.db
            .read(move |conn| work(conn).map_err(SqliteError::from))
            .await
            .map_err(StoreError::from)
    }
}

/// Runs `work` in the next group commit, kept when it returns `Ok(Ok(_))` and answered once
/// committed; a refusal (`Ok(Err(_))`) is rolled back and answered as it is.
async fn transaction<F>(db: &Database, work: F) -> Result<(), CommitError>
where
    F: FnOnce(&Connection) -> rusqlite::Result<Result<(), CommitError>> + Send + 'static,
{
    db.write(move |conn| {
        let result = work(conn)?;
        Ok((result.is_ok(), result))
    })
    .await
    .map_err(StoreError::from)?
}
