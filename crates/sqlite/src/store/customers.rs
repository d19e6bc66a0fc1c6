//! CustomerStore: customers, their identities and their tickets.

use super::SqliteStore;
use super::items::{all, one, to_json, version};
use super::tickets::before_cursor;
use rusqlite::{Connection, params};
use socialcare_domain::ports::{CommitError, CustomerStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Identity, Page, Ticket, TicketQuery};

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
}
