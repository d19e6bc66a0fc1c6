use rusqlite::Connection;
use socialcare_domain::ports::{QueueError, StoreError};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One SQLite file shared by the store and the queues of a process.
///
/// rusqlite is blocking, so every call runs on tokio's blocking pool. One connection serializes
/// the writers, which is what SQLite does anyway.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tickets (
    id        TEXT PRIMARY KEY,
    status    TEXT NOT NULL,
    sort_key  TEXT NOT NULL,
    version   INTEGER NOT NULL,
    data      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_newest ON tickets (sort_key);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (status, sort_key);
CREATE INDEX IF NOT EXISTS tickets_by_customer
    ON tickets (json_extract(data, '$.customer_id'), sort_key);
-- The inbox's order: each ticket's nearest service-level deadline (store/tickets.rs DEADLINE).
CREATE INDEX IF NOT EXISTS tickets_by_deadline ON tickets (status, coalesce(min(json_extract(data, '$.timers.response.due_at'), json_extract(data, '$.timers.resolution.due_at')), json_extract(data, '$.timers.response.due_at'), json_extract(data, '$.timers.resolution.due_at')));
CREATE INDEX IF NOT EXISTS tickets_by_owner
    ON tickets (json_extract(data, '$.owner'), sort_key);

CREATE TABLE IF NOT EXISTS messages (
    dedupe_key TEXT PRIMARY KEY,
    id         TEXT NOT NULL,
    ticket_id  TEXT NOT NULL,
    sort_key   TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_of_ticket ON messages (ticket_id, sort_key);
-- A posted reply is also known by the platform's id of the post (its echo comes with it).
CREATE TABLE IF NOT EXISTS message_aliases (
    dedupe_key  TEXT PRIMARY KEY,
    message_key TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS awaited_parents (
    parent_key TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS customers (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS identities (
    key         TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ticket_events (
    id        TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    sort_key  TEXT NOT NULL,
    data      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_events_of_ticket ON ticket_events (ticket_id, sort_key);

-- Each ticket's next reminder; `queued` once the scheduler put it on the reminders queue (a
-- ticket write that keeps the same reminder keeps the mark, a new reminder clears it).
CREATE TABLE IF NOT EXISTS due_reminders (
    ticket_id TEXT PRIMARY KEY,
    due_at    TEXT NOT NULL,
    reminder  TEXT NOT NULL,
    queued    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS due_reminders_by_time ON due_reminders (queued, due_at);

-- The response-time report's counters (they only add).
CREATE TABLE IF NOT EXISTS metrics (
    account  TEXT NOT NULL,
    group_by TEXT NOT NULL,
    grp      TEXT NOT NULL,
    day      TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    INTEGER NOT NULL,
    PRIMARY KEY (account, group_by, day, grp, name)
);

-- New complaints per topic term and window of platform time, per brand account (spikes).
CREATE TABLE IF NOT EXISTS topic_counts (
    account      TEXT NOT NULL,
    term         TEXT NOT NULL,
    window_start TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (account, term, window_start)
);

-- The brand's configuration document, one row per version (the newest is the one in force).
CREATE TABLE IF NOT EXISTS configuration_versions (
    version  INTEGER PRIMARY KEY,
    change   TEXT NOT NULL,
    document TEXT NOT NULL
);

-- The brand accounts' sealed platform tokens, and what was seen of each account.
CREATE TABLE IF NOT EXISTS account_tokens (
    source  TEXT NOT NULL,
    account TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (source, account)
);

CREATE TABLE IF NOT EXISTS pending_connects (
    state TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS account_health (
    source  TEXT NOT NULL,
    account TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (source, account)
);

-- Registered integrations with their signing secrets.
CREATE TABLE IF NOT EXISTS integrations (
    source  TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL
);

-- How many messages each window has counted, to hold it to its capacity as DynamoDB must.
CREATE TABLE IF NOT EXISTS topic_windows (
    account      TEXT NOT NULL,
    window_start TEXT NOT NULL,
    messages     INTEGER NOT NULL,
    PRIMARY KEY (account, window_start)
);

CREATE TABLE IF NOT EXISTS incidents (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
-- One active incident per account and topic.
CREATE TABLE IF NOT EXISTS active_incidents (
    account     TEXT NOT NULL,
    topic       TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (account, topic)
);
CREATE INDEX IF NOT EXISTS tickets_by_incident
    ON tickets (json_extract(data, '$.incident_id'), sort_key);
-- Status updates on incidents, oldest first by created_at.
CREATE TABLE IF NOT EXISTS incident_updates (
    incident_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (incident_id, id)
);
-- Posts taken from each account's budget per pacing slice (incident updates).
CREATE TABLE IF NOT EXISTS post_budgets (
    account     TEXT NOT NULL,
    slice_start TEXT NOT NULL,
    used        INTEGER NOT NULL,
    PRIMARY KEY (account, slice_start)
);

CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS templates (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS team_turns (
    team  TEXT PRIMARY KEY,
    turns INTEGER NOT NULL
);

-- Console sign-ins, by the hash of the browser's token; expires_at in Unix seconds.
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS queue_messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    group_id      TEXT,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS queue_messages_group ON queue_messages (queue, group_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt);

CREATE TABLE IF NOT EXISTS queue_dedupe (
    queue      TEXT NOT NULL,
    dedupe_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedupe_id)
);
"#;

impl Database {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        Self::prepare(Connection::open(path)?)
    }

    /// A private database that lives as long as this value (tests, one-off runs).
    pub fn in_memory() -> rusqlite::Result<Self> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(conn: Connection) -> rusqlite::Result<Self> {
        // WAL lets readers run beside the writer; synchronous=FULL makes a commit durable
        // before it returns, which the webhook's "2xx only once queued" promise rests on.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` with the connection on the blocking pool.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, SqliteError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn)
        })
        .await?
    }
}

/// What went wrong in a call to the database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task panicked or was cancelled.
    #[error("sqlite worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

// The ports see a failed call as the database being unavailable, whatever SQLite said.
impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        StoreError::unavailable(e.to_string())
    }
}

impl From<SqliteError> for QueueError {
    fn from(e: SqliteError) -> Self {
        QueueError::unavailable(e.to_string())
    }
}
