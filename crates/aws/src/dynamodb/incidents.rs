//! IncidentRecords: incidents, their active markers and their tickets.

use super::items::{from_item, to_item};
use super::keys::{ACTIVE_INCIDENTS, INCIDENTS, incident_pk};
use super::tickets::TicketIndex;
use super::{DynamoStore, Item, failed, put_new, put_versioned, s};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use socialcare_domain::incidents::{ActiveIncident, Incident};
use socialcare_domain::ports::{
    CommitError, IncidentRecords, IncidentResolution, IncidentTickets, StoreError,
};
use socialcare_domain::{IncidentId, Page, Ticket, TicketQuery};
use std::collections::HashMap;

impl IncidentRecords for DynamoStore {
    async fn open_incident(&self, incident: &Incident) -> Result<(), CommitError> {
        let mut marker: Item = HashMap::new();
        marker.insert("pk".into(), s(ACTIVE_INCIDENTS));
        marker.insert(
            "sk".into(),
            s(format!("{}#{}", incident.account, incident.topic)),
        );
        marker.insert("incident_id".into(), s(incident.id.as_str()));
        marker.insert("account".into(), s(incident.account.clone()));
        marker.insert("topic".into(), s(incident.topic.clone()));
        let record = to_item(
            incident,
            [("pk", INCIDENTS.into()), ("sk", incident.id.to_string())],
        )?;
        let writes = vec![put_new(&self.table, marker)?, put_new(&self.table, record)?];
        self.transact(writes, "open incident").await
    }

    async fn active_incidents(&self) -> Result<Vec<ActiveIncident>, StoreError> {
        let mut active = Vec::new();
        for item in self
            .partition(ACTIVE_INCIDENTS.into(), "query active incidents")
            .await?
        {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(v)) => Some(v.clone()),
                _ => None,
            };
            if let (Some(id), Some(account), Some(topic)) =
                (text("incident_id"), text("account"), text("topic"))
                && let Some(id) = IncidentId::parse(&id)
            {
                active.push(ActiveIncident { id, account, topic });
            }
        }
        active.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(active)
    }

    async fn get_incident(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(INCIDENTS))
            .key("sk", s(id.as_str()))
            .send()
            .await
            .map_err(|e| failed("get incident", e))?;
        output.item.map(from_item).transpose()
    }

    async fn list_incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(INCIDENTS))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| failed("list incidents", e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn put_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let record = to_item(
            incident,
            [("pk", INCIDENTS.into()), ("sk", incident.id.to_string())],
        )?;
        let writes = vec![put_versioned(&self.table, record, version_before)?];
        self.transact(writes, "put incident").await
    }
}

impl IncidentTickets for DynamoStore {
    async fn incident_tickets(
        &self,
        id: &IncidentId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        self.query_tickets(TicketIndex::Incident, incident_pk(id), query)
            .await
    }
}

impl IncidentResolution for DynamoStore {
    async fn resolve_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let record = to_item(
            incident,
            [("pk", INCIDENTS.into()), ("sk", incident.id.to_string())],
        )?;
        let marker = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .key("pk", s(ACTIVE_INCIDENTS))
            .key("sk", s(format!("{}#{}", incident.account, incident.topic)))
            // Only this incident's marker: a later incident on the topic keeps its own.
            .condition_expression("attribute_not_exists(pk) OR incident_id = :id")
            .expression_attribute_values(":id", s(incident.id.as_str()))
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let writes = vec![
            put_versioned(&self.table, record, version_before)?,
            TransactWriteItem::builder().delete(marker).build(),
        ];
        self.transact(writes, "resolve incident").await
    }
}
