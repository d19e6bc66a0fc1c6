//! The ingest consumer: queued events become messages on tickets.
//!
//! A batch comes from the inbound FIFO queue. Groups (customers) are handled concurrently,
//! the messages of one group in order; when one fails, the rest of its group is reported as
//! failed too, so that the queue redelivers them in order.

use crate::configuration::ConfigurationCache;
use crate::listening::Lookup;
use crate::metrics;
use crate::outbox::Outbox;
use crate::queues::batch_response;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::join_all;
use socialcare_domain::incidents::{self, Watched};
use socialcare_domain::ingest::{
    ChangeOutcome, IngestDeps, IngestOutcome, Ingested, apply_change, ingest_message,
};
use socialcare_domain::listening::{Recovered, fetch_awaited};
use socialcare_domain::mail_feedback::{FeedbackOutcome, apply_feedback};
use socialcare_domain::message::NormalizedMessage;
use socialcare_domain::ports::{Queue, QueueError, StoreError};
use socialcare_domain::replies::OutboxJob;
use socialcare_domain::threading::Rules;
use socialcare_domain::{QueuedEvent, Ticket};
use socialcare_platforms::XListener;
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;

/// One message of a batch, whichever queue it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub message_id: String,
    pub group_id: Option<String>,
    pub body: String,
}

/// Ingests a batch; returns the ids of the messages that must be delivered again. With a
/// `lookup`, a reply to a post no platform pushed fetches that post.
pub async fn ingest_batch<S: IngestDeps>(
    store: &S,
    rules: &Rules,
    outbox: Option<&Outbox>,
    lookup: Option<&Lookup>,
    records: Vec<QueueRecord>,
) -> Vec<String> {
    // An empty receive (the local consumer's long poll timing out) reads nothing.
    if records.is_empty() {
        return Vec::new();
    }
    // The service levels and the active incidents are read once per batch: a change reaches
    // the next batch (an incident opened meanwhile is found when a complaint counts towards it).
    let read = futures::future::try_join(store.sla_policies(), store.active_incidents()).await;
    let rules = match read {
        Ok((policies, incidents)) => Rules {
            policies,
            incidents,
            ..rules.clone()
        },
        Err(e) => {
            tracing::error!(error = %e, "could not read the service levels or incidents; the batch comes again");
            return records.into_iter().map(|r| r.message_id).collect();
        }
    };
    let rules = &rules;
    let mut groups: BTreeMap<Option<String>, Vec<QueueRecord>> = BTreeMap::new();
    for record in records {
        groups
            .entry(record.group_id.clone())
            .or_default()
            .push(record);
    }
    let per_group = groups.into_values().map(|records| async move {
        let mut failed = Vec::new();
        let mut opened = Vec::new();
        for record in records {
            // Every line logged for this message carries its queue message id.
            let span = tracing::info_span!("ingest", queue_message_id = %record.message_id);
            let ingested = async {
                if !failed.is_empty() {
                    return false;
                }
                match ingest_one(store, rules, (outbox, lookup), &record).await {
                    Ok(new_ticket) => {
                        opened.extend(new_ticket);
                        true
                    }
                    Err(()) => false,
                }
            };
            if !ingested.instrument(span).await {
                failed.push(record.message_id);
            }
        }
        (failed, opened)
    });
    let (failed, opened): (Vec<_>, Vec<_>) = join_all(per_group).await.into_iter().unzip();
    // The batch's new tickets count towards spikes together: one write per account and window.
    // A failure is logged, not retried: the tickets are stored, and the next complaints on
    // the topic count and check again.
    let opened: Vec<Ticket> = opened.into_iter().flatten().collect();
    if !opened.is_empty() {
        let mut active = rules.incidents.clone();
        let watched = incidents::watch_all(store, &opened, &rules.spikes, &mut active).await;
        for (ticket, watched) in opened.iter().zip(watched) {
            report_spikes(ticket, watched);
        }
    }
    failed.into_iter().flatten().collect()
}

