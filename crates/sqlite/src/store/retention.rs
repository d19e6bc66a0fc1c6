//! RetentionStore: deleting a ticket whose retention passed.

use super::SqliteStore;
use super::items::{all, to_json, version};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use socialcare_domain::ports::{RetentionStore, StoreError};
use socialcare_domain::{Cursor, Message, Ticket};

impl RetentionStore for SqliteStore {
    async fn purge_ticket(
        &self,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let (id, listed) = (ticket.id.to_string(), version(ticket.version));
        self.db
            .write(move |conn| {
                // Still closed at the version the purge listed: a message that reopened it
                // since keeps it.
                let unchanged = conn
                    .query_row(
                        "SELECT 1 FROM tickets WHERE id = ?1 AND version = ?2 AND status = 'closed'",
                        params![id, listed],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !unchanged {
                    return Ok((false, None));
                }
                // A message's row is also its dedupe record: it stays, erased, and out of its
                // ticket's pages (they list sort keys above the empty one).
                let messages: Vec<Message> = all(
                    conn,
                    "SELECT data FROM messages WHERE ticket_id = ?1",
                    [&id],
                )?;
                for message in &messages {
                    conn.execute(
                        "UPDATE messages SET sort_key = '', data = ?2 WHERE dedupe_key = ?1",
                        params![message.body.dedupe_key(), to_json(&message.erased(now))?],
                    )?;
                }
                for table in ["ticket_events", "awaited_parents", "due_reminders"] {
                    conn.execute(&format!("DELETE FROM {table} WHERE ticket_id = ?1"), [&id])?;
                }
                conn.execute("DELETE FROM tickets WHERE id = ?1", [&id])?;
                Ok((true, Some(messages.len())))
            })
            .await
            .map_err(StoreError::from)
    }

    async fn purge_cursor(&self) -> Result<Option<Cursor>, StoreError> {
        let kept: Option<String> = self
            .query(|conn| {
                conn.query_row("SELECT cursor FROM purge_cursor WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()
            })
            .await?;
        // A place that does not read is no place: the round starts from the newest.
        Ok(kept.and_then(|raw| Cursor::decode(&raw).ok()))
    }

    async fn set_purge_cursor(&self, cursor: Option<&Cursor>) -> Result<(), StoreError> {
        let cursor = cursor.map(Cursor::encode);
        self.read(move |conn| match cursor {
            Some(cursor) => conn
                .execute(
                    "INSERT INTO purge_cursor (id, cursor) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor",
                    [cursor],
                )
                .map(drop),
            None => conn.execute("DELETE FROM purge_cursor", []).map(drop),
        })
        .await
    }
}
