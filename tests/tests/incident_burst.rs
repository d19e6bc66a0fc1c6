//! The outage replay of issue 7 on the embedded store, through the ingest worker's batches:
//! two hours of real customer-care tweets (the IBM conversations fixture) as the baseline, then
//! 2,000 complaints about one outage within twenty minutes among 500 unrelated real tweets
//! arriving at their usual rate. One incident opens, with every outage complaint attached and
//! none of the unrelated ones.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_domain::Source;
use socialcare_domain::ingest::QueuedEvent;
use socialcare_domain::ports::FixedClock;
use socialcare_domain::ports::{IncidentRecords, IncidentTickets, TicketLists};
use socialcare_domain::threading::Rules;
use socialcare_domain::updates::{Pace, UpdateRequest, start_update};
use socialcare_domain::{TicketId, TicketQuery};
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::contract::incidents::{LimitedPlatform, run_update};
use socialcare_tests::events::x_mention;
use socialcare_tests::{every_ticket, fixture};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The first customer turn of every conversation in a fixture file.
fn first_turns(file: &str) -> Vec<String> {
    let conversations: Vec<Value> = serde_json::from_str(&fixture(file)).unwrap();
    conversations
        .iter()
        .filter_map(|c| c["dialogContent"][0]["message"].as_str())
        .map(str::to_string)
        .collect()
}

const PLACES: [&str; 10] = [
    "Elm St",
    "the north side",
    "Springfield",
    "downtown",
    "Oak Avenue",
    "my building",
    "the whole street",
    "Riverside",
    "the old town",
    "Hillcrest",
];

/// The outage complaints: many wordings, all naming the fibre.
fn outage_complaint(i: usize) -> String {
    let place = PLACES[i % PLACES.len()];
    match i % 5 {
        0 => format!("@acme_care fibre down in {place} since noon, nothing works"),
        1 => format!("@acme_care is the fibre out? no connection at all in {place}"),
        2 => format!("@acme_care my fibre dropped 20 minutes ago, {place} too"),
        3 => format!("@acme_care fibre outage in {place}? working from home here"),
        _ => format!("@acme_care no fibre signal in {place}, please fix"),
    }
}

type Planned = (String, String, DateTime<Utc>, bool);

