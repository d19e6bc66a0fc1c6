//! Service levels and reminders through the store (SQLite and DynamoDB), on a fixed clock:
//! warnings, breaches and escalations once each, nothing for an answered ticket, follow-ups,
//! surveys, auto-close, business hours across a weekend, and notices retried until told.
//!
//! The due index is the adapter under test; the reminders and outbox queues are the SQLite
//! queue on the same fixed clock (SQS itself passes the queue contract), so a delay of
//! minutes costs no real time.

use crate::events::x_mention;
use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::{ReminderJob, Worker};
use socialcare_app::scheduler::Scheduler;
use socialcare_domain::escalation::{Notice, NoticeReason, Notifier};
use socialcare_domain::incidents::{Incident, IncidentNotice, Spike};
use socialcare_domain::ingest::{InboundEvent, IngestOutcome, ingest_with};
use socialcare_domain::lifecycle::change_status;
use socialcare_domain::ownership::{Team, Teams};
use socialcare_domain::ports::{Clock, FixedClock, Outgoing, Queue};
use socialcare_domain::replies::{
    DeliveryState, PostError, ReplyChannel, ReplyRequest, SendPolicy, Target, write_reply,
};
use socialcare_domain::sla::{Calendar, Day, Followups, Hours, Measure, Policies, Policy, Targets};
use socialcare_domain::threading::Rules;
use socialcare_domain::timers::ReminderKind;
use socialcare_domain::{
    Actor, Channel, Direction, EventKind, Priority, Ticket, TicketEvent, TicketId, TicketStatus,
};
use socialcare_sqlite::{Database, QueueOptions, SqliteQueue};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

pub use socialcare_domain::ports::TicketStore as Store;

const ACCOUNT: &str = "1100000000000000001";
const HOOK: &str = "http://127.0.0.1:9/hooks/support";

/// Friday 20 November 2026, 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

/// Records the notices it is given; answers from a script, then accepts.
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    answers: Arc<Mutex<VecDeque<Result<(), PostError>>>>,
    sent: Arc<Mutex<Vec<Notice>>>,
    incidents: Arc<Mutex<Vec<IncidentNotice>>>,
}

impl RecordingNotifier {
    fn sent(&self) -> Vec<Notice> {
        self.sent.lock().unwrap().clone()
    }

    fn incidents(&self) -> Vec<IncidentNotice> {
        self.incidents.lock().unwrap().clone()
    }
}

impl Notifier for RecordingNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), PostError> {
        self.sent.lock().unwrap().push(notice.clone());
        let scripted = self.answers.lock().unwrap().pop_front();
        scripted.unwrap_or(Ok(()))
    }

    async fn announce(&self, notice: &IncidentNotice) -> Result<(), PostError> {
        self.incidents.lock().unwrap().push(notice.clone());
        let scripted = self.answers.lock().unwrap().pop_front();
        scripted.unwrap_or(Ok(()))
    }

    async fn deliver(
        &self,
        _url: &str,
        _secrets: &[&str],
        event: &socialcare_domain::domain_events::DomainEvent,
    ) -> socialcare_domain::subscriptions::Posted {
        panic!("no webhook subscription here, got {event:?}");
    }
}

/// A store with the policy below, the reminders machinery around it, and a clock.
pub struct Harness<'a, S> {
    pub store: &'a S,
    pub clock: Arc<FixedClock>,
    pub reminders: SqliteQueue,
    pub outbox_queue: SqliteQueue,
    pub notifier: RecordingNotifier,
    worker: Worker<RecordingNotifier>,
}

/// First response in 60 minutes, next in 30, resolution in 8 hours (high: 15/10/120);
/// warnings at 80 %; the account's own escalation target; follow-up after a day, auto-close
/// after a week, survey an hour after resolve.
pub fn policy() -> Policy {
    let targets = |first, next, resolution| Targets {
        first_response_minutes: first,
        next_response_minutes: next,
        resolution_minutes: resolution,
    };
    Policy {
        targets: BTreeMap::from([
            ("normal".to_string(), targets(60, 30, 480)),
            ("high".to_string(), targets(15, 10, 120)),
        ]),
        calendar: None,
        warn_at_percent: 80,
        escalation_url: Some("http://127.0.0.1:9/hooks/account".into()),
        followups: Followups::default(),
    }
}

fn teams() -> Teams {
    Teams::new(vec![Team {
        name: "support".into(),
        members: vec!["sally".into(), "tim".into()],
        lead: Some("lena".into()),
        escalation_url: Some(HOOK.into()),
        escalates_to: None,
    }])
}

