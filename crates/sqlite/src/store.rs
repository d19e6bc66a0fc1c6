use crate::database::{Database, describe};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socialcare_domain::access::ApiKey;
use socialcare_domain::incidents::{ActiveIncident, Incident, TopicCounts};
use socialcare_domain::integrations::Integration;
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{
    ApiKeyStore, CommitError, CustomerStore, IncidentStore, IngestChange, IngestStore,
    IntegrationStore, MessageRef, MetricsStore, ReminderStore, SettingsStore, StoreError,
    TeamTurns, TemplateStore, TicketCommands, TicketReads, TicketUpdate,
};
use socialcare_domain::report::{Counters, GroupBy, Sample};
use socialcare_domain::sla::Policies;
use socialcare_domain::templates::Template;
use socialcare_domain::timers::Reminder;
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{
    Cursor, Customer, Message, MessageId, Page, Ticket, TicketDetail, TicketId, TicketQuery,
};
use socialcare_domain::{CustomerId, Identity, IncidentId, TicketEvent, UpdateId};

/// The ticket store on SQLite. Rows keep the domain value as JSON beside the columns that are
/// looked up or sorted on.
#[derive(Clone)]
pub struct SqliteStore {
    db: Database,
}

impl SqliteStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.db
            .run(move |conn| work(conn).map_err(describe))
            .await
            .map_err(StoreError)
    }
}

fn to_json<T: Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn from_json<T: DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Versions are counters that start at 1; SQLite integers are signed.
fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn message_sort_key(message: &Message) -> String {
    message.sort_key()
}

/// The value in the `data` column of the one row `sql` selects, if any.
fn one<T: DeserializeOwned>(
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
fn all<T: DeserializeOwned>(
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

/// A message by its dedupe key or by an alias of it.
const BY_KEY: &str = "dedupe_key = ?1
    OR dedupe_key = (SELECT message_key FROM message_aliases WHERE dedupe_key = ?1)";

/// Whether a dedupe key names a message already, directly or as an alias.
fn key_taken(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE dedupe_key = ?1)
             OR EXISTS (SELECT 1 FROM message_aliases WHERE dedupe_key = ?1)",
        [key],
        |row| row.get(0),
    )
}

