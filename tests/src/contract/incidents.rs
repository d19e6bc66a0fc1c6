//! Spikes and incidents through the store (SQLite and DynamoDB): complaints counted per topic
//! and window, one incident for an outage, the right tickets attached and no others, triage
//! of praise and noise, all through the ingest worker's batches as the queues deliver them.

use crate::events::x_mention;
use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_domain::incidents::IncidentStatus;
use socialcare_domain::ingest::QueuedEvent;
use socialcare_domain::ports::TicketStore as Store;
use socialcare_domain::threading::Rules;
use socialcare_domain::triage::Intent;
use socialcare_domain::{EventKind, Priority, Ticket, TicketId, TicketQuery, TicketStatus};
use std::collections::BTreeSet;

const ACCOUNT: &str = "1100000000000000001";

/// Friday 20 November 2026, 12:00 UTC: the outage starts.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// Ingests the messages as the inbound queue hands them over: batches of ten, one message group
/// per customer.
async fn deliver<S: Store>(store: &S, messages: &[(String, String, String, DateTime<Utc>)]) {
    for batch in messages.chunks(10) {
        let records = batch
            .iter()
            .map(|(id, customer, text, at)| QueueRecord {
                message_id: format!("q-{id}"),
                group_id: Some(customer.clone()),
                body: serde_json::to_string(&QueuedEvent::Message(x_mention(
                    id, customer, text, *at,
                )))
                .unwrap(),
            })
            .collect();
        let failed = ingest_batch(store, &rules(), None, records).await;
        assert_eq!(failed, Vec::<String>::new());
    }
}

/// The default spike rules but a floor of 10, so the case stays short on the emulator.
fn rules() -> Rules {
    let mut rules = Rules::default();
    rules.spikes.default.floor = 10;
    rules
}

fn message(id: String, text: &str, at: DateTime<Utc>) -> (String, String, String, DateTime<Utc>) {
    (id.clone(), format!("c-{id}"), text.to_string(), at)
}

const OUTAGE: [&str; 4] = [
    "@acme_care internet down again, nothing loads",
    "@acme_care is there an outage? no internet since noon",
    "@acme_care my internet stopped working 10 minutes ago",
    "@acme_care internet gone in the whole street, any news?",
];

const UNRELATED: [&str; 5] = [
    "@acme_care my bill looks wrong this month",
    "@acme_care the parcel with my router never arrived",
    "@acme_care how do I change my password?",
    "@acme_care the engineer missed the appointment today",
    "@acme_care why was I charged a late fee?",
];

async fn all_tickets<S: Store>(store: &S) -> Vec<Ticket> {
    crate::every_ticket(TicketQuery::MAX_LIMIT, |query| async move {
        store.list_tickets(&query).await.unwrap()
    })
    .await
}