impl<'a, S: Store> Harness<'a, S> {
    pub async fn new(store: &'a S, policy: Policy) -> Self {
        let policies = Policies {
            policies: BTreeMap::from([(ACCOUNT.to_string(), policy)]),
        };
        store.put_sla_policies(&policies).await.unwrap();
        let clock = Arc::new(FixedClock::new(t0()));
        let db = Database::in_memory().unwrap();
        // As template.yaml declares them: standard, ten receives.
        let queue = |name: &str| {
            let options = QueueOptions {
                fifo: false,
                visibility_timeout: std::time::Duration::from_secs(30),
                max_receive_count: 10,
                dead_letter: Some(format!("{name}-dlq")),
            };
            SqliteQueue::with_clock(db.clone(), name, options, clock.clone())
        };
        let reminders = queue("reminders");
        let outbox_queue = queue("outbox");
        let notifier = RecordingNotifier::default();
        Self {
            store,
            clock,
            reminders,
            outbox_queue,
            worker: Worker {
                configuration: socialcare_app::configuration::ConfigurationCache::of_rules(
                    socialcare_domain::threading::Rules {
                        teams: teams(),
                        ..Default::default()
                    },
                ),
                notifier: notifier.clone(),
                policy: SendPolicy::default(),
            },
            notifier,
        }
    }

    pub async fn complaint(&self, id: &str, at: DateTime<Utc>) -> TicketId {
        self.complaint_from(id, "ann", at).await
    }

    pub async fn complaint_from(&self, id: &str, customer: &str, at: DateTime<Utc>) -> TicketId {
        // Triaged a complaint of normal priority: the targets below are normal's.
        let text = "@acme_care my router keeps dropping the connection";
        let event = x_mention(id, customer, text, at);
        let id = match self.customer_writes(&event).await {
            IngestOutcome::Opened { ticket_id, .. } => ticket_id,
            other => panic!("expected a new ticket, got {other:?}"),
        };
        assert_eq!(self.ticket(&id).await.priority, Priority::Normal);
        id
    }

    /// Ingests what a customer wrote, under the account's rules.
    pub async fn customer_writes(&self, event: &InboundEvent) -> IngestOutcome {
        let rules = Rules {
            policies: self.store.sla_policies().await.unwrap(),
            teams: teams(),
            ..Rules::default()
        };
        ingest_with(self.store, event, &rules).await.unwrap()
    }

    /// Gives the ticket to sally of the support team.
    pub async fn give_to_sally(&self, id: &TicketId) {
        let ticket = self.ticket(id).await;
        let owned = Ticket {
            owner: Some("sally".into()),
            team: Some("support".into()),
            version: ticket.version + 1,
            ..ticket.clone()
        };
        let event = TicketEvent::new(
            id.clone(),
            ticket.created_at,
            Actor::Agent { id: "admin".into() },
            EventKind::Assigned {
                owner: owned.owner.clone(),
                team: owned.team.clone(),
            },
            "assigned:test",
        );
        self.store
            .change_ticket(&owned, ticket.version, &event)
            .await
            .unwrap();
    }

    pub async fn ticket(&self, id: &TicketId) -> Ticket {
        self.store.get_ticket(id).await.unwrap().unwrap()
    }

    pub async fn events(&self, id: &TicketId) -> Vec<EventKind> {
        let events = self.store.ticket_events(id).await.unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }

    /// Sets the clock, runs the scheduler, then the worker until the queue has nothing
    /// visible: what a minute of the deployed system does.
    pub async fn at(&self, at: DateTime<Utc>) {
        self.clock.set(at);
        let outbox = Outbox::new(self.outbox_queue.clone());
        // A reminder that acts may make the ticket's next one due at once: the next minute's
        // scheduler run would move it, so this runs until nothing is left to do.
        for _ in 0..20 {
            let scheduler = Scheduler::default();
            let moved = scheduler
                .run(self.store, &self.reminders, at)
                .await
                .unwrap()
                + scheduler
                    .announce_incidents(self.store, &self.reminders, at)
                    .await
                    .unwrap();
            let mut handled = 0;
            loop {
                let round = self
                    .worker
                    .once(
                        self.store,
                        &self.reminders,
                        &outbox,
                        std::time::Duration::ZERO,
                        &*self.clock,
                    )
                    .await
                    .unwrap();
                if round == 0 {
                    break;
                }
                handled += round;
            }
            if moved == 0 && handled == 0 {
                return;
            }
        }
        panic!("reminders kept coming due");
    }

