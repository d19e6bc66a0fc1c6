//! Spikes and incidents through the store (SQLite and DynamoDB): complaints counted per topic
//! and window, one incident for an outage, the right tickets attached and no others, triage
//! of praise and noise, all through the ingest worker's batches as the queues deliver them.

use crate::events::x_mention;
use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_domain::incidents::Incident;
use socialcare_domain::incidents::IncidentStatus;
use socialcare_domain::ingest::QueuedEvent;
use socialcare_domain::ports::Queue;
use socialcare_domain::ports::TicketStore as Store;
use socialcare_domain::ports::{Clock, FixedClock};
use socialcare_domain::replies::{
    DeliveryState, OutboxJob, Platform, PostError, SendPolicy, Step, deliver as deliver_reply,
};
use socialcare_domain::threading::Rules;
use socialcare_domain::triage::Intent;
use socialcare_domain::updates::{
    IncidentUpdate, Pace, UpdateJob, UpdateRequest, advance, start_update,
};
use socialcare_domain::{EventKind, Priority, Ticket, TicketId, TicketQuery, TicketStatus};
use socialcare_domain::{Message, Source};
use socialcare_sqlite::{Database, SqliteQueue};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

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
        let failed = ingest_batch(store, &rules(), None, None, records).await;
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

/// A platform with X's kind of limit: at most `posts` posts in any `per` of the test's clock,
/// answered 429 beyond it. It records every post and when it was made.
pub struct LimitedPlatform {
    clock: Arc<FixedClock>,
    posts: usize,
    per: Duration,
    log: Mutex<Vec<Posted>>,
    refused: Mutex<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub at: DateTime<Utc>,
    /// `None` for the public status post.
    pub ticket_id: Option<TicketId>,
    pub text: String,
}

impl LimitedPlatform {
    pub fn new(clock: Arc<FixedClock>, posts: usize, per: Duration) -> Self {
        Self {
            clock,
            posts,
            per,
            log: Mutex::new(Vec::new()),
            refused: Mutex::new(0),
        }
    }

    pub fn log(&self) -> Vec<Posted> {
        self.log.lock().unwrap().clone()
    }

    pub fn refused(&self) -> u32 {
        *self.refused.lock().unwrap()
    }

    fn take(&self, ticket_id: Option<TicketId>, text: &str) -> Result<String, PostError> {
        let now = self.clock.now();
        let mut log = self.log.lock().unwrap();
        let recent = log.iter().filter(|p| p.at > now - self.per).count();
        if recent >= self.posts {
            *self.refused.lock().unwrap() += 1;
            return Err(PostError::RateLimited {
                retry_at: now + self.per,
                reason: "Too Many Requests".into(),
            });
        }
        log.push(Posted {
            at: now,
            ticket_id,
            text: text.into(),
        });
        Ok(format!("post-{}", log.len()))
    }
}

crate::reads_nothing!(LimitedPlatform);

impl Platform for LimitedPlatform {
    async fn post(&self, reply: &Message) -> Result<String, PostError> {
        self.take(Some(reply.ticket_id.clone()), &reply.body.text)
    }

    async fn publish(&self, _: Source, _: &str, text: &str) -> Result<String, PostError> {
        self.take(None, text)
    }
}

/// Twelve complaints about the internet within a minute: an incident with all of them.
async fn small_outage<S: Store>(store: &S) -> (Incident, BTreeSet<TicketId>) {
    let complaints: Vec<_> = (0..12i64)
        .map(|i| {
            let text = OUTAGE[i as usize % OUTAGE.len()];
            message(format!("out-{i}"), text, noon() + Duration::seconds(5 * i))
        })
        .collect();
    deliver(store, &complaints).await;
    let incidents = store.list_incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let tickets: BTreeSet<TicketId> = all_tickets(store).await.into_iter().map(|t| t.id).collect();
    assert_eq!(tickets.len(), 12);
    (incidents[0].clone(), tickets)
}

/// 24 posts a minute: two per six-second slice.
fn pace() -> Pace {
    Pace {
        posts: 24,
        per_seconds: 60,
    }
}