#[tokio::test]
async fn an_outage_among_real_traffic_opens_one_incident_with_exactly_its_complaints() {
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let noon = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let baseline = first_turns("conversations/dev.json");
    let unrelated = first_turns("conversations/test.json");
    assert_eq!((baseline.len(), unrelated.len()), (525, 500));

    // 10:00 to 12:00: the baseline; 12:00 to 14:00: the unrelated at the same rate, and the
    // outage's 2,000 complaints from 12:30 to 12:50.
    let mut planned: Vec<Planned> = Vec::new();
    let spread = |n: usize, from: DateTime<Utc>, minutes: i64, i: usize| {
        from + Duration::milliseconds(minutes * 60_000 * i as i64 / n as i64)
    };
    for (i, text) in baseline.iter().enumerate() {
        let at = spread(baseline.len(), noon - Duration::hours(2), 120, i);
        planned.push((format!("base-{i}"), text.clone(), at, false));
    }
    for (i, text) in unrelated.iter().enumerate() {
        let at = spread(unrelated.len(), noon, 120, i);
        planned.push((format!("other-{i}"), text.clone(), at, false));
    }
    for i in 0..2000 {
        let at = spread(2000, noon + Duration::minutes(30), 20, i);
        planned.push((format!("outage-{i}"), outage_complaint(i), at, true));
    }
    planned.sort_by_key(|(_, _, at, _)| *at);

    for batch in planned.chunks(10) {
        let records = batch
            .iter()
            .map(|(id, text, at, _)| QueueRecord {
                message_id: format!("q-{id}"),
                group_id: Some(format!("c-{id}")),
                body: serde_json::to_string(&QueuedEvent::Message(x_mention(
                    id,
                    &format!("c-{id}"),
                    text,
                    *at,
                )))
                .unwrap(),
            })
            .collect();
        let failed = ingest_batch(&store, &Rules::default(), None, None, records).await;
        assert_eq!(failed, Vec::<String>::new());
    }

    let incidents = store.list_incidents(10).await.unwrap();
    let summary: Vec<_> = incidents
        .iter()
        .map(|i| {
            (
                i.topic.clone(),
                i.spike.count,
                i.spike.baseline,
                i.example.clone(),
            )
        })
        .collect();
    assert_eq!(incidents.len(), 1, "{summary:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.topic, "fibr");
    assert_eq!(incident.spike.window_start, noon + Duration::minutes(30));

    // Every stored ticket, by what it was.
    let store = &store;
    let tickets = every_ticket(TicketQuery::MAX_LIMIT, |query| async move {
        store.list_tickets(&query).await.unwrap()
    })
    .await;
    assert_eq!(tickets.len(), 3025);
    let is_outage = |subject: &str| subject.contains("fibre");
    let outage: BTreeSet<TicketId> = tickets
        .iter()
        .filter(|t| is_outage(&t.subject))
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(outage.len(), 2000);
    let attached: BTreeSet<TicketId> = tickets
        .iter()
        .filter(|t| t.incident_id.as_ref() == Some(&incident.id))
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(attached.len(), 2000);
    assert_eq!(attached, outage);
    let listed: BTreeSet<TicketId> = every_ticket(TicketQuery::MAX_LIMIT, |query| async move {
        store.incident_tickets(&incident.id, &query).await.unwrap()
    })
    .await
    .into_iter()
    .map(|t| t.id)
    .collect();
    assert_eq!(listed, outage);
    println!(
        "one incident on {:?}: {} complaints in the window at {} against a baseline of {}; {} tickets attached of {} stored",
        incident.topic,
        incident.spike.count,
        incident.spike.window_start,
        incident.spike.baseline,
        attached.len(),
        tickets.len()
    );

    // One answer for all: an update on the 2,000 tickets, at X's default pace against a fake
    // that refuses the 101st post in any 15 minutes, driven by the test's clock.
    let start = incident.opened_at + Duration::hours(1);
    let clock = Arc::new(FixedClock::new(start));
    let platform = LimitedPlatform::new(clock.clone(), 100, Duration::minutes(15));
    let text = "A fibre cut in the north: engineers are on it, next update at 16:00. Sorry!";
    let request = UpdateRequest {
        text: text.into(),
        post_publicly: true,
        resolves: false,
        key: "outage-1".into(),
        author: "sally".into(),
        pace: Pace::default_for(Source::X),
    };
    let update = start_update(store, &incident.id, &request, start)
        .await
        .unwrap();
    let steps = run_update(store, &platform, &clock, &update).await;
    assert_eq!(platform.refused(), 0);
    let log = platform.log();
    let mut window_start = 0;
    for (i, post) in log.iter().enumerate() {
        while log[window_start].at <= post.at - Duration::minutes(15) {
            window_start += 1;
        }
        assert!(
            i - window_start < 100,
            "{} posts in the 15 minutes to {}",
            i - window_start + 1,
            post.at
        );
    }
    assert_eq!(log.len(), 2001);
    assert_eq!(log.iter().filter(|p| p.ticket_id.is_none()).count(), 1);
    let answered: Vec<TicketId> = log.iter().filter_map(|p| p.ticket_id.clone()).collect();
    assert_eq!(answered.len(), 2000);
    assert_eq!(answered.into_iter().collect::<BTreeSet<_>>(), outage);
    assert!(log.iter().all(|p| p.text == text));
    let took = log[2000].at - log[0].at;
    println!(
        "one update: 1 public post and 2000 replies, each ticket once, in {steps} steps over {} h {} min of platform time, never over 100 posts in 15 minutes",
        took.num_hours(),
        took.num_minutes() % 60
    );
}