    /// Puts a job on the reminders queue again, as a duplicate delivery would.
    pub async fn deliver_again(&self, job: &ReminderJob) {
        let body = serde_json::to_string(job).unwrap();
        self.reminders
            .send(Outgoing {
                body,
                group_id: None,
                dedupe_id: None,
                delay: std::time::Duration::ZERO,
            })
            .await
            .unwrap();
        self.at(self.clock.now()).await;
    }

    /// The outbox jobs queued so far (taken off the queue).
    pub async fn outbox_jobs(&self) -> usize {
        let taken = self
            .outbox_queue
            .receive(10, std::time::Duration::ZERO)
            .await
            .unwrap();
        for job in &taken {
            self.outbox_queue.delete(&job.receipt).await.unwrap();
        }
        taken.len()
    }
}

fn count(events: &[EventKind], wanted: fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| wanted(e)).count()
}

fn is_warning(e: &EventKind) -> bool {
    matches!(e, EventKind::SlaWarning { .. })
}
fn is_breach(e: &EventKind) -> bool {
    matches!(e, EventKind::SlaBreached { .. })
}
fn is_notified(e: &EventKind) -> bool {
    matches!(e, EventKind::Notified { .. })
}

pub async fn an_unanswered_ticket_warns_then_breaches_and_escalates_once<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    h.give_to_sally(&id).await;
    let ticket = h.ticket(&id).await;
    let response = ticket.timers.response.expect("a first response is due");
    assert_eq!(response.measure, Measure::FirstResponse);
    assert_eq!(response.due_at, minutes(60));
    assert_eq!(response.warn_at, minutes(48));
    assert_eq!(ticket.timers.due_at(), Some(minutes(60)));

    h.at(minutes(47)).await;
    assert_eq!(count(&h.events(&id).await, is_warning), 0);
    assert!(h.notifier.sent().is_empty());

    h.at(minutes(48)).await;
    let events = h.events(&id).await;
    assert!(events.contains(&EventKind::SlaWarning {
        measure: Measure::FirstResponse,
        due_at: minutes(60),
    }));
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].reason, NoticeReason::SlaWarning);
    assert_eq!(sent[0].url, HOOK);
    assert_eq!(sent[0].target, "support");
    assert_eq!(sent[0].owner.as_deref(), Some("sally"));
    assert_eq!(sent[0].due_at, minutes(60));
    assert!(events.contains(&EventKind::Notified {
        notice_id: sent[0].id.clone(),
        reason: NoticeReason::SlaWarning,
        target: "support".into(),
    }));

    h.at(minutes(60)).await;
    let ticket = h.ticket(&id).await;
    assert_eq!(ticket.priority, Priority::High);
    assert_eq!(ticket.owner.as_deref(), Some("lena"));
    assert_eq!(ticket.team.as_deref(), Some("support"));
    assert!(ticket.timers.response.unwrap().breached);
    let events = h.events(&id).await;
    assert!(events.contains(&EventKind::SlaBreached {
        measure: Measure::FirstResponse,
        due_at: minutes(60),
    }));
    assert!(events.contains(&EventKind::PriorityChanged {
        from: Priority::Normal,
        to: Priority::High,
    }));
    assert!(events.contains(&EventKind::Assigned {
        owner: Some("lena".into()),
        team: Some("support".into()),
    }));
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].reason, NoticeReason::SlaBreach);
    // The notice names who let it pass; the ticket is lena's now.
    assert_eq!(sent[1].owner.as_deref(), Some("sally"));

    // The breach delivered again, and the minutes after: nothing more.
    let breach = socialcare_domain::timers::Reminder {
        ticket_id: id.clone(),
        due_at: minutes(60),
        kind: ReminderKind::SlaBreach {
            measure: Measure::FirstResponse,
        },
    };
    h.deliver_again(&ReminderJob::Reminder(breach)).await;
    h.deliver_again(&ReminderJob::Notice(Box::new(sent[1].clone())))
        .await;
    for minute in [61, 75, 120] {
        h.at(minutes(minute)).await;
    }
    let events = h.events(&id).await;
    assert_eq!(count(&events, is_warning), 1);
    assert_eq!(count(&events, is_breach), 1);
    assert_eq!(count(&events, is_notified), 2);
    assert_eq!(h.notifier.sent().len(), 2);
    // Next up: the resolution warning, at 80 % of 8 hours.
    let next = h.ticket(&id).await.timers.next(&id).unwrap();
    assert_eq!(next.due_at, minutes(384));
}

