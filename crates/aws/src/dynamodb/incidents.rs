//! IncidentStore: topic counts per window (spikes), incidents and their markers, incident
//! updates, and the post allowance.

use super::items::{from_item, to_item};
use super::keys::{ACTIVE_INCIDENTS, COUNTS_SK, INCIDENTS, incident_pk, topics_pk, updates_pk};
use super::tickets::TicketIndex;
use super::{DynamoStore, Item, failed, put_new, put_versioned, s};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use socialcare_domain::incidents::{ActiveIncident, Incident, TopicCounts};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{CommitError, IncidentStore, StoreError};
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{IncidentId, Page, Ticket, TicketQuery, UpdateId};
use std::collections::HashMap;

impl IncidentStore for DynamoStore {
    async fn count_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[String],
        capacity: u32,
    ) -> Result<TopicCounts, StoreError> {
        if terms.is_empty() {
            return Ok(TopicCounts {
                counts: Vec::new(),
                full: false,
            });
        }
        // One item per account and window, one number per term: a single UpdateItem adds one
        // to every term of the message (and to the window's message count, while it is under
        // its capacity, which bounds the item's size) and returns the counts after.
        let names: Vec<(String, String)> = terms
            .iter()
            .enumerate()
            .map(|(i, term)| (format!("#t{i}"), term_attribute(term)))
            .collect();
        let adds: Vec<String> = names
            .iter()
            .map(|(name, _)| format!("{name} :one"))
            .collect();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(topics_pk(account, window_start)))
            .key("sk", s(COUNTS_SK))
            .set_expression_attribute_names(Some(names.iter().cloned().collect()))
            .expression_attribute_names("#m", WINDOW_MESSAGES)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":capacity", AttributeValue::N(capacity.to_string()))
            .condition_expression("attribute_not_exists(#m) OR #m < :capacity")
            .update_expression(format!("ADD #m :one, {}", adds.join(", ")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        let after = match update.send().await {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let counts = self
                    .count_known_topics(account, window_start, &names)
                    .await?;
                return Ok(TopicCounts {
                    counts: terms.iter().cloned().zip(counts).collect(),
                    full: true,
                });
            }
            Err(e) => return Err(failed("count topics", e)),
        };
        Ok(TopicCounts {
            counts: terms
                .iter()
                .map(|term| (term.clone(), number(after.get(&term_attribute(term)))))
                .collect(),
            full: false,
        })
    }

    async fn topic_history(
        &self,
        account: &str,
        term: &str,
        windows: &[DateTime<Utc>],
    ) -> Result<Vec<u64>, StoreError> {
        // Each window is its own item (so a burst's hot counter stays off the others); the
        // baseline reads the one attribute of each.
        let mut counts = Vec::new();
        let keys: Vec<Item> = windows
            .iter()
            .map(|window| {
                HashMap::from([
                    ("pk".to_string(), s(topics_pk(account, *window))),
                    ("sk".to_string(), s(COUNTS_SK)),
                ])
            })
            .collect();
        for chunk in keys.chunks(100) {
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .projection_expression("#t")
                .expression_attribute_names("#t", term_attribute(term))
                .build()
                .map_err(|e| StoreError::invalid(e.to_string()))?;
            let mut pending = Some(HashMap::from([(self.table.clone(), request)]));
            while let Some(items) = pending.take().filter(|p| !p.is_empty()) {
                let output = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(|e| failed("read topic history", e))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(AttributeValue::N(n)) = item.get(&term_attribute(term)) {
                        counts.push(n.parse().unwrap_or(0));
                    }
                }
                pending = output.unprocessed_keys;
            }
        }
        Ok(counts)
    }

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

    async fn incident_tickets(
        &self,
        id: &IncidentId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        self.query_tickets(TicketIndex::Incident, incident_pk(id), query)
            .await
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

    async fn reserve_posts(
        &self,
        account: &str,
        slice_start: DateTime<Utc>,
        wanted: u32,
        allowance: u32,
    ) -> Result<u32, StoreError> {
        let (pk, sk) = (format!("POSTS#{account}"), sortable_time(slice_start));
        // Gone a day after its slice, by the table's TTL.
        let expires = (slice_start + chrono::Duration::days(1)).timestamp();
        let mut asked = wanted.min(allowance);
        // Add what is asked unless it would pass the allowance; when it would, read what is
        // left and ask for that.
        for _ in 0..3 {
            if asked == 0 {
                return Ok(0);
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .update_expression("ADD used :asked SET expires_at = :expires")
                .condition_expression("attribute_not_exists(used) OR used <= :most")
                .expression_attribute_values(":asked", AttributeValue::N(asked.to_string()))
                .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
                .expression_attribute_values(
                    ":most",
                    AttributeValue::N((allowance - asked).to_string()),
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(asked),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(failed("reserve posts", e)),
            }
            let used = self
                .get(pk.clone(), &sk)
                .await?
                .and_then(|item| match item.get("used") {
                    Some(AttributeValue::N(n)) => n.parse::<u32>().ok(),
                    _ => None,
                })
                .unwrap_or(0);
            asked = wanted.min(allowance.saturating_sub(used));
        }
        // Others keep taking it: leave it to them this slice.
        Ok(0)
    }
}

impl DynamoStore {
    /// A full window's counts: adds one to the terms it already has (no attribute is added, so
    /// the item does not grow) and 0 for the others. Terms are never removed from a window, so
    /// the ones read are still there when the update runs.
    async fn count_known_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        names: &[(String, String)],
    ) -> Result<Vec<u64>, StoreError> {
        let key = || {
            HashMap::from([
                ("pk".to_string(), s(topics_pk(account, window_start))),
                ("sk".to_string(), s(COUNTS_SK)),
            ])
        };
        let projection: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        let known = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            // Terms added a moment ago by another worker must be seen.
            .consistent_read(true)
            .set_expression_attribute_names(Some(names.iter().cloned().collect()))
            .projection_expression(projection.join(", "))
            .send()
            .await
            .map_err(|e| failed("read full topic window", e))?
            .item
            .unwrap_or_default();
        let present: Vec<&(String, String)> = names
            .iter()
            .filter(|(_, attribute)| known.contains_key(attribute))
            .collect();
        if present.is_empty() {
            return Ok(vec![0; names.len()]);
        }
        let adds: Vec<String> = present
            .iter()
            .map(|(name, _)| format!("{name} :one"))
            .collect();
        let after = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .set_expression_attribute_names(Some(present.iter().map(|n| (*n).clone()).collect()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .update_expression(format!("ADD {}", adds.join(", ")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| failed("count topics in a full window", e))?
            .attributes
            .unwrap_or_default();
        Ok(names
            .iter()
            .map(|(_, attribute)| number(after.get(attribute)))
            .collect())
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

/// Terms are attribute names on the counts item, apart from its keys.
/// The attribute of a window's topic record that counts its messages.
const WINDOW_MESSAGES: &str = "messages";

/// A number attribute's value; 0 when absent or not a number.
fn number(value: Option<&AttributeValue>) -> u64 {
    match value {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn term_attribute(term: &str) -> String {
    format!("t_{term}")
}