/// Ingests one queued event; the ticket it opened, if any, for the batch to count towards
/// spikes.
async fn ingest_one<S: IngestDeps>(
    store: &S,
    rules: &Rules,
    (outbox, lookup): (Option<&Outbox>, Option<&Lookup>),
    record: &QueueRecord,
) -> Result<Option<Ticket>, ()> {
    let queue_message_id = record.message_id.as_str();
    let event: QueuedEvent = serde_json::from_str(&record.body).map_err(|e| {
        tracing::error!(queue_message_id, error = %e, "unreadable queue message");
    })?;
    match event {
        QueuedEvent::Message(event) => match ingest_message(store, &event, rules).await {
            Ok(Ingested {
                outcome,
                jobs,
                awaits,
                merged,
            }) => {
                for done in &merged {
                    tracing::info!(queue_message_id, customer_id = %done.merge.customer_id, into = %done.merge.into,
                        tickets = done.merge.tickets, "merged: both write from one verified address");
                }
                let (what, ticket_id, message_id, opened) = match outcome {
                    IngestOutcome::Opened {
                        ticket_id,
                        message_id,
                        samples,
                        ticket,
                    } => {
                        metrics::report(&samples);
                        ("opened", ticket_id, message_id, Some(*ticket))
                    }
                    IngestOutcome::Joined {
                        ticket_id,
                        message_id,
                        samples,
                    } => {
                        metrics::report(&samples);
                        ("joined", ticket_id, message_id, None)
                    }
                    IngestOutcome::Duplicate {
                        ticket_id,
                        message_id,
                    } => ("duplicate", ticket_id, message_id, None),
                };
                tracing::info!(queue_message_id, %ticket_id, %message_id, outcome = what, "ingested");
                queue_jobs(outbox, &jobs).await?;
                let now = chrono::Utc::now();
                if let (Some(parent), Some(lookup)) = (awaits, lookup)
                    && event.message.source == socialcare_domain::Source::X
                    && !lookup.resting(now)
                    && let Some(listener) = lookup.get().await
                {
                    recover(store, (lookup, listener), rules, &event.message, &parent).await;
                }
                Ok(opened)
            }
            Err(e) => {
                tracing::error!(queue_message_id, error = %e, "ingest failed");
                Err(())
            }
        },
        QueuedEvent::Change(event) => match apply_change(store, &event.change).await {
            Ok(ChangeOutcome::Applied {
                ticket_id,
                message_id,
            }) => {
                tracing::info!(queue_message_id, %ticket_id, %message_id, outcome = "changed", "ingested");
                Ok(None)
            }
            Ok(outcome) => {
                tracing::info!(queue_message_id, outcome = ?outcome, external_id = %event.change.external_id, "change not applied");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(queue_message_id, error = %e, "change failed");
                Err(())
            }
        },
        QueuedEvent::Feedback(event) => match apply_feedback(store, &event).await {
            Ok(FeedbackOutcome::Marked {
                ticket_id,
                message_id,
                address,
            }) => {
                tracing::warn!(queue_message_id, %ticket_id, %message_id, %address,
                    kind = event.feedback.kind.as_str(), detail = %event.feedback.detail, "reply bounced or reported: address marked");
                Ok(None)
            }
            Ok(FeedbackOutcome::NotOurs) => {
                tracing::warn!(queue_message_id, mailbox = %event.feedback.mailbox, about = %event.feedback.message_id,
                    "a report about no reply the mailbox sent: not believed");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(queue_message_id, error = %e, "report failed");
                Err(())
            }
        },
    }
}

/// Fetches the post a stored X reply answers, which no webhook delivered (the Graph API pushes
/// every comment of a page). What X cannot be asked now is logged and left, and the lookup
/// rests a while: the ticket stays as the brand opened it (no response time) rather than
/// holding up its customer's next messages behind retries.
async fn recover<S: IngestDeps>(
    store: &S,
    (lookup, listener): (&Lookup, &XListener),
    rules: &Rules,
    message: &NormalizedMessage,
    parent: &str,
) {
    let external_id = message.external_id.as_str();
    let now = chrono::Utc::now();
    match fetch_awaited(store, listener, rules, message, parent, now).await {
        Ok(Recovered::Stored(stored)) => {
            for ingested in &stored {
                if let IngestOutcome::Opened { samples, .. }
                | IngestOutcome::Joined { samples, .. } = &ingested.outcome
                {
                    metrics::report(samples);
                }
            }
            tracing::info!(
                external_id,
                parent,
                fetched = stored.len(),
                "fetched the posts it answers"
            );
        }
        Ok(Recovered::NotTheCustomers) => {
            tracing::info!(external_id, parent, "what it answers is not the customer's")
        }
        Ok(Recovered::Unknown { reason }) => {
            tracing::warn!(external_id, parent, %reason, "the post it answers could not be fetched");
            metrics::count_total("OpeningUnknown", 1);
        }
        Err(e) => {
            tracing::warn!(external_id, parent, error = %e, "could not fetch the post it answers");
            metrics::count_total("OpeningFetchFailed", 1);
            if let socialcare_domain::listening::RecoverError::Platform(error) = &e {
                lookup.rest_after(error, now);
            }
        }
    }
}

