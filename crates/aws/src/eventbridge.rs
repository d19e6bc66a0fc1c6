//! The EventBridge bus the events go out on: source `socialcare`, detail-type the event's type,
//! the whole event as the detail.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::ports::StoreError;

/// Entries per PutEvents request (EventBridge's limit).
const MOST_ENTRIES: usize = 10;
/// Rounds of sending again the entries EventBridge did not take.
const ROUNDS: u32 = 4;

#[derive(Clone)]
pub struct EventBus {
    client: Client,
    name: String,
}

impl EventBus {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// Puts every event on the bus, ten a request, sending again those it did not take (a
    /// throttle, an internal failure); an error when some are still refused. Each event's id
    /// is in its detail: what is put again after an error is the same event to a consumer.
    pub async fn publish(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        for chunk in events.chunks(MOST_ENTRIES) {
            let mut entries = chunk
                .iter()
                .map(|event| self.entry(event))
                .collect::<Result<Vec<_>, _>>()?;
            for round in 0..ROUNDS {
                let output = self
                    .client
                    .put_events()
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        StoreError::unavailable(format!(
                            "put events: {}",
                            aws_sdk_eventbridge::error::DisplayErrorContext(e)
                        ))
                    })?;
                if output.failed_entry_count == 0 {
                    break;
                }
                // The results are in the entries' order; a failed one has an error code.
                let failed: Vec<_> = output
                    .entries()
                    .iter()
                    .zip(entries)
                    .filter(|(result, _)| result.error_code().is_some())
                    .collect();
                let reason = failed
                    .first()
                    .and_then(|(result, _)| result.error_message().map(str::to_string))
                    .unwrap_or_default();
                entries = failed.into_iter().map(|(_, entry)| entry).collect();
                if round + 1 == ROUNDS {
                    return Err(StoreError::unavailable(format!(
                        "EventBridge refused {} events: {reason}",
                        entries.len()
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(100 << round)).await;
            }
        }
        Ok(())
    }

    fn entry(&self, event: &DomainEvent) -> Result<PutEventsRequestEntry, StoreError> {
        let detail =
            serde_json::to_string(event).map_err(|e| StoreError::invalid(e.to_string()))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source("socialcare")
            .detail_type(event.body.kind())
            .detail(detail)
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                event.created_at.timestamp_millis(),
            ))
            .build())
    }
}