pub async fn an_outage_opens_one_incident_with_exactly_its_complaints<S: Store>(store: &S) {
    // Two quiet hours before: unrelated complaints, and a few about the internet (its baseline).
    let mut quiet = Vec::new();
    for i in 0..12 {
        let at = noon() - Duration::minutes(120) + Duration::minutes(10 * i);
        let text = match i % 4 {
            0 => "@acme_care internet slow tonight",
            _ => UNRELATED[i as usize % UNRELATED.len()],
        };
        quiet.push(message(format!("quiet-{i}"), text, at));
    }
    deliver(store, &quiet).await;
    // Then 30 outage complaints and 20 unrelated ones within nine minutes, interleaved.
    let mut burst = Vec::new();
    for i in 0..50i64 {
        let at = noon() + Duration::seconds(10 * i);
        let text = match i % 5 {
            0 | 3 => UNRELATED[(i as usize / 5) % UNRELATED.len()],
            _ => OUTAGE[i as usize % OUTAGE.len()],
        };
        burst.push(message(format!("burst-{i}"), text, at));
    }
    deliver(store, &burst).await;
    // A redelivery of a whole batch changes nothing.
    deliver(store, &burst[20..30]).await;

    let incidents = store.list_incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.account, ACCOUNT);
    assert_eq!(incident.topic, "internet");
    assert_eq!(incident.status, IncidentStatus::Active);
    assert_eq!(incident.spike.window_start, noon());
    assert_eq!(incident.spike.window_minutes, 10);
    // The 10th complaint naming the internet in the window tipped it (or one counted beside
    // it in the same batch: the ten customers of a batch are ingested concurrently); 3 in the
    // 12 windows before make a baseline of 0.25.
    assert!((10..20).contains(&incident.spike.count), "{incident:?}");
    assert_eq!(incident.spike.baseline, 0.25);
    assert!(OUTAGE.iter().any(|t| t.starts_with(&incident.example)));
    assert_eq!(
        store.get_incident(&incident.id).await.unwrap().as_ref(),
        Some(incident)
    );

    let tickets = all_tickets(store).await;
    assert_eq!(tickets.len(), 62);
    let outage: BTreeSet<TicketId> = tickets
        .iter()
        .filter(|t| t.created_at >= noon() && OUTAGE.iter().any(|o| o.starts_with(&t.subject)))
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(outage.len(), 30);
    let attached: BTreeSet<TicketId> = crate::every_ticket(25, |query| async move {
        store.incident_tickets(&incident.id, &query).await.unwrap()
    })
    .await
    .into_iter()
    .map(|t| t.id)
    .collect();
    assert_eq!(attached, outage);
    for ticket in &tickets {
        let expected = outage.contains(&ticket.id).then(|| incident.id.clone());
        assert_eq!(ticket.incident_id, expected, "{}", ticket.subject);
        let events = store.ticket_events(&ticket.id).await.unwrap();
        let joined = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::AttachedToIncident { .. }))
            .count();
        assert_eq!(
            joined,
            usize::from(expected.is_some()),
            "{}",
            ticket.subject
        );
    }
}

pub async fn praise_and_noise_are_kept_but_need_no_answer<S: Store>(store: &S) {
    let at = noon();
    deliver(
        store,
        &[
            message(
                "p1".into(),
                "@acme_care thank you, great service today!",
                at,
            ),
            message("n1".into(), "check out my giveaway https://t.co/abc", at),
            message(
                "u1".into(),
                "@acme_care gas leak near your cabinet on Elm St",
                at,
            ),
        ],
    )
    .await;
    let tickets = all_tickets(store).await;
    let by_subject = |start: &str| {
        tickets
            .iter()
            .find(|t| t.subject.starts_with(start))
            .cloned()
            .unwrap_or_else(|| panic!("no ticket {start}"))
    };
    let praise = by_subject("@acme_care thank you");
    let triage = praise.triage.as_ref().unwrap();
    assert_eq!(triage.intent, Intent::Praise);
    assert_eq!(praise.status, TicketStatus::Closed);
    assert_eq!(praise.priority, Priority::Low);
    assert_eq!(praise.timers.response, None);
    assert_eq!(praise.topics, Vec::<String>::new());
    let noise = by_subject("check out my giveaway");
    assert_eq!(noise.triage.as_ref().unwrap().intent, Intent::Noise);
    assert_eq!(noise.status, TicketStatus::Closed);
    let urgent = by_subject("@acme_care gas leak");
    let triage = urgent.triage.as_ref().unwrap();
    assert_eq!(triage.intent, Intent::Complaint);
    assert_eq!(urgent.priority, Priority::Urgent);
    assert_eq!(urgent.status, TicketStatus::Open);
    assert!(
        triage.reasons.iter().any(|r| r.contains("gas leak")),
        "{triage:?}"
    );
    assert!(
        urgent.topics.contains(&"leak".to_string()),
        "{:?}",
        urgent.topics
    );
}

#[macro_export]
macro_rules! incidents_contract {
    ($make:expr) => {
        $crate::incidents_contract!(@cases $make;
            an_outage_opens_one_incident_with_exactly_its_complaints,
            praise_and_noise_are_kept_but_need_no_answer
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::incidents::$case(&store).await;
            }
        )+
    };
}
