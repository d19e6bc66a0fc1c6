//! IngestStore: one transaction per ingested message, made idempotent by its dedupe key.

use super::customers::get_customer;
use super::items::{insert_event, insert_message, key_taken, one, to_json, update_ticket, version};
use super::metrics::add_samples;
use super::reminders::index_reminder;
use super::tickets::get_ticket;
use super::{SqliteStore, transaction};
use crate::database::SqliteError;
use rusqlite::{Connection, OptionalExtension, params};
use socialcare_domain::ports::{CommitError, IngestChange, IngestStore, MessageRef, StoreError};
use socialcare_domain::{Customer, Message, MessageId, Ticket, TicketId};

/// A message by its dedupe key or by an alias of it.
const BY_KEY: &str = "dedupe_key = ?1
    OR dedupe_key = (SELECT message_key FROM message_aliases WHERE dedupe_key = ?1)";

impl IngestStore for SqliteStore {
    async fn find_message(&self, dedupe_key: &str) -> Result<Option<MessageRef>, StoreError> {
        let key = dedupe_key.to_string();
        self.query(move |conn| {
            conn.query_row(
                &format!("SELECT id, ticket_id FROM messages WHERE {BY_KEY}"),
                [key],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()
        })
        .await?
        .map(|(message_id, ticket_id)| {
            Ok(MessageRef {
                message_id: MessageId::parse(&message_id)
                    .ok_or_else(|| StoreError::invalid(format!("bad message id {message_id:?}")))?,
                ticket_id: TicketId::parse(&ticket_id)
                    .ok_or_else(|| StoreError::invalid(format!("bad ticket id {ticket_id:?}")))?,
            })
        })
        .transpose()
    }

    async fn find_awaiting(&self, dedupe_key: &str) -> Result<Option<TicketId>, StoreError> {
        let key = dedupe_key.to_string();
        let found: Option<String> = self
            .query(move |conn| {
                conn.query_row(
                    "SELECT ticket_id FROM awaited_parents WHERE parent_key = ?1",
                    [key],
                    |row| row.get(0),
                )
                .optional()
            })
            .await?;
        found
            .map(|id| {
                TicketId::parse(&id)
                    .ok_or_else(|| StoreError::invalid(format!("bad ticket id {id:?}")))
            })
            .transpose()
    }

    async fn find_customer(&self, identity_key: &str) -> Result<Option<Customer>, StoreError> {
        let key = identity_key.to_string();
        self.query(move |conn| {
            let customer_id: Option<String> = conn
                .query_row(
                    "SELECT customer_id FROM identities WHERE key = ?1",
                    [key],
                    |row| row.get(0),
                )
                .optional()?;
            match customer_id {
                Some(id) => get_customer(conn, &id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn get_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| get_ticket(conn, &id)).await
    }

    async fn get_message(&self, dedupe_key: &str) -> Result<Option<Message>, StoreError> {
        let key = dedupe_key.to_string();
        self.query(move |conn| {
            one(
                conn,
                &format!("SELECT data FROM messages WHERE {BY_KEY}"),
                [key],
            )
        })
        .await
    }

    async fn replace_message(
        &self,
        message: &Message,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let key = message.body.dedupe_key();
        let data =
            to_json(message).map_err(|e| StoreError::invalid(SqliteError::from(e).to_string()))?;
        let replaced = self
            .read(move |conn| {
                conn.execute(
                    "UPDATE messages SET data = ?2
                     WHERE dedupe_key = ?1 AND json_extract(data, '$.version') = ?3",
                    params![key, data, version(version_before)],
                )
            })
            .await?;
        match replaced {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn record_delivery(
        &self,
        message: &Message,
        version_before: u64,
        platform_key: Option<&str>,
    ) -> Result<(), CommitError> {
        let message = message.clone();
        let alias = platform_key.map(str::to_string);
        transaction(&self.db, move |tx| {
            let key = message.body.dedupe_key();
            let replaced = tx.execute(
                "UPDATE messages SET data = ?2
                 WHERE dedupe_key = ?1 AND json_extract(data, '$.version') = ?3",
                params![key, to_json(&message)?, version(version_before)],
            )?;
            if replaced == 0 {
                return Ok(Err(CommitError::Conflict));
            }
            if let Some(alias) = alias {
                if key_taken(tx, &alias)? {
                    return Ok(Err(CommitError::Conflict));
                }
                tx.execute(
                    "INSERT INTO message_aliases (dedupe_key, message_key) VALUES (?1, ?2)",
                    params![alias, key],
                )?;
            }
            Ok(Ok(()))
        })
        .await
    }

    async fn commit(&self, change: &IngestChange) -> Result<(), CommitError> {
        let change = change.clone();
        transaction(&self.db, move |tx| apply(tx, &change)).await
    }
}

/// The writes of one ingested message; `Err(CommitError)` when a condition fails.
fn apply(tx: &Connection, change: &IngestChange) -> rusqlite::Result<Result<(), CommitError>> {
    if !insert_message(tx, &change.message)? {
        return Ok(Err(CommitError::Duplicate));
    }
    for reply in &change.replies {
        if !insert_message(tx, reply)? {
            return Ok(Err(CommitError::Conflict));
        }
    }

    let ticket = &change.ticket;
    let written = match change.ticket_version_before {
        None => tx.execute(
            "INSERT INTO tickets (id, status, sort_key, version, data) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO NOTHING",
            params![
                ticket.id.as_str(),
                ticket.status.as_str(),
                ticket.cursor().sort_key(),
                version(ticket.version),
                to_json(ticket)?
            ],
        )? == 1,
        Some(before) => update_ticket(tx, ticket, before)?,
    };
    if !written {
        return Ok(Err(CommitError::Conflict));
    }
    index_reminder(tx, ticket)?;

    let customer = &change.customer;
    let customer_json = to_json(customer)?;
    let written = match change.customer_version_before {
        Some(_) if !change.customer_written => 1,
        None => tx.execute(
            "INSERT INTO customers (id, version, data) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
            params![customer.id.as_str(), version(customer.version), customer_json],
        )?,
        Some(before) => tx.execute(
            "UPDATE customers SET version = ?2, data = ?3 WHERE id = ?1 AND version = ?4",
            params![
                customer.id.as_str(),
                version(customer.version),
                customer_json,
                version(before)
            ],
        )?,
    };
    if written == 0 {
        return Ok(Err(CommitError::Conflict));
    }

    for identity in &change.new_identities {
        let claimed = tx.execute(
            "INSERT INTO identities (key, customer_id) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![identity.key(), customer.id.as_str()],
        )?;
        if claimed == 0 {
            return Ok(Err(CommitError::Conflict));
        }
    }
    for event in &change.events {
        if insert_event(tx, event)? == 0 {
            return Ok(Err(CommitError::Conflict));
        }
    }
    add_samples(tx, &change.samples)?;
    if let Some(parent) = &change.awaited_parent {
        tx.execute(
            "INSERT INTO awaited_parents (parent_key, ticket_id) VALUES (?1, ?2)
             ON CONFLICT (parent_key) DO UPDATE SET ticket_id = excluded.ticket_id",
            params![parent, change.ticket.id.as_str()],
        )?;
    }
    Ok(Ok(()))
}