pub async fn a_ticket_answered_before_its_deadline_fires_nothing<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    // The warning is on the queue already (due within 15 minutes) when the answer comes.
    h.at(minutes(40)).await;
    let reply = ReplyRequest {
        text: "Sorry Ann, we're on it.".into(),
        channel: ReplyChannel::Public,
        key: "k1".into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    };
    write_reply(store, &id, &reply, minutes(41)).await.unwrap();
    assert_eq!(h.ticket(&id).await.timers.response, None);
    for minute in [48, 60, 90] {
        h.at(minutes(minute)).await;
    }
    let events = h.events(&id).await;
    assert_eq!(count(&events, is_warning), 0);
    assert_eq!(count(&events, is_breach), 0);
    assert!(h.notifier.sent().is_empty());
    let ticket = h.ticket(&id).await;
    assert_eq!(ticket.priority, Priority::Normal);
    assert_eq!(ticket.first_response_at, Some(minutes(41)));
}

/// Issue 18: on DynamoDB every write of the ticket put its queued reminder back in the due
/// index, and the scheduler queued it again.
pub async fn a_queued_reminder_is_not_queued_again_by_a_later_write<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    let due = store.due_reminders(minutes(60), 100).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].ticket_id, id);
    store.mark_queued(&due[0]).await.unwrap();
    assert_eq!(store.due_reminders(minutes(60), 100).await.unwrap(), []);
    // The customer writes again: the ticket is written, its next reminder is the same.
    let again = x_mention("t2", "ann", "@acme_care hello? still down", minutes(5));
    h.customer_writes(&again).await;
    assert_eq!(h.ticket(&id).await.message_count, 2);
    assert_eq!(h.ticket(&id).await.timers.next(&id), Some(due[0].clone()));
    assert_eq!(
        store.due_reminders(minutes(60), 100).await.unwrap(),
        [],
        "queued once"
    );
    // The answer changes the next reminder: that one is due in its turn.
    let reply = ReplyRequest {
        text: "Sorry Ann, we're on it.".into(),
        channel: ReplyChannel::Public,
        key: "k1".into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    };
    write_reply(store, &id, &reply, minutes(10)).await.unwrap();
    let next = h
        .ticket(&id)
        .await
        .timers
        .next(&id)
        .expect("the resolution's reminder");
    assert_ne!(next, due[0]);
    assert_eq!(store.due_reminders(next.due_at, 100).await.unwrap(), [next]);
}

pub async fn a_pending_internal_ticket_sends_the_customer_one_followup<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    let agent = Actor::Agent { id: "sally".into() };
    change_status(store, &id, TicketStatus::PendingInternal, agent, minutes(5))
        .await
        .unwrap();
    let due = minutes(5) + Duration::hours(24);
    assert_eq!(h.ticket(&id).await.timers.followup_at, Some(due));
    h.at(due - Duration::minutes(1)).await;
    h.at(due).await;
    h.at(due + Duration::minutes(1)).await;
    let followup = socialcare_domain::timers::Reminder {
        ticket_id: id.clone(),
        due_at: due,
        kind: ReminderKind::CustomerFollowup,
    };
    h.deliver_again(&ReminderJob::Reminder(followup)).await;
    let detail = store.ticket_detail(&id).await.unwrap().unwrap();
    let followups: Vec<_> = detail
        .messages
        .iter()
        .filter(|m| m.body.text == Followups::default().still_on_it_text)
        .collect();
    assert_eq!(followups.len(), 1, "{:#?}", detail.messages);
    let message = followups[0];
    assert_eq!(message.body.direction, Direction::Outbound);
    assert_eq!(message.body.channel, Channel::Private);
    let delivery = message.delivery.as_ref().unwrap();
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert!(delivery.automatic);
    assert!(matches!(delivery.target, Target::Direct { .. }));
    // One job for the sender (a redelivery that finds it done queues nothing more... or the
    // same job again, which the reply's state absorbs).
    assert!(h.outbox_jobs().await >= 1);
    let ticket = h.ticket(&id).await;
    assert_eq!(ticket.status, TicketStatus::PendingInternal);
    assert_eq!(ticket.timers.followup_at, None);
}

