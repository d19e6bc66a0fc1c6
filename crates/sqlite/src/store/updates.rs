//! IncidentUpdateStore: the status updates of an incident.

use super::items::{all, one, to_json, version};
use super::{SqliteStore, transaction};
use rusqlite::params;
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{CommitError, IncidentUpdateStore, StoreError};
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{IncidentId, UpdateId};

impl IncidentUpdateStore for SqliteStore {
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
        self.query(move |conn| {
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
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM incident_updates WHERE incident_id = ?1
                 ORDER BY created_at, id",
                [incident],
            )
        })
        .await
    }
}