fn update_request(text: &str, resolves: bool, post_publicly: bool) -> UpdateRequest {
    UpdateRequest {
        text: text.into(),
        post_publicly,
        resolves,
        key: "status-1".into(),
        author: "sally".into(),
        pace: pace(),
    }
}

/// Runs the update to its end as the sender would: each step when it asks to run, and every
/// reply it queues taken off a real (SQLite) outbox queue and posted at once; every step is
/// delivered twice (queues deliver at least once). Returns the steps taken.
pub async fn run_update<S: Store>(
    store: &S,
    platform: &LimitedPlatform,
    clock: &FixedClock,
    update: &IncidentUpdate,
) -> usize {
    let outbox = SqliteQueue::outbox(Database::in_memory().unwrap());
    let policy = SendPolicy::default();
    let job = UpdateJob::of(update);
    let mut steps = 0;
    let mut now = clock.now();
    loop {
        clock.set(now);
        let mut next = None;
        for _ in 0..2 {
            let step = advance(store, platform, &outbox, &job, now).await.unwrap();
            next = next.or(step.next);
            for delivery in outbox.receive(10, std::time::Duration::ZERO).await.unwrap() {
                let reply: OutboxJob = serde_json::from_str(&delivery.body).unwrap();
                let posted = deliver_reply(store, platform, &reply, 1, now, &policy)
                    .await
                    .unwrap();
                assert_eq!(posted, Step::Done(DeliveryState::Sent), "{reply:?}");
                outbox.delete(&delivery.receipt).await.unwrap();
            }
        }
        steps += 1;
        assert!(steps < 10_000, "the update never finished");
        match next {
            Some(at) => now = at.max(now),
            None => return steps,
        }
    }
}

pub async fn one_update_answers_every_attached_ticket_once_within_the_rate_limit<S: Store>(
    store: &S,
) {
    let (incident, attached) = small_outage(store).await;
    let start = noon() + Duration::minutes(20);
    let clock = Arc::new(FixedClock::new(start));
    let platform = LimitedPlatform::new(clock.clone(), 24, Duration::seconds(60));
    let text = "We know: a fibre cut in the north. Engineers are on it, next update 14:00.";
    let request = update_request(text, false, true);

    let update = start_update(store, &incident.id, &request, start)
        .await
        .unwrap();
    // The same request again (a retried POST) is the same update.
    let again = start_update(store, &incident.id, &request, start + Duration::seconds(3))
        .await
        .unwrap();
    assert_eq!(again, update);
    assert_eq!(
        store.incident_updates(&incident.id).await.unwrap(),
        vec![update.clone()]
    );

    let steps = run_update(store, &platform, &clock, &update).await;

    // Within the platform's limit: never refused, and no minute holds more than 24 posts.
    assert_eq!(platform.refused(), 0);
    let log = platform.log();
    for post in &log {
        let window = log
            .iter()
            .filter(|p| p.at >= post.at && p.at < post.at + Duration::seconds(60))
            .count();
        assert!(
            window <= 24,
            "{window} posts in the minute from {}",
            post.at
        );
    }
    // One public post and one reply per attached ticket, each once, all with the text.
    assert_eq!(log.len(), 13);
    assert!(log.iter().all(|p| p.text == text));
    assert_eq!(log.iter().filter(|p| p.ticket_id.is_none()).count(), 1);
    let answered: Vec<TicketId> = log.iter().filter_map(|p| p.ticket_id.clone()).collect();
    assert_eq!(answered.iter().cloned().collect::<BTreeSet<_>>(), attached);
    assert_eq!(answered.len(), attached.len());
    // Paced: two posts per six-second slice, so thirteen posts span six slices at least.
    assert!(steps >= 7, "{steps} steps");
    assert!(
        log.last().unwrap().at - log[0].at >= Duration::seconds(36),
        "{:?}",
        log.iter().map(|p| p.at).collect::<Vec<_>>()
    );

    let done = store
        .get_update(&incident.id, &update.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.answered, 12);
    assert_eq!(done.skipped, 0);
    assert!(done.finished_at.is_some());
    let post = done.public_post.as_ref().unwrap();
    assert_eq!(post.state, DeliveryState::Sent);
    assert_eq!(post.platform_id.as_deref(), Some("post-1"));
    for id in &attached {
        let detail = store.ticket_detail(id).await.unwrap().unwrap();
        let replies: Vec<_> = detail
            .messages
            .iter()
            .filter(|m| m.body.text == text)
            .collect();
        assert_eq!(replies.len(), 1, "{id}");
        let delivery = replies[0].delivery.as_ref().unwrap();
        assert_eq!(delivery.state, DeliveryState::Sent);
        assert!(!delivery.automatic);
        // Not resolved: the incident goes on, and so do the tickets.
        assert_eq!(detail.ticket.status, TicketStatus::Open);
        assert!(detail.ticket.first_response_at.is_some());
    }
    let still = store.get_incident(&incident.id).await.unwrap().unwrap();
    assert_eq!(still.status, IncidentStatus::Active);
    // A finished update does nothing more.
    let outbox = SqliteQueue::outbox(Database::in_memory().unwrap());
    let after = advance(
        store,
        &platform,
        &outbox,
        &UpdateJob::of(&update),
        clock.now(),
    )
    .await
    .unwrap();
    assert_eq!((after.queued.len(), after.next), (0, None));
    assert_eq!(platform.log().len(), 13);
}

