//! ContactStore: one row per contact and customer who gave it, found by either.

use super::items::{all, to_json};
use super::{SqliteStore, transaction};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};
use socialcare_domain::customer::{Contact, ContactMark, ContactMarks, ContactNote};
use socialcare_domain::ids::CustomerId;
use socialcare_domain::ports::{CommitError, ContactStore, MOST_NOTES_OF_A_CONTACT, StoreError};

impl ContactStore for SqliteStore {
    async fn note_contacts(&self, notes: &[ContactNote]) -> Result<(), StoreError> {
        let notes = notes.to_vec();
        let written = transaction(&self.db, move |conn| {
            for note in &notes {
                conn.execute(
                    "INSERT INTO contacts (contact, customer_id, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (contact, customer_id) DO UPDATE SET data = excluded.data",
                    params![
                        note.contact.key(),
                        note.customer_id.as_str(),
                        to_json(note)?
                    ],
                )?;
            }
            Ok(Ok(()))
        })
        .await;
        written.map_err(store_error)
    }

    async fn contact_notes(&self, contact: &Contact) -> Result<Vec<ContactNote>, StoreError> {
        let key = contact.key();
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM contacts WHERE contact = ?1 ORDER BY customer_id LIMIT ?2",
                params![key, MOST_NOTES_OF_A_CONTACT as i64],
            )
        })
        .await
    }

    async fn customer_contacts(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Vec<ContactNote>, StoreError> {
        let id = customer_id.as_str().to_string();
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM contacts WHERE customer_id = ?1 ORDER BY contact",
                params![id],
            )
        })
        .await
    }

    async fn forget_contacts(&self, customer_id: &CustomerId) -> Result<(), StoreError> {
        let id = customer_id.as_str().to_string();
        self.read(move |conn| {
            conn.execute("DELETE FROM contacts WHERE customer_id = ?1", params![id])
                .map(drop)
        })
        .await
    }

    async fn mark_contact(&self, mark: &ContactMark) -> Result<(), StoreError> {
        let (key, data) = (
            mark.contact.key(),
            to_json(mark).map_err(|e| StoreError::invalid(e.to_string()))?,
        );
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO contact_marks (contact, data) VALUES (?1, ?2)
                 ON CONFLICT (contact) DO UPDATE SET data = excluded.data",
                params![key, data],
            )
            .map(drop)
        })
        .await
    }

    async fn contact_marks(&self, contact: &Contact) -> Result<ContactMarks, StoreError> {
        let key = contact.key();
        let row: Option<(Option<String>, Option<String>, Option<String>)> = self
            .query(move |conn| {
                conn.query_row(
                    "SELECT data, written_at, verified_at FROM contact_marks WHERE contact = ?1",
                    params![key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
            })
            .await?;
        let Some((data, written, verified)) = row else {
            return Ok(ContactMarks::default());
        };
        let time = |at: Option<String>| {
            at.and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| at.with_timezone(&Utc))
        };
        Ok(ContactMarks {
            mark: data
                .map(|data| serde_json::from_str(&data))
                .transpose()
                .map_err(|e| StoreError::invalid(format!("a stored mark: {e}")))?,
            written_at: time(written),
            verified_written_at: time(verified),
        })
    }

    async fn note_written(
        &self,
        contact: &Contact,
        at: DateTime<Utc>,
        verified: bool,
    ) -> Result<(), StoreError> {
        let (key, at) = (
            contact.key(),
            at.to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        self.read(move |conn| {
            // The later of the two, each (the times are written alike, so they sort as text).
            conn.execute(
                "INSERT INTO contact_marks (contact, written_at, verified_at)
                 VALUES (?1, ?2, CASE WHEN ?3 THEN ?2 END)
                 ON CONFLICT (contact) DO UPDATE SET
                   written_at = max(coalesce(written_at, ''), excluded.written_at),
                   verified_at = CASE WHEN ?3 THEN max(coalesce(verified_at, ''), excluded.written_at)
                                 ELSE verified_at END",
                params![key, at, verified],
            )
            .map(drop)
        })
        .await
    }

    async fn forget_marks(&self, contact: &Contact) -> Result<(), StoreError> {
        let key = contact.key();
        self.read(move |conn| {
            conn.execute("DELETE FROM contact_marks WHERE contact = ?1", params![key])
                .map(drop)
        })
        .await
    }
}

fn store_error(e: CommitError) -> StoreError {
    match e {
        CommitError::Store(e) => e,
        other => StoreError::unavailable(other.to_string()),
    }
}
