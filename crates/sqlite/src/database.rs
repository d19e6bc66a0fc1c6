use rusqlite::Connection;
use socialcare_domain::ports::{QueueError, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

/// One SQLite file shared by the store and the queues of a process.
///
/// rusqlite is blocking, so every call runs on tokio's blocking pool. One connection serializes
/// the writers, which is what SQLite does anyway.
///
/// The writes that must be durable before they are answered (a queued webhook, an ingested
/// message) go through [`Database::write`]: group commit. One writer thread takes every write
/// waiting, runs each under a savepoint of its own in one transaction (a write that fails or
/// refuses is rolled back alone) and commits them together: one fsync for all of them, so under
/// load each waits for one commit, not for a queue of them.
///
/// Reads that stand alone ([`Database::read`]) have a connection of their own (WAL lets it
/// read beside the writer): a list or a lookup does not wait for a commit, nor a commit for it.
/// They see what is committed, and every write is answered only once committed.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
    /// The same connection as `conn` for a database in memory (a second one would be another
    /// database), read-only.
    reader: Arc<Mutex<Connection>>,
    writer: Arc<GroupWriter>,
}

/// At most this many writes share a commit.
const MAX_GROUP: usize = 256;

/// What a write tells its caller once its group is committed (or failed to commit).
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: run inside the group's transaction (`None`: the group could not begin), it answers
/// whether its changes stay and what to deliver after the commit.
type Write = Box<dyn FnOnce(Option<&Connection>) -> (bool, Deliver) + Send>;

struct GroupWriter {
    jobs: Mutex<Option<mpsc::Sender<Write>>>,
    counts: Arc<GroupCounts>,
}

#[derive(Default)]
struct GroupCounts {
    waiting: AtomicUsize,
    commits: AtomicU64,
}

impl GroupWriter {
    fn start(conn: Arc<Mutex<Connection>>) -> Self {
        let (jobs, queue) = mpsc::channel::<Write>();
        let counts = Arc::new(GroupCounts::default());
        let thread_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("sqlite-group-commit".into())
            .spawn(move || group_commits(&conn, &queue, &thread_counts))
            .expect("starting the SQLite writer thread");
        Self {
            jobs: Mutex::new(Some(jobs)),
            counts,
        }
    }
}

/// The writer thread: until every [`Database`] is dropped, takes the writes waiting and
/// commits them together.
fn group_commits(conn: &Mutex<Connection>, queue: &mpsc::Receiver<Write>, counts: &GroupCounts) {
    while let Ok(first) = queue.recv() {
        // The writes that came while the connection was busy join this group.
        let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(write) => group.push(write),
                Err(_) => break,
            }
        }
        counts.waiting.fetch_sub(group.len(), Ordering::SeqCst);
        let mut delivers = Vec::with_capacity(group.len());
        let mut failure = conn
            .execute_batch("BEGIN IMMEDIATE")
            .err()
            .map(|e| e.to_string());
        for write in group {
            if failure.is_some() {
                delivers.push(write(None).1);
                continue;
            }
            if let Err(e) = conn.execute_batch("SAVEPOINT write") {
                failure = Some(e.to_string());
                delivers.push(write(None).1);
                continue;
            }
            // Where panics unwind (not the release profile, which aborts), a write that panics
            // is undone alone (its caller hears that the writer failed it) and the thread goes
            // on for the others.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(Some(&conn))));
            let (keep, deliver) = match ran {
                Ok(ran) => ran,
                Err(_) => (false, Box::new(|_| {}) as Deliver),
            };
            let end = match keep {
                true => "RELEASE write",
                false => "ROLLBACK TO write; RELEASE write",
            };
            if let Err(e) = conn.execute_batch(end) {
                failure = Some(e.to_string());
            }
            delivers.push(deliver);
        }
        let outcome = match failure {
            None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
            Some(e) => Err(e),
        };
        if outcome.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        counts.commits.fetch_add(1, Ordering::SeqCst);
        drop(conn);
        for deliver in delivers {
            deliver(outcome.clone());
        }
    }
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

-- Webhook subscriptions, and each event's delivery to each.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    version         INTEGER NOT NULL,
    data            TEXT NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
);

-- Where the last retention purge stopped reading the closed tickets (one row, or none).
CREATE TABLE IF NOT EXISTS purge_cursor (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cursor TEXT NOT NULL
);