pub async fn a_resolving_update_resolves_the_incident_and_its_tickets<S: Store>(store: &S) {
    let (incident, attached) = small_outage(store).await;
    let start = noon() + Duration::minutes(90);
    let clock = Arc::new(FixedClock::new(start));
    let platform = LimitedPlatform::new(clock.clone(), 24, Duration::seconds(60));
    let text = "Fixed: the fibre is repaired and everyone is back online. Sorry for the wait.";

    let update = start_update(
        store,
        &incident.id,
        &update_request(text, true, false),
        start,
    )
    .await
    .unwrap();
    assert_eq!(update.public_post, None);
    let resolved = store.get_incident(&incident.id).await.unwrap().unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(start));
    assert_eq!(store.active_incidents().await.unwrap(), vec![]);

    run_update(store, &platform, &clock, &update).await;

    assert_eq!(platform.refused(), 0);
    let log = platform.log();
    assert_eq!(log.len(), 12);
    assert!(log.iter().all(|p| p.ticket_id.is_some() && p.text == text));
    for id in &attached {
        let ticket = store.get_ticket(id).await.unwrap().unwrap();
        assert_eq!(ticket.status, TicketStatus::Resolved, "{id}");
        assert!(ticket.resolved_at.is_some());
    }
    // The next complaint about the internet is a ticket of its own, not the old incident's.
    deliver(
        store,
        &[message(
            "late".into(),
            OUTAGE[0],
            start + Duration::minutes(1),
        )],
    )
    .await;
    let tickets = all_tickets(store).await;
    assert_eq!(tickets.len(), 13);
    let late = tickets.iter().find(|t| !attached.contains(&t.id)).unwrap();
    assert_eq!(late.incident_id, None);
    assert_eq!(late.status, TicketStatus::Open);
}

/// A word of `length` letters that names `n` (base 26), so that every one is distinct.
fn long_word(n: usize, length: usize) -> String {
    let mut letters = Vec::with_capacity(length);
    let mut rest = n;
    for _ in 0..length {
        letters.push((b'a' + (rest % 26) as u8) as char);
        rest /= 26;
    }
    letters.into_iter().rev().collect()
}