pub async fn a_resolved_ticket_sends_one_survey<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    let agent = Actor::Agent { id: "sally".into() };
    change_status(
        store,
        &id,
        TicketStatus::Resolved,
        agent.clone(),
        minutes(30),
    )
    .await
    .unwrap();
    let ticket = h.ticket(&id).await;
    assert_eq!(ticket.timers.survey_at, Some(minutes(90)));
    assert_eq!(ticket.timers.response, None);
    assert_eq!(ticket.timers.resolution, None);
    h.at(minutes(89)).await;
    h.at(minutes(90)).await;
    // Reopened and resolved again: still the one survey.
    change_status(store, &id, TicketStatus::Open, agent.clone(), minutes(100))
        .await
        .unwrap();
    change_status(store, &id, TicketStatus::Resolved, agent, minutes(110))
        .await
        .unwrap();
    h.at(minutes(200)).await;
    let detail = store.ticket_detail(&id).await.unwrap().unwrap();
    let surveys: Vec<_> = detail
        .messages
        .iter()
        .filter(|m| m.body.text == Followups::default().survey_text)
        .collect();
    assert_eq!(surveys.len(), 1);
    assert_eq!(surveys[0].body.channel, Channel::Private);
    let ticket = h.ticket(&id).await;
    assert!(ticket.timers.surveyed);
    assert_eq!(ticket.timers.survey_at, None);
    assert_eq!(ticket.status, TicketStatus::Resolved);
}

/// Only the ticket's customer answers its survey: a bystander's "1" under the thread is a
/// message on the ticket, not its rating.
pub async fn a_bystanders_number_in_the_thread_rates_nothing<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint_from("ann", "ann", t0()).await;
    let agent = Actor::Agent { id: "sally".into() };
    change_status(store, &id, TicketStatus::Resolved, agent, minutes(30))
        .await
        .unwrap();
    h.at(minutes(90)).await;
    let mut bystander = x_mention("dan-1", "dan", "1", minutes(95));
    bystander.message.in_reply_to = Some("ann".into());
    let outcome = h.customer_writes(&bystander).await;
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == id),
        "{outcome:?}"
    );
    let ann = h.ticket(&id).await;
    assert_eq!(ann.satisfaction, None);
    let events = h.events(&id).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, EventKind::SatisfactionRated { .. })),
        "{events:?}"
    );
    // Someone wrote in the thread: the ticket is open again for a person to look.
    assert_eq!(ann.status, TicketStatus::Open);
}

pub async fn a_survey_answer_is_recorded_and_a_good_score_thanked_once<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let agent = Actor::Agent { id: "sally".into() };
    let mut tickets = Vec::new();
    for customer in ["ann", "bob", "cat"] {
        let id = h.complaint_from(customer, customer, t0()).await;
        change_status(
            store,
            &id,
            TicketStatus::Resolved,
            agent.clone(),
            minutes(30),
        )
        .await
        .unwrap();
        tickets.push(id);
    }
    // cat answers before any survey went out: an ordinary message, which reopens.
    let dm = |id: &str, customer: &str, text: &str, at| {
        let mut event = x_mention(id, customer, text, at);
        event.message.channel = Channel::Private;
        event
    };
    let early = dm("cat-5", "cat", "5", minutes(40));
    h.customer_writes(&early).await;
    h.at(minutes(90)).await;
    let invitation = Followups::default().invitation_text;

    // ann: a good score keeps the ticket resolved and is thanked once, privately.
    let five = dm("ann-5", "ann", "5, thank you!", minutes(95));
    let outcome = h.customer_writes(&five).await;
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == tickets[0]),
        "{outcome:?}"
    );
    assert!(matches!(
        h.customer_writes(&five).await,
        IngestOutcome::Duplicate { .. }
    ));
    let ann = h.ticket(&tickets[0]).await;
    assert_eq!(ann.status, TicketStatus::Resolved);
    assert_eq!(ann.satisfaction, Some(5));
    assert_eq!(ann.resolved_at, Some(minutes(30)));
    let events = h.events(&tickets[0]).await;
    let rated = |e: &EventKind| matches!(e, EventKind::SatisfactionRated { .. });
    assert_eq!(count(&events, rated), 1);
    assert!(events.contains(&EventKind::SatisfactionRated { score: 5 }));
    let changes: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, EventKind::StatusChanged { .. }))
        .collect();
    let resolved = EventKind::StatusChanged {
        from: TicketStatus::Open,
        to: TicketStatus::Resolved,
    };
    assert_eq!(changes, vec![&resolved]);
    let detail = store.ticket_detail(&tickets[0]).await.unwrap().unwrap();
    let thanks: Vec<_> = detail
        .messages
        .iter()
        .filter(|m| m.body.text == invitation)
        .collect();
    assert_eq!(thanks.len(), 1, "{:#?}", detail.messages);
    assert_eq!(thanks[0].body.channel, Channel::Private);
    assert_eq!(thanks[0].body.direction, Direction::Outbound);
    let delivery = thanks[0].delivery.as_ref().unwrap();
    assert!(delivery.automatic);
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert!(
        matches!(&delivery.target, Target::Direct { .. }),
        "{:?}",
        delivery.target
    );

    // bob: a poor score is recorded and reopens the ticket for a person to look again.
    let one = dm("bob-1", "bob", "1 - still no internet", minutes(96));
    h.customer_writes(&one).await;
    let bob = h.ticket(&tickets[1]).await;
    assert_eq!(bob.status, TicketStatus::Open);
    assert_eq!(bob.satisfaction, Some(1));
    let events = h.events(&tickets[1]).await;
    assert!(events.contains(&EventKind::SatisfactionRated { score: 1 }));
    assert!(events.contains(&EventKind::StatusChanged {
        from: TicketStatus::Resolved,
        to: TicketStatus::Open
    }));
    let detail = store.ticket_detail(&tickets[1]).await.unwrap().unwrap();
    assert!(!detail.messages.iter().any(|m| m.body.text == invitation));

    let cat = h.ticket(&tickets[2]).await;
    assert_eq!(cat.status, TicketStatus::Open);
    assert_eq!(cat.satisfaction, None);
    assert!(!cat.timers.surveyed);
}

