//! IncidentUpdateStore: the status updates of an incident, in its own partition.

use super::items::{from_item, to_item};
use super::keys::updates_pk;
use super::{DynamoStore, Item, put_versioned};
use socialcare_domain::ports::{CommitError, IncidentUpdateStore, StoreError};
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{IncidentId, UpdateId};

impl IncidentUpdateStore for DynamoStore {
    async fn create_update(&self, update: &IncidentUpdate) -> Result<(), CommitError> {
        self.put_new_item(update_item(update)?, "create incident update")
            .await
    }

    async fn get_update(
        &self,
        incident: &IncidentId,
        id: &UpdateId,
    ) -> Result<Option<IncidentUpdate>, StoreError> {
        self.get(updates_pk(incident), id.as_str())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_update(
        &self,
        update: &IncidentUpdate,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let writes = vec![put_versioned(
            &self.table,
            update_item(update)?,
            version_before,
        )?];
        self.transact(writes, "put incident update").await
    }

    async fn incident_updates(
        &self,
        incident: &IncidentId,
    ) -> Result<Vec<IncidentUpdate>, StoreError> {
        let mut updates: Vec<IncidentUpdate> = self
            .partition(updates_pk(incident), "query incident updates")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        updates.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(updates)
    }
}

fn update_item(update: &IncidentUpdate) -> Result<Item, StoreError> {
    to_item(
        update,
        [
            ("pk", updates_pk(&update.incident_id)),
            ("sk", update.id.to_string()),
        ],
    )
}
