//! ReminderStore: the due index of tickets' next reminders (`due_reminders`).

use super::SqliteStore;
use super::items::{all, to_json};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use socialcare_domain::Ticket;
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{ReminderStore, StoreError};
use socialcare_domain::timers::Reminder;

/// Keeps the ticket's next reminder in the due index.
pub(super) fn index_reminder(conn: &Connection, ticket: &Ticket) -> rusqlite::Result<()> {
    match ticket.timers.next(&ticket.id) {
        Some(reminder) => {
            conn.execute(
                "INSERT INTO due_reminders (ticket_id, due_at, reminder, queued)
                 VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (ticket_id) DO UPDATE SET
                     queued = CASE WHEN reminder = excluded.reminder THEN queued ELSE 0 END,
                     due_at = excluded.due_at, reminder = excluded.reminder",
                params![
                    ticket.id.as_str(),
                    sortable_time(reminder.due_at),
                    to_json(&reminder)?
                ],
            )?;
        }
        None => {
            conn.execute(
                "DELETE FROM due_reminders WHERE ticket_id = ?1",
                [ticket.id.as_str()],
            )?;
        }
    }
    Ok(())
}

impl ReminderStore for SqliteStore {
    async fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        let until = sortable_time(until);
        self.query(move |conn| {
            all(
                conn,
                "SELECT reminder FROM due_reminders WHERE queued = 0 AND due_at <= ?1
                 ORDER BY due_at LIMIT ?2",
                params![until, limit],
            )
        })
        .await
    }

    async fn mark_queued(&self, reminder: &Reminder) -> Result<(), StoreError> {
        let (id, json) = (reminder.ticket_id.to_string(), to_json(reminder));
        self.read(move |conn| {
            conn.execute(
                "UPDATE due_reminders SET queued = 1 WHERE ticket_id = ?1 AND reminder = ?2",
                params![id, json?],
            )
        })
        .await?;
        Ok(())
    }
}