pub async fn a_ticket_left_pending_customer_closes<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let id = h.complaint("t1", t0()).await;
    let agent = Actor::Agent { id: "sally".into() };
    change_status(
        store,
        &id,
        TicketStatus::PendingCustomer,
        agent,
        minutes(10),
    )
    .await
    .unwrap();
    let due = minutes(10) + Duration::days(7);
    h.at(due - Duration::minutes(1)).await;
    assert_eq!(h.ticket(&id).await.status, TicketStatus::PendingCustomer);
    h.at(due).await;
    let ticket = h.ticket(&id).await;
    assert_eq!(ticket.status, TicketStatus::Closed);
    assert_eq!(ticket.timers.next(&id), None);
    assert!(h.events(&id).await.contains(&EventKind::StatusChanged {
        from: TicketStatus::PendingCustomer,
        to: TicketStatus::Closed,
    }));
}

pub async fn business_hours_move_the_deadline_across_the_weekend<S: Store>(store: &S) {
    let nine_to_five = Hours {
        open: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        close: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
    };
    let office = Policy {
        calendar: Some(Calendar {
            time_zone: "America/New_York".into(),
            hours: [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]
                .into_iter()
                .map(|day| (day, nine_to_five))
                .collect(),
            holidays: BTreeSet::new(),
        }),
        ..policy()
    };
    let h = Harness::new(store, office).await;
    // Friday 16:30 in New York: 30 minutes count on Friday, 30 from Monday 09:00.
    let friday = Utc.with_ymd_and_hms(2026, 11, 20, 21, 30, 0).unwrap();
    let id = h.complaint("t1", friday).await;
    let monday = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
    let response = h.ticket(&id).await.timers.response.unwrap();
    assert_eq!(response.due_at, monday(14, 30));
    assert_eq!(response.warn_at, monday(14, 18));
    // The whole weekend passes quietly.
    for hours in [1, 12, 36, 60] {
        h.at(friday + Duration::hours(hours)).await;
    }
    assert_eq!(count(&h.events(&id).await, is_warning), 0);
    h.at(monday(14, 18)).await;
    assert_eq!(count(&h.events(&id).await, is_warning), 1);
    assert_eq!(count(&h.events(&id).await, is_breach), 0);
    h.at(monday(14, 30)).await;
    assert_eq!(count(&h.events(&id).await, is_breach), 1);
}

pub async fn a_notice_is_retried_until_the_target_takes_it<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    h.notifier.answers.lock().unwrap().extend([
        Err(PostError::Transient("503".into())),
        Err(PostError::Transient("503".into())),
    ]);
    let id = h.complaint("t1", t0()).await;
    h.at(minutes(48)).await;
    assert_eq!(count(&h.events(&id).await, is_notified), 0);
    // Backoff: 2 s, then 4 s.
    h.at(minutes(48) + Duration::seconds(2)).await;
    h.at(minutes(48) + Duration::seconds(6)).await;
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 3);
    // Without a team, the account's own target.
    assert_eq!(sent[0].target, "account");
    assert_eq!(sent[0].url, "http://127.0.0.1:9/hooks/account");
    assert!(sent.iter().all(|n| n.id == sent[0].id));
    assert_eq!(count(&h.events(&id).await, is_notified), 1);

    // A target that refuses for good: the trail says so, and it is not tried again.
    h.notifier
        .answers
        .lock()
        .unwrap()
        .push_back(Err(PostError::Permanent("404 no such hook".into())));
    h.at(minutes(60)).await;
    h.at(minutes(61)).await;
    assert_eq!(h.notifier.sent().len(), 4);
    let failed = h
        .events(&id)
        .await
        .into_iter()
        .filter(|e| matches!(e, EventKind::NotificationFailed { .. }))
        .count();
    assert_eq!(failed, 1);
}

