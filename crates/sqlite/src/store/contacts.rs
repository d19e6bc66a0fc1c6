//! ContactStore: one row per contact and customer who gave it, found by either.

use super::items::{all, to_json};
use super::{SqliteStore, transaction};
use rusqlite::params;
use socialcare_domain::customer::{Contact, ContactNote};
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
        written.map_err(|e| match e {
            CommitError::Store(e) => e,
            other => StoreError::unavailable(other.to_string()),
        })
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
}
