//! ContactStore: one row per contact and customer who gave it, found by either.

use super::items::{all, one, to_json};
use super::{SqliteStore, transaction};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::params;
use socialcare_domain::customer::{Contact, ContactMark, ContactNote};
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
        let forgotten = transaction(&self.db, move |conn| {
            conn.execute(
                "DELETE FROM contact_marks WHERE contact IN
                 (SELECT contact FROM contacts WHERE customer_id = ?1 AND contact LIKE 'email:%')",
                params![id],
            )?;
            conn.execute("DELETE FROM contacts WHERE customer_id = ?1", params![id])?;
            Ok(Ok(()))
        })
        .await;
        forgotten.map_err(store_error)
    }

    async fn mark_contact(&self, mark: &ContactMark) -> Result<(), StoreError> {
        let (key, at, data) = (
            mark.contact.key(),
            mark.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            to_json(mark).map_err(|e| StoreError::invalid(e.to_string()))?,
        );
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO contact_marks (contact, marked_at, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (contact) DO UPDATE SET marked_at = excluded.marked_at,
                 data = excluded.data",
                params![key, at, data],
            )
            .map(drop)
        })
        .await
    }

    async fn contact_mark(&self, contact: &Contact) -> Result<Option<ContactMark>, StoreError> {
        let key = contact.key();
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM contact_marks WHERE contact = ?1",
                params![key],
            )
        })
        .await
    }

    async fn unmark_contact(
        &self,
        contact: &Contact,
        written_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (key, at) = (
            contact.key(),
            written_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        self.read(move |conn| {
            conn.execute(
                "DELETE FROM contact_marks WHERE contact = ?1 AND marked_at < ?2",
                params![key, at],
            )
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
