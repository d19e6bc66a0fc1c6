//! PrivacyStore: erasing a customer, and the record of it.

use super::items::{all, one, to_json, version};
use super::{SqliteStore, transaction};
use rusqlite::params;
use socialcare_domain::ports::{CommitError, PrivacyStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Erasure, TicketEvent};

impl PrivacyStore for SqliteStore {
    async fn replace_event(&self, event: &TicketEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.read(move |conn| {
            conn.execute(
                "UPDATE ticket_events SET data = ?2 WHERE id = ?1",
                params![event.id.as_str(), to_json(&event)?],
            )
            .map(drop)
        })
        .await
    }

    async fn delete_customer(&self, customer: &Customer) -> Result<(), CommitError> {
        let customer = customer.clone();
        transaction(&self.db, move |conn| {
            let deleted = conn.execute(
                "DELETE FROM customers WHERE id = ?1 AND version = ?2",
                params![customer.id.as_str(), version(customer.version)],
            )?;
            if deleted == 0 {
                return Ok(Err(CommitError::Conflict));
            }
            conn.execute(
                "DELETE FROM identities WHERE customer_id = ?1",
                [customer.id.as_str()],
            )?;
            Ok(Ok(()))
        })
        .await
    }

    async fn put_erasure(&self, erasure: &Erasure) -> Result<(), StoreError> {
        let erasure = erasure.clone();
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO erasures (customer_id, requested_at, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (customer_id) DO UPDATE SET data = excluded.data",
                params![
                    erasure.customer_id.as_str(),
                    erasure.requested_at.to_rfc3339(),
                    to_json(&erasure)?
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn get_erasure(&self, customer_id: &CustomerId) -> Result<Option<Erasure>, StoreError> {
        let id = customer_id.to_string();
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM erasures WHERE customer_id = ?1",
                [id],
            )
        })
        .await
    }

    async fn list_erasures(&self) -> Result<Vec<Erasure>, StoreError> {
        self.query(|conn| {
            all(
                conn,
                "SELECT data FROM erasures ORDER BY requested_at DESC, customer_id DESC",
                [],
            )
        })
        .await
    }
}
