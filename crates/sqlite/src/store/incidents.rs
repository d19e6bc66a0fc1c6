//! IncidentRecords: incidents, their active markers and their tickets.

use super::items::{all, one, to_json, version};
use super::tickets::before_cursor;
use super::{SqliteStore, transaction};
use rusqlite::{Connection, params};
use socialcare_domain::incidents::{ActiveIncident, Incident};
use socialcare_domain::ports::{
    CommitError, IncidentRecords, IncidentResolution, IncidentTickets, StoreError,
};
use socialcare_domain::{IncidentId, Page, Ticket, TicketQuery};

/// Replaces the incident if it still has version `before`; whether it did.
fn replace_incident(conn: &Connection, incident: &Incident, before: u64) -> rusqlite::Result<bool> {
    let updated = conn.execute(
        "UPDATE incidents SET data = ?2 WHERE id = ?1 AND json_extract(data, '$.version') = ?3",
        params![incident.id.as_str(), to_json(incident)?, version(before)],
    )?;
    Ok(updated == 1)
}

impl IncidentRecords for SqliteStore {
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
        self.query(|conn| {
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
        self.query(move |conn| one(conn, "SELECT data FROM incidents WHERE id = ?1", [id]))
            .await
    }

    async fn list_incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM incidents ORDER BY id DESC LIMIT ?1",
                [limit],
            )
        })
        .await
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
}

impl IncidentTickets for SqliteStore {
    async fn incident_tickets(
        &self,
        id: &IncidentId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        let (id, before, fetch) = (id.to_string(), before_cursor(query), query.fetch_size());
        let tickets = self
            .query(move |conn| {
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
}

impl IncidentResolution for SqliteStore {
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
}
