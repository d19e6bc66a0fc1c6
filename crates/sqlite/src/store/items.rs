//! The mapping between records and rows (the domain value as JSON in the `data` column), and
//! the writes of the records several ports write: messages, tickets and their due reminder,
//! events.

use super::reminders::index_reminder;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socialcare_domain::{Message, Ticket, TicketEvent};

pub(super) fn to_json<T: Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

pub(super) fn from_json<T: DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Versions are counters that start at 1; SQLite integers are signed.
pub(super) fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn message_sort_key(message: &Message) -> String {
    message.sort_key()
}

/// The value in the `data` column of the one row `sql` selects, if any.
pub(super) fn one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Option<T>> {
    conn.query_row(sql, args, |row| row.get::<_, String>(0))
        .optional()?
        .map(from_json)
        .transpose()
}

/// The values in the `data` column of every row `sql` selects, in its order.
pub(super) fn all<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = conn.prepare(sql)?;
    statement
        .query_map(args, |row| row.get::<_, String>(0))?
        .map(|row| row.and_then(from_json))
        .collect()
}

/// Whether a dedupe key names a message already, directly or as an alias.
pub(super) fn key_taken(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE dedupe_key = ?1)
             OR EXISTS (SELECT 1 FROM message_aliases WHERE dedupe_key = ?1)",
        [key],
        |row| row.get(0),
    )
}

/// Inserts a message unless its dedupe key is taken; returns whether it did.
pub(super) fn insert_message(conn: &Connection, message: &Message) -> rusqlite::Result<bool> {
    let key = message.body.dedupe_key();
    if key_taken(conn, &key)? {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO messages (dedupe_key, id, ticket_id, sort_key, data)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key,
            message.id.as_str(),
            message.ticket_id.as_str(),
            message_sort_key(message),
            to_json(message)?
        ],
    )?;
    Ok(true)
}

/// Replaces a ticket unless its version moved; returns whether it did.
pub(super) fn update_ticket(
    conn: &Connection,
    ticket: &Ticket,
    before: u64,
) -> rusqlite::Result<bool> {
    let updated = conn.execute(
        "UPDATE tickets SET status = ?2, version = ?3, data = ?4 WHERE id = ?1 AND version = ?5",
        params![
            ticket.id.as_str(),
            ticket.status.as_str(),
            version(ticket.version),
            to_json(ticket)?,
            version(before)
        ],
    )?;
    if updated == 1 {
        index_reminder(conn, ticket)?;
    }
    Ok(updated == 1)
}

/// Inserts an event unless its id is recorded; returns the rows written (0 or 1).
pub(super) fn insert_event(conn: &Connection, event: &TicketEvent) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO ticket_events (id, ticket_id, sort_key, data) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO NOTHING",
        params![
            event.id.as_str(),
            event.ticket_id.as_str(),
            event.sort_key(),
            to_json(event)?
        ],
    )
}
