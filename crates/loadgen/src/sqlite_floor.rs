//! `sqlite-floor`: what SQLite itself allows on this machine, to read the embedded store's burst
//! by. Each message is the rows the runner writes for it, in the runner's two durable steps: the
//! webhook's queue row in one transaction, then ingest's (the queue row deleted; the message,
//! its dedupe record, the ticket, the customer and an event written) in another, one message
//! after another on one connection, with the runner's settings (WAL, `synchronous=FULL`). No
//! parsing, threading or HTTP: a ceiling, not a target.

use anyhow::Context;
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::Instant;

pub struct Floor {
    pub messages: u64,
    pub seconds: f64,
}

impl Floor {
    pub fn per_second(&self) -> f64 {
        self.messages as f64 / self.seconds.max(f64::EPSILON)
    }
}

const SCHEMA: &str = "
CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, body TEXT);
CREATE TABLE messages (id TEXT PRIMARY KEY, ticket TEXT, data TEXT);
CREATE TABLE dedupe (key TEXT PRIMARY KEY, message TEXT);
CREATE TABLE tickets (id TEXT PRIMARY KEY, version INTEGER, data TEXT);
CREATE TABLE customers (id TEXT PRIMARY KEY, version INTEGER, data TEXT);
CREATE TABLE events (id TEXT PRIMARY KEY, ticket TEXT, data TEXT);
";

/// Writes `messages` messages into a new database in `directory`.
pub fn run(directory: &Path, messages: u64) -> anyhow::Result<Floor> {
    let path = directory.join("floor.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut conn =
        Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    // About the size of a normalized webhook and of a stored ticket.
    let body = "x".repeat(600);
    let started = Instant::now();
    for n in 0..messages {
        let id = format!("m{n}");
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO queue (id, body) VALUES (?1, ?2)",
            params![id, body],
        )?;
        tx.commit()?;
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM queue WHERE id = ?1", [&id])?;
        let ticket = format!("t{}", n / 2);
        tx.execute(
            "INSERT INTO messages (id, ticket, data) VALUES (?1, ?2, ?3)",
            params![id, ticket, body],
        )?;
        tx.execute(
            "INSERT INTO dedupe (key, message) VALUES (?1, ?2)",
            params![format!("k{n}"), id],
        )?;
        tx.execute(
            "INSERT INTO tickets (id, version, data) VALUES (?1, 1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = version + 1, data = excluded.data",
            params![ticket, body],
        )?;
        tx.execute(
            "INSERT INTO customers (id, version, data) VALUES (?1, 1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = version + 1, data = excluded.data",
            params![format!("c{}", n / 2), body],
        )?;
        tx.execute(
            "INSERT INTO events (id, ticket, data) VALUES (?1, ?2, ?3)",
            params![format!("e{n}"), ticket, "{}"],
        )?;
        tx.commit()?;
    }
    Ok(Floor {
        messages,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_message_in_two_transactions() {
        let directory = std::env::temp_dir().join(format!("floor-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let floor = run(&directory, 20).unwrap();
        assert_eq!(floor.messages, 20);
        assert!(floor.per_second() > 0.0);
        let conn = Connection::open(directory.join("floor.sqlite")).unwrap();
        let count = |table: &str| -> i64 {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
        };
        assert_eq!(count("queue"), 0);
        assert_eq!(count("messages"), 20);
        assert_eq!(count("tickets"), 10);
        let _ = std::fs::remove_dir_all(&directory);
    }
}