pub async fn an_opened_incident_is_announced_to_the_target_once<S: Store>(store: &S) {
    let h = Harness::new(store, policy()).await;
    let open = |account: &str, topic: &str| {
        let spike = Spike {
            window_start: t0(),
            window_minutes: 10,
            count: 25,
            baseline: 1.5,
        };
        let example = "@acme_care internet down in the whole street";
        Incident::open(
            socialcare_domain::Source::X,
            account,
            topic,
            example,
            t0() + Duration::minutes(4),
            spike,
        )
    };
    let incident = open(ACCOUNT, "internet");
    // An account with no escalation target: nobody to tell.
    let elsewhere = open("2200000000000000002", "internet");
    store.open_incident(&incident).await.unwrap();
    store.open_incident(&elsewhere).await.unwrap();
    // The target fails once, then takes it.
    h.notifier
        .answers
        .lock()
        .unwrap()
        .push_back(Err(PostError::Transient("503".into())));

    h.at(minutes(5)).await;
    h.at(minutes(5) + Duration::seconds(2)).await;
    h.at(minutes(6)).await;
    h.at(minutes(7)).await;

    let told = h.notifier.incidents();
    assert_eq!(told.len(), 2, "{told:#?}");
    assert_eq!(told[0], told[1]);
    let notice = &told[0];
    assert_eq!(notice.id, format!("{}:opened", incident.id));
    assert_eq!(notice.url, "http://127.0.0.1:9/hooks/account");
    assert_eq!(notice.incident_id, incident.id);
    assert_eq!(notice.account, ACCOUNT);
    assert_eq!(notice.topic, "internet");
    assert_eq!((notice.spike.count, notice.spike.baseline), (25, 1.5));
    assert!(
        notice.text.contains("25 new complaints about \"internet\""),
        "{}",
        notice.text
    );
    let stored = store.get_incident(&incident.id).await.unwrap().unwrap();
    assert_eq!(stored.notified_at, Some(minutes(5)));
    let other = store.get_incident(&elsewhere.id).await.unwrap().unwrap();
    assert_eq!(other.notified_at, Some(minutes(5)));
    // No ticket notices came of it.
    assert_eq!(h.notifier.sent(), vec![]);
}