-- How far each search of an account has read, and what it heard.
CREATE TABLE IF NOT EXISTS search_states (
    source  TEXT NOT NULL,
    account TEXT NOT NULL,
    query   TEXT NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (source, account, query)
);

-- Where each customer merged away went, and who merged them.
-- The contacts customers gave (an address, a phone number, an order number), by contact and
-- by customer.
CREATE TABLE IF NOT EXISTS contacts (
    contact     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (contact, customer_id)
);
CREATE INDEX IF NOT EXISTS contacts_by_customer ON contacts (customer_id);

-- What is known of an address's mail: its latest mark (a bounce, a complaint) and when its
-- owner last wrote from it (any mail; an authenticated one), by contact.
CREATE TABLE IF NOT EXISTS contact_marks (
    contact     TEXT PRIMARY KEY,
    data        TEXT,
    written_at  TEXT,
    verified_at TEXT
);

CREATE TABLE IF NOT EXISTS merges (
    customer_id TEXT PRIMARY KEY,
    data        TEXT NOT NULL
);

-- The audit records of customers' erasures (they name nobody).
CREATE TABLE IF NOT EXISTS erasures (
    customer_id  TEXT PRIMARY KEY,
    requested_at TEXT NOT NULL,
    data         TEXT NOT NULL
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

-- What the integrators hear of, as the changes write it (the embedded store's stream): each
-- trail event, each reply that was sent or failed, each incident opened or resolved, each
-- status update, each merge and erasure done, in the change's own transaction. The local runner turns
-- them into events for webhook subscribers, then deletes them.
CREATE TABLE IF NOT EXISTS change_log (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS change_log_read (
    reader TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS change_log_trail AFTER INSERT ON ticket_events BEGIN
    INSERT INTO change_log (kind, data) VALUES ('trail', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_reply AFTER UPDATE OF data ON messages
WHEN json_extract(NEW.data, '$.delivery.state') IN ('sent', 'failed')
 AND json_extract(NEW.data, '$.delivery.state') IS NOT json_extract(OLD.data, '$.delivery.state')
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('reply', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_incident_opened AFTER INSERT ON incidents BEGIN
    INSERT INTO change_log (kind, data) VALUES ('incident_opened', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_incident_resolved AFTER UPDATE OF data ON incidents
WHEN json_extract(NEW.data, '$.status') = 'resolved'
 AND json_extract(OLD.data, '$.status') IS NOT 'resolved'
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('incident_resolved', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_update AFTER INSERT ON incident_updates BEGIN
    INSERT INTO change_log (kind, data) VALUES ('update', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_merge_new AFTER INSERT ON merges
WHEN json_extract(NEW.data, '$.completed_at') IS NOT NULL
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('merge', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_merge_done AFTER UPDATE OF data ON merges
WHEN json_extract(NEW.data, '$.completed_at') IS NOT NULL
 AND json_extract(OLD.data, '$.completed_at') IS NULL
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('merge', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_erasure_new AFTER INSERT ON erasures
WHEN json_extract(NEW.data, '$.completed_at') IS NOT NULL
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('erasure', NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS change_log_erasure_done AFTER UPDATE OF data ON erasures
WHEN json_extract(NEW.data, '$.completed_at') IS NOT NULL
 AND json_extract(OLD.data, '$.completed_at') IS NULL
BEGIN
    INSERT INTO change_log (kind, data) VALUES ('erasure', NEW.data);
END;
"#;

impl Database {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let mut db = Self::prepare(Connection::open(path)?)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        reader.pragma_update(None, "query_only", true)?;
        db.reader = Arc::new(Mutex::new(reader));
        Ok(db)
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
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            writer: Arc::new(GroupWriter::start(Arc::clone(&conn))),
            reader: Arc::clone(&conn),
            conn,
        })
    }

    /// Runs `work`, which only reads, with the reading connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, SqliteError> + Send + 'static,
    {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            work(&conn)
        })
        .await?
    }

    /// Runs `work` in the next group commit and answers once the group is durable. `work`
    /// answers whether its changes stay (`true`) or are rolled back (`false`: a refusal, which
    /// is answered as it is); an error rolls back its changes alone.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(bool, T), SqliteError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, SqliteError>>();
        let write: Write = Box::new(move |conn| {
            let Some(conn) = conn else {
                let deliver: Deliver = Box::new(move |outcome| {
                    let _ = answer.send(Err(SqliteError::Commit(
                        outcome
                            .err()
                            .unwrap_or_else(|| "the group did not begin".into()),
                    )));
                });
                return (false, deliver);
            };
            match work(conn) {
                Ok((keep, value)) => {
                    let deliver: Deliver = Box::new(move |outcome| {
                        let _ = answer.send(match (keep, outcome) {
                            (true, Err(e)) => Err(SqliteError::Commit(e)),
                            _ => Ok(value),
                        });
                    });
                    (keep, deliver)
                }
                Err(e) => {
                    let deliver: Deliver = Box::new(move |_| {
                        let _ = answer.send(Err(e));
                    });
                    (false, deliver)
                }
            }
        });
        {
            let jobs = self
                .writer
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let sent = jobs.as_ref().map(|jobs| {
                self.writer.counts.waiting.fetch_add(1, Ordering::SeqCst);
                jobs.send(write)
            });
            if !matches!(sent, Some(Ok(()))) {
                return Err(SqliteError::Commit("the writer thread has stopped".into()));
            }
        }
        answered
            .await
            .unwrap_or_else(|_| Err(SqliteError::Commit("the writer thread stopped".into())))
    }

    /// How many group commits have run (each one fsync), for measurements and tests.
    pub fn group_commits(&self) -> u64 {
        self.writer.counts.commits.load(Ordering::SeqCst)
    }

    /// How many writes wait for the writer thread.
    pub fn writes_waiting(&self) -> usize {
        self.writer.counts.waiting.load(Ordering::SeqCst)
    }

    /// Tests: holds the connection (as a long read would) until the sender is used or dropped;
    /// answers once it is held.
    #[cfg(test)]
    pub(crate) async fn hold(
        &self,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), SqliteError>>,
    ) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held, holding) = tokio::sync::oneshot::channel();
        let db = self.clone();
        let busy = tokio::spawn(async move {
            db.run(move |_| {
                let _ = held.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
        });
        holding.await.expect("the connection is held");
        (release, busy)
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
    /// The group commit a write was in did not commit.
    #[error("sqlite commit: {0}")]
    Commit(String),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of numbers for the tests to write into.
    async fn numbers_table(db: &Database) {
        db.run(|conn| Ok(conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")?))
            .await
            .unwrap();
    }

    /// The numbers committed, in order.
    async fn numbers(db: &Database) -> Vec<i64> {
        db.run(|conn| {
            let mut statement = conn.prepare("SELECT n FROM t ORDER BY n")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .await
        .unwrap()
    }

    /// A write that panics is undone and answered as failed; the writer goes on.
    #[tokio::test]
    async fn a_write_that_panics_fails_alone_and_the_writer_goes_on() {
        let db = Database::in_memory().unwrap();
        numbers_table(&db).await;
        let panicked = db
            .write(|conn| -> Result<(bool, ()), SqliteError> {
                conn.execute("INSERT INTO t (n) VALUES (1)", [])?;
                panic!("a bug in a write");
            })
            .await;
        assert!(matches!(panicked, Err(SqliteError::Commit(_))));
        let kept = db
            .write(|conn| Ok((true, conn.execute("INSERT INTO t (n) VALUES (2)", [])?)))
            .await
            .unwrap();
        assert_eq!(kept, 1);
        assert_eq!(numbers(&db).await, [2]);
    }

    /// In one group, a write that fails or refuses is rolled back alone; the others stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_refused_write_is_rolled_back_alone_in_its_group() {
        let db = Database::in_memory().unwrap();
        numbers_table(&db).await;
        let (release, busy) = db.hold().await;
        let insert = |n: i64, keep: bool, fail: bool| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |conn| {
                    conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    if fail {
                        // A second row with the same key: an error after a change.
                        conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    }
                    Ok((keep, n))
                })
                .await
            })
        };
        let kept = insert(1, true, false);
        while db.writes_waiting() < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let failed = insert(2, true, true);
        while db.writes_waiting() < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let refused = insert(3, false, false);
        while db.writes_waiting() < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let commits_before = db.group_commits();
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(kept.await.unwrap().unwrap(), 1);
        assert!(matches!(failed.await.unwrap(), Err(SqliteError::Sqlite(_))));
        // A refusal is answered with its value, its changes undone.
        assert_eq!(refused.await.unwrap().unwrap(), 3);
        assert_eq!(db.group_commits() - commits_before, 1);
        assert_eq!(numbers(&db).await, [1]);
    }
}
