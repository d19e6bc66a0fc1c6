//! CustomerStore: customers, their identities and their tickets.

use super::items::{all, one, to_json, version};
use super::tickets::before_cursor;
use super::{SqliteStore, transaction};
use rusqlite::{Connection, params};
use socialcare_domain::ports::{CommitError, CustomerStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Identity, Merge, Page, Ticket, TicketQuery};

pub(super) fn get_customer(conn: &Connection, id: &str) -> rusqlite::Result<Option<Customer>> {
    one(conn, "SELECT data FROM customers WHERE id = ?1", [id])
}

impl CustomerStore for SqliteStore {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| get_customer(conn, &id)).await
    }

    async fn link_identity(
        &self,
        customer: &Customer,
        version_before: u64,
        identity: &Identity,
    ) -> Result<(), CommitError> {
        let (customer, key) = (customer.clone(), identity.key());
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                let claimed = tx.execute(
                    "INSERT INTO identities (key, customer_id) VALUES (?1, ?2)
                         ON CONFLICT (key) DO NOTHING",
                    params![key, customer.id.as_str()],
                )?;
                let updated = tx.execute(
                    "UPDATE customers SET version = ?2, data = ?3 WHERE id = ?1 AND version = ?4",
                    params![
                        customer.id.as_str(),
                        version(customer.version),
                        to_json(&customer)?,
                        version(version_before)
                    ],
                )?;
                if claimed == 0 || updated == 0 {
                    return Ok(Err(CommitError::Conflict));
                }
                tx.commit()?;
                Ok(Ok(()))
            })
            .await
            .map_err(StoreError::from)?
    }

    async fn customer_tickets(
        &self,
        id: &CustomerId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        let id = id.to_string();
        let before = before_cursor(query);
        let fetch = query.fetch_size();
        let tickets = self
            .query(move |conn| {
                all(
                    conn,
                    "SELECT data FROM tickets
                     WHERE json_extract(data, '$.customer_id') = ?1 AND sort_key < ?2
                     ORDER BY sort_key DESC LIMIT ?3",
                    params![id, before, fetch],
                )
            })
            .await?;
        Ok(query.page(tickets))
    }

    async fn absorb_customer(
        &self,
        into: &Customer,
        into_version_before: u64,
        absorbed: &Customer,
    ) -> Result<(), CommitError> {
        let (into, absorbed) = (into.clone(), absorbed.clone());
        transaction(&self.db, move |conn| {
            let kept = conn.execute(
                "UPDATE customers SET version = ?2, data = ?3 WHERE id = ?1 AND version = ?4",
                params![
                    into.id.as_str(),
                    version(into.version),
                    to_json(&into)?,
                    version(into_version_before)
                ],
            )?;
            let gone = conn.execute(
                "DELETE FROM customers WHERE id = ?1 AND version = ?2",
                params![absorbed.id.as_str(), version(absorbed.version)],
            )?;
            if kept == 0 || gone == 0 {
                return Ok(Err(CommitError::Conflict));
            }
            conn.execute(
                "UPDATE identities SET customer_id = ?2 WHERE customer_id = ?1",
                params![absorbed.id.as_str(), into.id.as_str()],
            )?;
            Ok(Ok(()))
        })
        .await
    }

    async fn put_merge(&self, merge: &Merge) -> Result<(), CommitError> {
        let merge = merge.clone();
        transaction(&self.db, move |conn| {
            let stored = conn.execute(
                "INSERT INTO merges (customer_id, data) VALUES (?1, ?2)
                 ON CONFLICT (customer_id) DO UPDATE SET data = excluded.data
                 WHERE json_extract(merges.data, '$.into') = ?3",
                params![
                    merge.customer_id.as_str(),
                    to_json(&merge)?,
                    merge.into.as_str()
                ],
            )?;
            Ok(match stored {
                0 => Err(CommitError::Conflict),
                _ => Ok(()),
            })
        })
        .await
    }

    async fn get_merge(&self, customer_id: &CustomerId) -> Result<Option<Merge>, StoreError> {
        let id = customer_id.to_string();
        self.query(move |conn| one(conn, "SELECT data FROM merges WHERE customer_id = ?1", [id]))
            .await
    }
}