/// Issue 14: complaints of long distinct words (a DM or an integrator's e-mail can be long: 30
/// words of 400 letters here) once pushed the window's topic record past DynamoDB's 400 KB item limit, after which no
/// complaint of the account was counted and spike detection stopped without a sound.
pub async fn long_word_complaints_never_stop_spike_detection<S: Store>(store: &S) {
    let mut flood = Vec::new();
    for i in 0..100usize {
        let words: Vec<String> = (0..30).map(|j| long_word(i * 30 + j, 400)).collect();
        let text = format!("@acme_care my complaint: {}", words.join(" "));
        let at = noon() + Duration::seconds(i as i64);
        flood.push(message(format!("long-{i}"), &text, at));
    }
    deliver(store, &flood).await;
    let tickets = all_tickets(store).await;
    assert_eq!(tickets.len(), 100);
    let longest = tickets.iter().map(|t| t.topics.len()).max().unwrap();
    assert!(
        longest <= socialcare_domain::triage::MAX_TOPIC_TERMS,
        "{longest}"
    );
    assert!(
        tickets
            .iter()
            .flat_map(|t| &t.topics)
            .all(|term| term.len() <= socialcare_domain::triage::MAX_TERM_BYTES)
    );
    // Then an outage in the same window: it still opens its incident.
    let outage: Vec<_> = (0..12)
        .map(|i| {
            let at = noon() + Duration::seconds(200 + i);
            message(format!("outage-{i}"), OUTAGE[i as usize % OUTAGE.len()], at)
        })
        .collect();
    deliver(store, &outage).await;
    // (The flood's own common word, "complaint", spiked too.)
    let incidents = store.list_incidents(10).await.unwrap();
    let topics: BTreeSet<&str> = incidents.iter().map(|i| i.topic.as_str()).collect();
    assert_eq!(topics, BTreeSet::from(["complaint", "internet"]));
    assert!(incidents.iter().all(|i| i.spike.window_start == noon()));
}

/// A window counts the terms of `capacity` messages in full; past that, only the terms it has
/// (so that its record stays bounded), saying it is full. The next window starts empty.
pub async fn a_full_window_counts_only_the_terms_it_has<S: Store>(store: &S) {
    let terms = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    let count = |list: Vec<String>, window: DateTime<Utc>| async move {
        let once: Vec<(String, u64)> = list.into_iter().map(|term| (term, 1)).collect();
        store
            .count_topics(ACCOUNT, window, &once, 1, 3)
            .await
            .unwrap()
    };
    for expected in 1..=3u64 {
        let counted = count(terms(&["fibr", "router"]), noon()).await;
        assert_eq!(
            counted.counts,
            vec![
                ("fibr".to_string(), expected),
                ("router".to_string(), expected)
            ]
        );
        assert!(!counted.full);
    }
    let counted = count(terms(&["fibr", "zebra"]), noon()).await;
    assert_eq!(
        counted.counts,
        vec![("fibr".to_string(), 4), ("zebra".to_string(), 0)]
    );
    assert!(counted.full);
    let counted = count(terms(&["zebra"]), noon()).await;
    assert_eq!(counted.counts, vec![("zebra".to_string(), 0)]);
    assert!(counted.full);
    // The baseline reads what was counted.
    let history = store
        .topic_history(ACCOUNT, "fibr", &[noon()])
        .await
        .unwrap();
    assert_eq!(history, vec![4]);
    let later = noon() + Duration::minutes(10);
    let counted = count(terms(&["zebra"]), later).await;
    assert_eq!(counted.counts, vec![("zebra".to_string(), 1)]);
    assert!(!counted.full);
    // A batch counts in one call: each term by the number of its messages that name it.
    let batch = [("zebra".to_string(), 2), ("llama".to_string(), 1)];
    let count_batch = || async {
        store
            .count_topics(ACCOUNT, later, &batch, 2, 3)
            .await
            .unwrap()
    };
    let counted = count_batch().await;
    assert_eq!(
        counted.counts,
        vec![("zebra".to_string(), 3), ("llama".to_string(), 1)]
    );
    assert!(!counted.full);
    // The window had room for it (1 message before): now at 3, the next batch is past it.
    let counted = count_batch().await;
    assert_eq!(
        counted.counts,
        vec![("zebra".to_string(), 5), ("llama".to_string(), 2)]
    );
    assert!(counted.full);
}

#[macro_export]
macro_rules! incidents_contract {
    ($make:expr) => {
        $crate::incidents_contract!(@cases $make;
            an_outage_opens_one_incident_with_exactly_its_complaints,
            praise_and_noise_are_kept_but_need_no_answer,
            one_update_answers_every_attached_ticket_once_within_the_rate_limit,
            a_resolving_update_resolves_the_incident_and_its_tickets,
            long_word_complaints_never_stop_spike_detection,
            a_full_window_counts_only_the_terms_it_has
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