/// Logs what counting a new complaint towards spikes found. A failure is logged, not retried:
/// the ticket is stored, and the next complaint on the topic counts and checks again.
fn report_spikes(ticket: &Ticket, watched: Result<Watched, StoreError>) {
    match watched {
        Ok(Watched::Counted { window_full }) => {
            if window_full {
                // Spike detection no longer hears new words on this account until the window
                // turns: an alarm, not a log line.
                tracing::warn!(ticket_id = %ticket.id, account = %ticket.account, "topic window full");
                metrics::count_total("TopicsRecordFull", 1);
            }
        }
        Ok(Watched::Attached(incident_id)) => {
            tracing::info!(ticket_id = %ticket.id, %incident_id, "attached to incident");
        }
        Ok(Watched::Opened(incident, attached)) => {
            tracing::warn!(incident_id = %incident.id, account = %incident.account, topic = %incident.topic,
                count = incident.spike.count, baseline = incident.spike.baseline, attached, "incident opened");
            metrics::count("IncidentsOpened", 1, &incident.account);
        }
        Err(e) => {
            tracing::error!(ticket_id = %ticket.id, error = %e, "could not count the complaint for spikes")
        }
    }
}

/// Queues what ingest left to queue (the acknowledgement); with no outbox, it stays pending.
async fn queue_jobs(outbox: Option<&Outbox>, jobs: &[OutboxJob]) -> Result<(), ()> {
    let Some(outbox) = outbox else {
        return Ok(());
    };
    for job in jobs {
        outbox.enqueue(job).await.map_err(|e| {
            tracing::error!(error = %e, message_id = %job.message_id, "could not queue the acknowledgement");
        })?;
    }
    Ok(())
}

/// The Lambda entry: an SQS event in, the partial batch failures out.
pub async fn handle_sqs_event<S: IngestDeps>(
    store: &S,
    rules: &Rules,
    outbox: Option<&Outbox>,
    lookup: Option<&Lookup>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let records = event
        .records
        .into_iter()
        .map(|message| QueueRecord {
            message_id: message.message_id.unwrap_or_default(),
            group_id: message.attributes.get("MessageGroupId").cloned(),
            body: message.body.unwrap_or_default(),
        })
        .collect();
    batch_response(ingest_batch(store, rules, outbox, lookup, records).await)
}

/// The local runner's stand-in for the Lambda event source mapping: receive a batch, ingest
/// it, delete what succeeded, and hide what failed for a while; after the queue's maximum
/// receive count a failing message goes to the dead-letter queue.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// How long a receive waits for the first message.
    pub wait: Duration,
    /// How long a failed message stays hidden after its first failure; doubles each time.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// The accounts' threading and ownership rules in force.
    pub configuration: ConfigurationCache,
    /// Where acknowledgements are queued (none: they stay pending).
    pub outbox: Option<Outbox>,
    /// Fetches the posts replies answer that no platform pushed (none: they stay unknown).
    pub lookup: Option<std::sync::Arc<Lookup>>,
}

impl Default for Consumer {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(1),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            configuration: ConfigurationCache::default(),
            outbox: None,
            lookup: None,
        }
    }
}

impl Consumer {
    fn retry_after(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(16);
        (self.first_retry * (1u32 << doublings)).min(self.max_retry)
    }

    /// One receive-ingest-acknowledge round; returns how many messages it received.
    pub async fn once<Q: Queue, S: IngestDeps>(
        &self,
        queue: &Q,
        store: &S,
    ) -> Result<usize, QueueError> {
        let deliveries = queue.receive(10, self.wait).await?;
        let records = deliveries
            .iter()
            .map(|delivery| QueueRecord {
                message_id: delivery.message_id.clone(),
                group_id: delivery.group_id.clone(),
                body: delivery.body.clone(),
            })
            .collect();
        let configuration = self.configuration.current().await;
        let failed = ingest_batch(
            store,
            &configuration.rules,
            self.outbox.as_ref(),
            self.lookup.as_deref(),
            records,
        )
        .await;
        let mut ingested = Vec::new();
        for delivery in &deliveries {
            if failed.contains(&delivery.message_id) {
                let hidden_for = self.retry_after(delivery.receive_count);
                queue
                    .change_visibility(&delivery.receipt, hidden_for)
                    .await?;
            } else {
                ingested.push(delivery.receipt.clone());
            }
        }
        queue.delete_all(ingested).await?;
        Ok(deliveries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let consumer = Consumer::default();
        let waits: Vec<u64> = (1..=8).map(|n| consumer.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(consumer.retry_after(u32::MAX), Duration::from_secs(60));
    }
}