/// Four complaints on Friday 20 November 2026 (all on X), worked out by hand:
///
/// | ticket | opened | first answer            | first human answer | resolved     | breach |
/// |--------|--------|-------------------------|--------------------|--------------|--------|
/// | t1     | 09:00  | 09:01 (automatic), 60 s | 09:10 sally, 600 s | 11:00, 7200 s |       |
/// | t2     | 09:05  | 10:05 tim, 3600 s       | 10:05 tim, 3600 s  |              |        |
/// | t3     | 09:10  | 11:10 sally, 7200 s     | 11:10 sally, 7200 s |             | 10:10  |
/// | t4     | 09:20  |                         |                    |              |        |
///
/// By day: 4 tickets; acknowledgement 3, mean (60 + 3600 + 7200) / 3 = 3620 s; first response
/// 3, mean (600 + 3600 + 7200) / 3 = 3800 s, median 3600 s, p90 (nearest rank 3 of 3) 7200 s;
/// within 1 h 2 of 3 (3600 s counts), within 48 h 3 of 3; 1 breach; resolution 1, 7200 s.
pub async fn the_report_matches_a_hand_computed_day<S: Store>(store: &S) {
    use socialcare_domain::report::{GroupBy, report};
    let h = Harness::new(store, policy()).await;
    let t1 = h.complaint("t1", minutes(0)).await;
    let t2 = h.complaint_from("t2", "bob", minutes(5)).await;
    let t3 = h.complaint_from("t3", "cid", minutes(10)).await;
    let _t4 = h.complaint_from("t4", "dan", minutes(20)).await;
    let answer = |id: &'static str, who: &str, automatic: bool| ReplyRequest {
        text: format!("answer {id}"),
        channel: ReplyChannel::Public,
        key: id.into(),
        author: match automatic {
            true => Actor::System,
            false => Actor::Agent { id: who.into() },
        },
        automatic,
    };
    write_reply(store, &t1, &answer("a1", "", true), minutes(1))
        .await
        .unwrap();
    write_reply(store, &t1, &answer("a2", "sally", false), minutes(10))
        .await
        .unwrap();
    write_reply(store, &t2, &answer("a3", "tim", false), minutes(65))
        .await
        .unwrap();
    h.at(minutes(70)).await;
    write_reply(store, &t3, &answer("a4", "sally", false), minutes(130))
        .await
        .unwrap();
    let sally = Actor::Agent { id: "sally".into() };
    change_status(store, &t1, TicketStatus::Resolved, sally, minutes(120))
        .await
        .unwrap();
    assert_eq!(count(&h.events(&t3).await, is_breach), 1);

    let day = t0().date_naive();
    let rows = store
        .metric_rows(ACCOUNT, GroupBy::Day, day, day)
        .await
        .unwrap();
    let figures = report(rows);
    assert_eq!(figures.len(), 1, "{figures:#?}");
    let f = &figures[0];
    assert_eq!(f.group, "2026-11-20");
    assert_eq!(f.tickets, 4);
    assert_eq!(f.acknowledgement.count, 3);
    assert_eq!(f.acknowledgement.mean_seconds, Some(3620.0));
    assert_eq!(f.first_response.count, 3);
    assert_eq!(f.first_response.mean_seconds, Some(3800.0));
    let within_one_percent = |value: Option<f64>, expected: f64| {
        let value = value.expect("a value");
        assert!(
            (value - expected).abs() <= expected * 0.01,
            "{value} vs {expected}"
        );
    };
    within_one_percent(f.first_response.median_seconds, 3600.0);
    within_one_percent(f.first_response.p90_seconds, 7200.0);
    assert_eq!(f.answered_within_1h, Some(2.0 / 3.0));
    assert_eq!(f.answered_within_48h, Some(1.0));
    assert_eq!(f.sla_breaches, 1);
    assert_eq!(f.resolution.count, 1);
    assert_eq!(f.resolution.mean_seconds, Some(7200.0));
    within_one_percent(f.resolution.median_seconds, 7200.0);

    // By agent: whoever answered or resolved; what nobody did is `unassigned`.
    let by_agent = report(
        store
            .metric_rows(ACCOUNT, GroupBy::Agent, day, day)
            .await
            .unwrap(),
    );
    let groups: Vec<&str> = by_agent.iter().map(|f| f.group.as_str()).collect();
    assert_eq!(groups, ["sally", "tim", "unassigned"]);
    let (sally, tim, nobody) = (&by_agent[0], &by_agent[1], &by_agent[2]);
    assert_eq!(sally.first_response.count, 2);
    assert_eq!(sally.first_response.mean_seconds, Some(3900.0));
    assert_eq!(sally.answered_within_1h, Some(0.5));
    assert_eq!(sally.resolution.count, 1);
    assert_eq!(tim.first_response.count, 1);
    assert_eq!(tim.first_response.mean_seconds, Some(3600.0));
    assert_eq!(tim.answered_within_1h, Some(1.0));
    assert_eq!((nobody.tickets, nobody.sla_breaches), (4, 1));
    assert_eq!(nobody.acknowledgement.mean_seconds, Some(60.0));

    // By channel, and a range without the day: nothing.
    let by_channel = report(
        store
            .metric_rows(ACCOUNT, GroupBy::Channel, day, day)
            .await
            .unwrap(),
    );
    assert_eq!(by_channel.len(), 1);
    assert_eq!(
        (by_channel[0].group.as_str(), by_channel[0].tickets),
        ("x", 4)
    );
    let next = day.succ_opt().unwrap();
    let empty = store
        .metric_rows(ACCOUNT, GroupBy::Day, next, next)
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[macro_export]
macro_rules! reminders_contract {
    ($make:expr) => {
        $crate::reminders_contract!(@cases $make;
            an_unanswered_ticket_warns_then_breaches_and_escalates_once,
            a_ticket_answered_before_its_deadline_fires_nothing,
            a_queued_reminder_is_not_queued_again_by_a_later_write,
            a_pending_internal_ticket_sends_the_customer_one_followup,
            a_resolved_ticket_sends_one_survey,
            a_survey_answer_is_recorded_and_a_good_score_thanked_once,
            a_bystanders_number_in_the_thread_rates_nothing,
            a_ticket_left_pending_customer_closes,
            business_hours_move_the_deadline_across_the_weekend,
            a_notice_is_retried_until_the_target_takes_it,
            an_opened_incident_is_announced_to_the_target_once,
            the_report_matches_a_hand_computed_day
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::reminders::$case(&store).await;
            }
        )+
    };
}
