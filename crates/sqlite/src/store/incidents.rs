//! IncidentStore: topic counts per window (spikes), incidents and their markers, incident
//! updates, and the post allowance.

use super::items::{all, one, to_json, version};
use super::tickets::before_cursor;
use super::{SqliteStore, transaction};
use crate::database::describe;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use socialcare_domain::incidents::{ActiveIncident, Incident, TopicCounts};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{CommitError, IncidentStore, StoreError};
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{IncidentId, Page, Ticket, TicketQuery, UpdateId};

/// Replaces the incident if it still has version `before`; whether it did.
fn replace_incident(conn: &Connection, incident: &Incident, before: u64) -> rusqlite::Result<bool> {
    let updated = conn.execute(
        "UPDATE incidents SET data = ?2 WHERE id = ?1 AND json_extract(data, '$.version') = ?3",
        params![incident.id.as_str(), to_json(incident)?, version(before)],
    )?;
    Ok(updated == 1)
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
            .map_err(StoreError::unavailable)
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