/// Inserts a message unless its dedupe key is taken; returns whether it did.
fn insert_message(conn: &Connection, message: &Message) -> rusqlite::Result<bool> {
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
fn update_ticket(conn: &Connection, ticket: &Ticket, before: u64) -> rusqlite::Result<bool> {
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

/// Keeps the ticket's next reminder in the due index.
fn index_reminder(conn: &Connection, ticket: &Ticket) -> rusqlite::Result<()> {
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

/// Adds a change's counters to the report.
fn add_samples(conn: &Connection, samples: &[Sample]) -> rusqlite::Result<()> {
    for sample in samples {
        for (name, value) in &sample.counters {
            conn.execute(
                "INSERT INTO metrics (account, group_by, grp, day, name, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account, group_by, day, grp, name)
                 DO UPDATE SET value = value + excluded.value",
                params![
                    sample.account,
                    sample.group_by.as_str(),
                    sample.group,
                    sample.day.to_string(),
                    name,
                    value
                ],
            )?;
        }
    }
    Ok(())
}

/// Runs `work` in a transaction, committed when it returns `Ok(Ok(_))`.
async fn transaction<F>(db: &Database, work: F) -> Result<(), CommitError>
where
    F: FnOnce(&Transaction) -> rusqlite::Result<Result<(), CommitError>> + Send + 'static,
{
    db.run(move |conn| {
        let tx = conn.transaction().map_err(describe)?;
        match work(&tx).map_err(describe)? {
            Ok(()) => {
                tx.commit().map_err(describe)?;
                Ok(Ok(()))
            }
            // dropping the transaction rolls it back
            Err(refused) => Ok(Err(refused)),
        }
    })
    .await
    .map_err(StoreError)?
}

/// Replaces the incident if it still has version `before`; whether it did.
fn replace_incident(conn: &Connection, incident: &Incident, before: u64) -> rusqlite::Result<bool> {
    let updated = conn.execute(
        "UPDATE incidents SET data = ?2 WHERE id = ?1 AND json_extract(data, '$.version') = ?3",
        params![incident.id.as_str(), to_json(incident)?, version(before)],
    )?;
    Ok(updated == 1)
}

fn get_ticket(conn: &Connection, id: &str) -> rusqlite::Result<Option<Ticket>> {
    one(conn, "SELECT data FROM tickets WHERE id = ?1", [id])
}

fn get_customer(conn: &Connection, id: &str) -> rusqlite::Result<Option<Customer>> {
    one(conn, "SELECT data FROM customers WHERE id = ?1", [id])
}

impl IngestStore for SqliteStore {
    async fn find_message(&self, dedupe_key: &str) -> Result<Option<MessageRef>, StoreError> {
        let key = dedupe_key.to_string();
        self.read(move |conn| {
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
                    .ok_or_else(|| StoreError(format!("bad message id {message_id:?}")))?,
                ticket_id: TicketId::parse(&ticket_id)
                    .ok_or_else(|| StoreError(format!("bad ticket id {ticket_id:?}")))?,
            })
        })
        .transpose()
    }

    async fn find_awaiting(&self, dedupe_key: &str) -> Result<Option<TicketId>, StoreError> {
        let key = dedupe_key.to_string();
        let found: Option<String> = self
            .read(move |conn| {
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
                TicketId::parse(&id).ok_or_else(|| StoreError(format!("bad ticket id {id:?}")))
            })
            .transpose()
    }

    async fn find_customer(&self, identity_key: &str) -> Result<Option<Customer>, StoreError> {
        let key = identity_key.to_string();
        self.read(move |conn| {
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
        self.read(move |conn| get_ticket(conn, &id)).await
    }

    async fn get_message(&self, dedupe_key: &str) -> Result<Option<Message>, StoreError> {
        let key = dedupe_key.to_string();
        self.read(move |conn| {
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
        let data = to_json(message).map_err(|e| StoreError(describe(e)))?;
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
fn apply(tx: &Transaction, change: &IngestChange) -> rusqlite::Result<Result<(), CommitError>> {
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

/// Inserts an event unless its id is recorded; returns the rows written (0 or 1).
fn insert_event(conn: &Connection, event: &TicketEvent) -> rusqlite::Result<usize> {
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

impl CustomerStore for SqliteStore {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| get_customer(conn, &id)).await
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
                let tx = conn.transaction().map_err(describe)?;
                let claimed = tx
                    .execute(
                        "INSERT INTO identities (key, customer_id) VALUES (?1, ?2)
                         ON CONFLICT (key) DO NOTHING",
                        params![key, customer.id.as_str()],
                    )
                    .map_err(describe)?;
                let updated = tx
                    .execute(
                        "UPDATE customers SET version = ?2, data = ?3 WHERE id = ?1 AND version = ?4",
                        params![
                            customer.id.as_str(),
                            version(customer.version),
                            to_json(&customer).map_err(describe)?,
                            version(version_before)
                        ],
                    )
                    .map_err(describe)?;
                if claimed == 0 || updated == 0 {
                    return Ok(Err(CommitError::Conflict));
                }
                tx.commit().map_err(describe)?;
                Ok(Ok(()))
            })
            .await
            .map_err(StoreError)?
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
            .read(move |conn| {
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

/// The sort key a newest-first page starts below.
fn before_cursor(query: &TicketQuery) -> String {
    // The sort keys are ASCII and start with a year; "~" sorts after every one of them.
    query
        .after
        .as_ref()
        .map(Cursor::sort_key)
        .unwrap_or_else(|| "~".to_string())
}

impl TemplateStore for SqliteStore {
    async fn create_template(&self, template: &Template) -> Result<(), CommitError> {
        let template = template.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO templates (id, data) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![template.id, to_json(&template)?],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_template(&self, id: &str) -> Result<Option<Template>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| one(conn, "SELECT data FROM templates WHERE id = ?1", [id]))
            .await
    }

    async fn put_template(&self, template: &Template) -> Result<(), StoreError> {
        let template = template.clone();
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO templates (id, data) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                params![template.id, to_json(&template)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn delete_template(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let deleted = self
            .read(move |conn| conn.execute("DELETE FROM templates WHERE id = ?1", [id]))
            .await?;
        Ok(deleted > 0)
    }

    async fn list_templates(&self) -> Result<Vec<Template>, StoreError> {
        self.read(|conn| all(conn, "SELECT data FROM templates ORDER BY id", []))
            .await
    }
}

impl TeamTurns for SqliteStore {
    async fn next_turn(&self, team: &str) -> Result<u64, StoreError> {
        let team = team.to_string();
        let turns: i64 = self
            .read(move |conn| {
                conn.query_row(
                    "INSERT INTO team_turns (team, turns) VALUES (?1, 1)
                     ON CONFLICT (team) DO UPDATE SET turns = turns + 1
                     RETURNING turns",
                    [team],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok((turns - 1).unsigned_abs())
    }
}

impl ApiKeyStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), CommitError> {
        let key = key.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO api_keys (id, created_at, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                    // nanoseconds: keys made in the same millisecond keep their order
                    params![
                        key.id,
                        key.created_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        to_json(&key)?
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| one(conn, "SELECT data FROM api_keys WHERE id = ?1", [id]))
            .await
    }

    async fn put_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.read(move |conn| {
            conn.execute(
                "UPDATE api_keys SET data = ?2 WHERE id = ?1",
                params![key.id, to_json(&key)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|conn| {
            all(
                conn,
                "SELECT data FROM api_keys ORDER BY created_at, id",
                [],
            )
        })
        .await
    }
}

impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, integration: &Integration) -> Result<(), CommitError> {
        let integration = integration.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO integrations (source, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source) DO NOTHING",
                    params![
                        integration.source,
                        version(integration.version),
                        to_json(&integration)?
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_integration(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        let source = source.to_string();
        self.read(move |conn| {
            one(
                conn,
                "SELECT data FROM integrations WHERE source = ?1",
                [source],
            )
        })
        .await
    }

    async fn replace_integration(
        &self,
        integration: &Integration,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let integration = integration.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "UPDATE integrations SET version = ?2, data = ?3
                     WHERE source = ?1 AND version = ?4",
                    params![
                        integration.source,
                        version(integration.version),
                        to_json(&integration)?,
                        version(version_before)
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        self.read(|conn| all(conn, "SELECT data FROM integrations ORDER BY source", []))
            .await
    }
}

impl SettingsStore for SqliteStore {
    async fn sla_policies(&self) -> Result<Policies, StoreError> {
        let stored: Option<Policies> = self
            .read(|conn| {
                one(
                    conn,
                    "SELECT data FROM settings WHERE name = 'sla_policies'",
                    [],
                )
            })
            .await?;
        Ok(stored.unwrap_or_default())
    }

    async fn put_sla_policies(&self, policies: &Policies) -> Result<(), StoreError> {
        let data = to_json(policies).map_err(|e| StoreError(describe(e)))?;
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO settings (name, data) VALUES ('sla_policies', ?1)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                [data],
            )
        })
        .await?;
        Ok(())
    }
}

impl TicketCommands for SqliteStore {
    async fn change_ticket(
        &self,
        ticket: &Ticket,
        version_before: u64,
        event: &TicketEvent,
    ) -> Result<(), CommitError> {
        let (ticket, event) = (ticket.clone(), event.clone());
        transaction(&self.db, move |tx| {
            if !update_ticket(tx, &ticket, version_before)? {
                return Ok(Err(CommitError::Conflict));
            }
            if insert_event(tx, &event)? == 0 {
                return Ok(Err(CommitError::Duplicate));
            }
            Ok(Ok(()))
        })
        .await
    }

    async fn update_ticket(&self, update: &TicketUpdate) -> Result<(), CommitError> {
        let update = update.clone();
        transaction(&self.db, move |tx| {
            for reply in &update.replies {
                if !insert_message(tx, reply)? {
                    return Ok(Err(CommitError::Duplicate));
                }
            }
            if !update_ticket(tx, &update.ticket, update.version_before)? {
                return Ok(Err(CommitError::Conflict));
            }
            for event in &update.events {
                if insert_event(tx, event)? == 0 {
                    return Ok(Err(CommitError::Conflict));
                }
            }
            add_samples(tx, &update.samples)?;
            Ok(Ok(()))
        })
        .await
    }

    async fn add_event(&self, event: &TicketEvent) -> Result<(), CommitError> {
        let event = event.clone();
        let written = self.read(move |conn| insert_event(conn, &event)).await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }
}

impl TicketReads for SqliteStore {
    async fn ticket_detail(&self, id: &TicketId) -> Result<Option<TicketDetail>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            let Some(ticket) = get_ticket(conn, &id)? else {
                return Ok(None);
            };
            let customer = get_customer(conn, ticket.customer_id.as_str())?;
            let messages = all(
                conn,
                "SELECT data FROM messages WHERE ticket_id = ?1 ORDER BY sort_key",
                [&id],
            )?;
            Ok(Some(TicketDetail {
                ticket,
                customer,
                messages,
            }))
        })
        .await
    }

    async fn ticket_messages(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let (id, after) = (id.to_string(), after.unwrap_or("").to_string());
        self.read(move |conn| {
            all(
                conn,
                "SELECT data FROM messages WHERE ticket_id = ?1 AND sort_key > ?2
                 ORDER BY sort_key LIMIT ?3",
                params![id, after, limit],
            )
        })
        .await
    }

    async fn ticket_events_page(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TicketEvent>, StoreError> {
        let (id, after) = (id.to_string(), after.unwrap_or("").to_string());
        self.read(move |conn| {
            all(
                conn,
                "SELECT data FROM ticket_events WHERE ticket_id = ?1 AND sort_key > ?2
                 ORDER BY sort_key LIMIT ?3",
                params![id, after, limit],
            )
        })
        .await
    }

    async fn ticket_events(&self, id: &TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            all(
                conn,
                "SELECT data FROM ticket_events WHERE ticket_id = ?1 ORDER BY sort_key",
                [id],
            )
        })
        .await
    }

    async fn list_tickets(&self, query: &TicketQuery) -> Result<Page<Ticket>, StoreError> {
        let status = query.status.map(|s| s.as_str().to_string());
        let owner = query.owner.clone();
        let before = before_cursor(query);
        let fetch = query.fetch_size();
        let tickets = self
            .read(move |conn| {
                // One statement per access path, so that each walks its own index.
                match (owner, status) {
                    (Some(owner), status) => all(
                        conn,
                        "SELECT data FROM tickets
                         WHERE json_extract(data, '$.owner') = ?1 AND sort_key < ?2
                           AND (?3 IS NULL OR status = ?3)
                         ORDER BY sort_key DESC LIMIT ?4",
                        params![owner, before, status, fetch],
                    ),
                    (None, Some(status)) => all(
                        conn,
                        "SELECT data FROM tickets WHERE status = ?1 AND sort_key < ?2
                         ORDER BY sort_key DESC LIMIT ?3",
                        params![status, before, fetch],
                    ),
                    (None, None) => all(
                        conn,
                        "SELECT data FROM tickets WHERE sort_key < ?1
                         ORDER BY sort_key DESC LIMIT ?2",
                        params![before, fetch],
                    ),
                }
            })
            .await?;
        Ok(query.page(tickets))
    }
}

impl ReminderStore for SqliteStore {
    async fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reminder>, StoreError> {
        let until = sortable_time(until);
        self.read(move |conn| {
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

impl MetricsStore for SqliteStore {
    async fn metric_rows(
        &self,
        account: &str,
        group_by: GroupBy,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, Counters)>, StoreError> {
        let args = (
            account.to_string(),
            group_by.as_str(),
            from.to_string(),
            to.to_string(),
        );
        self.read(move |conn| {
            let mut statement = conn.prepare(
                "SELECT grp, name, SUM(value) FROM metrics
                 WHERE account = ?1 AND group_by = ?2 AND day BETWEEN ?3 AND ?4
                 GROUP BY grp, name",
            )?;
            let mut groups: std::collections::BTreeMap<String, Counters> = Default::default();
            let rows = statement.query_map(params![args.0, args.1, args.2, args.3], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (group, name, value) = row?;
                groups.entry(group).or_default().insert(name, value);
            }
            Ok(groups.into_iter().collect())
        })
        .await
    }
}

impl IncidentStore for SqliteStore {
    async fn count_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[String],
        capacity: u32,
    ) -> Result<TopicCounts, StoreError> {
        let (account, window, terms) = (
            account.to_string(),
            sortable_time(window_start),
            terms.to_vec(),
        );
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(describe)?;
                // The message is counted in full while the window has room for it.
                let roomy = tx
                    .query_row(
                        "INSERT INTO topic_windows (account, window_start, messages)
                         VALUES (?1, ?2, 1)
                         ON CONFLICT (account, window_start) DO UPDATE
                            SET messages = messages + 1 WHERE messages < ?3
                         RETURNING messages",
                        params![account, window, capacity],
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                    .map_err(describe)?
                    .is_some();
                let mut counts = Vec::with_capacity(terms.len());
                for term in terms {
                    let sql = match roomy {
                        true => {
                            "INSERT INTO topic_counts (account, term, window_start, count)
                             VALUES (?1, ?2, ?3, 1)
                             ON CONFLICT (account, term, window_start) DO UPDATE SET count = count + 1
                             RETURNING count"
                        }
                        false => {
                            "UPDATE topic_counts SET count = count + 1
                             WHERE account = ?1 AND term = ?2 AND window_start = ?3
                             RETURNING count"
                        }
                    };
                    let count: Option<i64> = tx
                        .query_row(sql, params![account, term, window], |row| row.get(0))
                        .optional()
                        .map_err(describe)?;
                    counts.push((term, count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)));
                }
                tx.commit().map_err(describe)?;
                Ok(TopicCounts {
                    counts,
                    full: !roomy,
                })
            })
            .await
            .map_err(StoreError)
    }

    async fn topic_history(
        &self,
        account: &str,
        term: &str,
        windows: &[DateTime<Utc>],
    ) -> Result<Vec<u64>, StoreError> {
        let (account, term) = (account.to_string(), term.to_string());
        let windows: Vec<String> = windows.iter().map(|w| sortable_time(*w)).collect();
        self.read(move |conn| {
            let mut statement = conn.prepare(
                "SELECT count FROM topic_counts
                 WHERE account = ?1 AND term = ?2 AND window_start = ?3",
            )?;
            let mut counts = Vec::new();
            for window in windows {
                let count: Option<i64> = statement
                    .query_row(params![account, term, window], |row| row.get(0))
                    .optional()?;
                counts.extend(count.map(|c| u64::try_from(c).unwrap_or(0)));
            }
            Ok(counts)
        })
        .await
    }

    async fn open_incident(&self, incident: &Incident) -> Result<(), CommitError> {
        let incident = incident.clone();
        transaction(&self.db, move |tx| {
            let claimed = tx.execute(
                "INSERT INTO active_incidents (account, topic, incident_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account, topic) DO NOTHING",
                params![incident.account, incident.topic, incident.id.as_str()],
            )?;
            if claimed == 0 {
                return Ok(Err(CommitError::Duplicate));
            }
            tx.execute(
                "INSERT INTO incidents (id, data) VALUES (?1, ?2)",
                params![incident.id.as_str(), to_json(&incident)?],
            )?;
            Ok(Ok(()))
        })
        .await
    }

    async fn active_incidents(&self) -> Result<Vec<ActiveIncident>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT account, topic, incident_id FROM active_incidents ORDER BY incident_id",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            let mut active = Vec::new();
            for row in rows {
                let (account, topic, id) = row?;
                // Only ids this store wrote are here; a malformed one is skipped, not fatal.
                if let Some(id) = IncidentId::parse(&id) {
                    active.push(ActiveIncident { id, account, topic });
                }
            }
            Ok(active)
        })
        .await
    }

    async fn get_incident(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| one(conn, "SELECT data FROM incidents WHERE id = ?1", [id]))
            .await
    }

    async fn list_incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        self.read(move |conn| {
            all(
                conn,
                "SELECT data FROM incidents ORDER BY id DESC LIMIT ?1",
                [limit],
            )
        })
        .await
    }

    async fn incident_tickets(
        &self,
        id: &IncidentId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        let (id, before, fetch) = (id.to_string(), before_cursor(query), query.fetch_size());
        let tickets = self
            .read(move |conn| {
                all(
                    conn,
                    "SELECT data FROM tickets
                     WHERE json_extract(data, '$.incident_id') = ?1 AND sort_key < ?2
                     ORDER BY sort_key DESC LIMIT ?3",
                    params![id, before, fetch],
                )
            })
            .await?;
        Ok(query.page(tickets))
    }

    async fn put_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let incident = incident.clone();
        transaction(&self.db, move |tx| {
            Ok(match replace_incident(tx, &incident, version_before)? {
                true => Ok(()),
                false => Err(CommitError::Conflict),
            })
        })
        .await
    }

    async fn resolve_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let incident = incident.clone();
        transaction(&self.db, move |tx| {
            if !replace_incident(tx, &incident, version_before)? {
                return Ok(Err(CommitError::Conflict));
            }
            tx.execute(
                "DELETE FROM active_incidents WHERE incident_id = ?1",
                [incident.id.as_str()],
            )?;
            Ok(Ok(()))
        })
        .await
    }

    async fn create_update(&self, update: &IncidentUpdate) -> Result<(), CommitError> {
        let update = update.clone();
        transaction(&self.db, move |tx| {
            let inserted = tx.execute(
                "INSERT INTO incident_updates (incident_id, id, created_at, version, data)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![
                    update.incident_id.as_str(),
                    update.id.as_str(),
                    sortable_time(update.created_at),
                    version(update.version),
                    to_json(&update)?
                ],
            )?;
            Ok(match inserted {
                0 => Err(CommitError::Duplicate),
                _ => Ok(()),
            })
        })
        .await
    }

    async fn get_update(
        &self,
        incident: &IncidentId,
        id: &UpdateId,
    ) -> Result<Option<IncidentUpdate>, StoreError> {
        let (incident, id) = (incident.to_string(), id.to_string());
        self.read(move |conn| {
            one(
                conn,
                "SELECT data FROM incident_updates WHERE incident_id = ?1 AND id = ?2",
                [incident, id],
            )
        })
        .await
    }

    async fn put_update(
        &self,
        update: &IncidentUpdate,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let update = update.clone();
        transaction(&self.db, move |tx| {
            let updated = tx.execute(
                "UPDATE incident_updates SET version = ?3, data = ?4
                 WHERE incident_id = ?1 AND id = ?2 AND version = ?5",
                params![
                    update.incident_id.as_str(),
                    update.id.as_str(),
                    version(update.version),
                    to_json(&update)?,
                    version(version_before)
                ],
            )?;
            Ok(match updated {
                0 => Err(CommitError::Conflict),
                _ => Ok(()),
            })
        })
        .await
    }

    async fn incident_updates(
        &self,
        incident: &IncidentId,
    ) -> Result<Vec<IncidentUpdate>, StoreError> {
        let incident = incident.to_string();
        self.read(move |conn| {
            all(
                conn,
                "SELECT data FROM incident_updates WHERE incident_id = ?1
                 ORDER BY created_at, id",
                [incident],
            )
        })
        .await
    }

    async fn reserve_posts(
        &self,
        account: &str,
        slice_start: DateTime<Utc>,
        wanted: u32,
        allowance: u32,
    ) -> Result<u32, StoreError> {
        let account = account.to_string();
        let slice = sortable_time(slice_start);
        // Budgets of slices a day old are of no use to anyone.
        let stale = sortable_time(slice_start - chrono::Duration::days(1));
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let used: u32 = tx
                .query_row(
                    "SELECT used FROM post_budgets WHERE account = ?1 AND slice_start = ?2",
                    params![account, slice],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let granted = wanted.min(allowance.saturating_sub(used));
            if granted > 0 {
                tx.execute(
                    "INSERT INTO post_budgets (account, slice_start, used) VALUES (?1, ?2, ?3)
                     ON CONFLICT (account, slice_start) DO UPDATE SET used = used + ?3",
                    params![account, slice, granted],
                )?;
            }
            tx.execute(
                "DELETE FROM post_budgets WHERE account = ?1 AND slice_start < ?2",
                params![account, stale],
            )?;
            tx.commit()?;
            Ok(granted)
        })
        .await
    }
}
