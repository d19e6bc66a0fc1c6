//! Replies through the store (SQLite and DynamoDB): written pending, posted once whatever the
//! queue does, waiting out rate limits, failing visibly, joined by the platform's echo, and
//! acknowledgements once per ticket. The platform here is a scripted fake in the process; the
//! exact HTTP requests of each platform are tested in `crates/platforms`.

use crate::events::x_mention;
use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_domain::acknowledgement::{self, Acknowledgement, Acknowledgements};
use socialcare_domain::ingest::{IngestOutcome, ingest, ingest_with};
use socialcare_domain::replies::{
    DeliveryState, OutboxJob, Platform, PostError, ReplyChannel, ReplyRequest, SendPolicy, Step,
    Target, deliver, write_reply,
};
use socialcare_domain::threading::Rules;
use socialcare_domain::{Actor, Direction, InboundEvent, Message, Source, TicketId, TicketStatus};
use std::collections::VecDeque;
use std::sync::Mutex;

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

/// A platform that records every post and answers from a script (then accepts).
#[derive(Default)]
pub struct ScriptedPlatform {
    answers: Mutex<VecDeque<Result<String, PostError>>>,
    posted: Mutex<Vec<Message>>,
    /// Never answers: the caller is cut off after the platform took the post.
    hang: bool,
}

impl ScriptedPlatform {
    pub fn answering(answers: Vec<Result<String, PostError>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            ..Self::default()
        }
    }

    fn hanging() -> Self {
        Self {
            hang: true,
            ..Self::default()
        }
    }

    pub fn posted(&self) -> Vec<Message> {
        self.posted.lock().unwrap().clone()
    }
}

impl Platform for ScriptedPlatform {
    async fn post(&self, reply: &Message) -> Result<String, PostError> {
        let count = {
            let mut posted = self.posted.lock().unwrap();
            posted.push(reply.clone());
            posted.len()
        };
        // Let a racing worker run while this one is "on the network".
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        if self.hang {
            std::future::pending::<()>().await;
        }
        let scripted = self.answers.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| Ok(format!("post-{count}")))
    }
    async fn publish(&self, _: Source, _: &str, _: &str) -> Result<String, PostError> {
        Err(PostError::Permanent(
            "the replies contract posts no status".into(),
        ))
    }
}

crate::reads_nothing!(ScriptedPlatform);

const ACCOUNT: &str = "1100000000000000001";

async fn complaint<S: Store>(store: &S) -> (TicketId, InboundEvent) {
    let event = x_mention("t1", "ann", "@acme_care my router is down again", at(0));
    match ingest(store, &event).await.unwrap() {
        IngestOutcome::Opened { ticket_id, .. } => (ticket_id, event),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn request(text: &str, key: &str) -> ReplyRequest {
    ReplyRequest {
        text: text.into(),
        channel: ReplyChannel::Public,
        key: key.into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    }
}

async fn reply_on<S: Store>(store: &S, id: &TicketId, message: &Message) -> Message {
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    detail
        .messages
        .into_iter()
        .find(|m| m.id == message.id)
        .expect("the reply is on the ticket")
}

fn state(message: &Message) -> DeliveryState {
    message.delivery.as_ref().expect("a reply").state
}

pub async fn a_reply_is_pending_then_posted_once_for_two_deliveries<S: Store>(store: &S) {
    let (ticket_id, complaint) = complaint(store).await;
    let reply = write_reply(
        store,
        &ticket_id,
        &request("Sorry Ann, DM us?", "k1"),
        at(3),
    )
    .await
    .unwrap()
    .reply;
    let pending = reply_on(store, &ticket_id, &reply).await;
    assert_eq!(state(&pending), DeliveryState::Pending);
    let delivery = pending.delivery.clone().unwrap();
    assert_eq!(
        delivery.target,
        Target::Public {
            to: complaint.message.external_id.clone()
        }
    );
    assert!(!delivery.automatic);
    assert_eq!(pending.body.direction, Direction::Outbound);
    assert_eq!(pending.body.source, Source::X);
    assert_eq!(pending.body.account, ACCOUNT);
    assert_eq!(pending.body.recipient_id.as_deref(), Some("ann"));
    assert_eq!(pending.body.text, "Sorry Ann, DM us?");
    let ticket = store.get_ticket(&ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.message_count, 2);
    assert_eq!(ticket.first_response_at, Some(at(3)));

    let platform = ScriptedPlatform::answering(vec![Ok("1500000000000000001".into())]);
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy::default();
    for receive in 1..=2 {
        assert_eq!(
            deliver(store, &platform, &job, receive, at(4), &policy)
                .await
                .unwrap(),
            Step::Done(DeliveryState::Sent)
        );
    }
    assert_eq!(platform.posted().len(), 1);
    let sent = reply_on(store, &ticket_id, &reply).await;
    let delivery = sent.delivery.unwrap();
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(delivery.platform_id.as_deref(), Some("1500000000000000001"));
    assert_eq!(delivery.sent_at, Some(at(4)));
    assert_eq!(delivery.attempts, 1);
    // The platform's id finds the reply: its echo will be a duplicate.
    let by_platform_id = store
        .find_message(&format!("x:{ACCOUNT}:1500000000000000001"))
        .await
        .unwrap()
        .expect("filed under the platform's id");
    assert_eq!(by_platform_id.message_id, reply.id);
    let echo = x_echo(
        "1500000000000000001",
        "ann",
        "t1",
        "@ann Sorry Ann, DM us?",
        at(4),
    );
    assert_eq!(
        ingest(store, &echo).await.unwrap(),
        IngestOutcome::Duplicate {
            ticket_id: ticket_id.clone(),
            message_id: reply.id.clone()
        }
    );
    assert_eq!(
        store
            .get_ticket(&ticket_id)
            .await
            .unwrap()
            .unwrap()
            .message_count,
        2
    );
}

pub async fn the_same_request_key_is_one_reply<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let first = write_reply(store, &ticket_id, &request("On it", "same"), at(3))
        .await
        .unwrap();
    let again = write_reply(store, &ticket_id, &request("On it", "same"), at(5))
        .await
        .unwrap();
    // The first answer counts once in the report (every grouping); the repeat adds nothing.
    let groups: Vec<_> = first.samples.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(
        groups,
        [at(3).date_naive().to_string().as_str(), "sally", "x"]
    );
    for sample in &first.samples {
        assert_eq!(sample.counters.get("responded"), Some(&1));
        assert_eq!(sample.counters.get("tickets"), None);
    }
    assert_eq!(again.samples, []);
    let (first, again) = (first.reply, again.reply);
    assert_eq!(again.id, first.id);
    let detail = store.ticket_detail(&ticket_id).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.ticket.message_count, 2);
}

pub async fn racing_workers_post_once<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(store, &ticket_id, &request("On it", "race"), at(3))
        .await
        .unwrap()
        .reply;
    let platform = ScriptedPlatform::default();
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy::default();
    let (a, b) = tokio::join!(
        deliver(store, &platform, &job, 1, at(4), &policy),
        deliver(store, &platform, &job, 1, at(4), &policy),
    );
    // The loser waits for the winner's attempt, or sees it finished already.
    let steps = [a.unwrap(), b.unwrap()];
    for step in &steps {
        assert!(
            matches!(step, Step::Done(DeliveryState::Sent) | Step::RetryIn(_)),
            "{steps:?}"
        );
    }
    assert!(
        steps.contains(&Step::Done(DeliveryState::Sent)),
        "{steps:?}"
    );
    assert_eq!(platform.posted().len(), 1);
    assert_eq!(
        state(&reply_on(store, &ticket_id, &reply).await),
        DeliveryState::Sent
    );
}

pub async fn a_timeout_after_the_platform_accepted_posts_once<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(store, &ticket_id, &request("Checking now", "cut"), at(3))
        .await
        .unwrap()
        .reply;
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy::default();
    // The platform takes the post and the function is cut off before it hears back.
    let hanging = ScriptedPlatform::hanging();
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        deliver(store, &hanging, &job, 1, at(4), &policy),
    )
    .await;
    assert!(cut.is_err(), "the attempt was cut off");
    assert_eq!(hanging.posted().len(), 1);

    // Redelivered inside the lease: the attempt may still be alive, so wait.
    let platform = ScriptedPlatform::default();
    let early = deliver(
        store,
        &platform,
        &job,
        2,
        at(4) + Duration::seconds(10),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(early, Step::RetryIn(std::time::Duration::from_secs(50)));
    // Redelivered after the lease: not posted again, marked unconfirmed.
    let late = deliver(store, &platform, &job, 3, at(6), &policy)
        .await
        .unwrap();
    assert_eq!(late, Step::Done(DeliveryState::Unconfirmed));
    assert!(platform.posted().is_empty());
    let unconfirmed = reply_on(store, &ticket_id, &reply).await;
    assert_eq!(state(&unconfirmed), DeliveryState::Unconfirmed);
    assert!(
        unconfirmed
            .delivery
            .unwrap()
            .error
            .unwrap()
            .contains("not posted again")
    );

    // X sends the post back: it confirms the reply instead of adding a message.
    let echo = x_echo(
        "1500000000000000077",
        "ann",
        "t1",
        "@ann Checking now",
        at(4),
    );
    assert!(matches!(
        ingest(store, &echo).await.unwrap(),
        IngestOutcome::Duplicate { .. }
    ));
    let confirmed = reply_on(store, &ticket_id, &reply).await;
    let delivery = confirmed.delivery.unwrap();
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(delivery.platform_id.as_deref(), Some("1500000000000000077"));
    assert_eq!(delivery.sent_at, Some(at(4)));
    let detail = store.ticket_detail(&ticket_id).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);
}

pub async fn an_echo_before_the_senders_record_joins_the_reply<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(
        store,
        &ticket_id,
        &request("Looking into it", "echo"),
        at(3),
    )
    .await
    .unwrap()
    .reply;
    let echo = x_echo(
        "1500000000000000005",
        "ann",
        "t1",
        "@ann Looking into it",
        at(3),
    );
    assert_eq!(
        ingest(store, &echo).await.unwrap(),
        IngestOutcome::Duplicate {
            ticket_id: ticket_id.clone(),
            message_id: reply.id.clone()
        }
    );
    let platform = ScriptedPlatform::default();
    let step = deliver(
        store,
        &platform,
        &OutboxJob::of(&reply),
        1,
        at(4),
        &SendPolicy::default(),
    )
    .await
    .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Sent));
    assert!(platform.posted().is_empty());
    let detail = store.ticket_detail(&ticket_id).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.ticket.message_count, 2);
}

pub async fn a_rate_limited_reply_waits_for_the_reset_then_posts<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(store, &ticket_id, &request("Hi Ann", "limit"), at(3))
        .await
        .unwrap()
        .reply;
    let platform = ScriptedPlatform::answering(vec![Err(PostError::RateLimited {
        retry_at: at(4) + Duration::seconds(90),
        reason: "x-rate-limit-remaining: 0".into(),
    })]);
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy::default();
    let first = deliver(store, &platform, &job, 1, at(4), &policy)
        .await
        .unwrap();
    assert_eq!(first, Step::RetryIn(std::time::Duration::from_secs(90)));
    let waiting = reply_on(store, &ticket_id, &reply).await;
    assert_eq!(state(&waiting), DeliveryState::Pending);
    assert!(
        waiting
            .delivery
            .unwrap()
            .error
            .unwrap()
            .contains("rate limited until")
    );
    let second = deliver(
        store,
        &platform,
        &job,
        2,
        at(4) + Duration::seconds(90),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(second, Step::Done(DeliveryState::Sent));
    assert_eq!(platform.posted().len(), 2);
    let sent = reply_on(store, &ticket_id, &reply).await.delivery.unwrap();
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.error, None);
}

pub async fn a_permanent_refusal_fails_the_reply_with_the_reason<S: Store>(store: &S) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(store, &ticket_id, &request("Hi", "gone"), at(3))
        .await
        .unwrap()
        .reply;
    let reason = "X refused the post (403): You attempted to reply to a Tweet that is deleted or not visible to you.";
    let platform = ScriptedPlatform::answering(vec![Err(PostError::Permanent(reason.into()))]);
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy::default();
    for receive in 1..=2 {
        assert_eq!(
            deliver(store, &platform, &job, receive, at(4), &policy)
                .await
                .unwrap(),
            Step::Done(DeliveryState::Failed)
        );
    }
    assert_eq!(platform.posted().len(), 1);
    let failed = reply_on(store, &ticket_id, &reply).await.delivery.unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(failed.error.as_deref(), Some(reason));
}

pub async fn spent_retries_fail_the_reply_and_leave_it_to_the_dead_letter_queue<S: Store>(
    store: &S,
) {
    let (ticket_id, _) = complaint(store).await;
    let reply = write_reply(store, &ticket_id, &request("Hi", "tired"), at(3))
        .await
        .unwrap()
        .reply;
    let down = || Err(PostError::Transient("X answered 503".into()));
    let platform = ScriptedPlatform::answering(vec![down(), down()]);
    let job = OutboxJob::of(&reply);
    let policy = SendPolicy {
        max_receives: 2,
        ..SendPolicy::default()
    };
    let first = deliver(store, &platform, &job, 1, at(4), &policy)
        .await
        .unwrap();
    assert_eq!(first, Step::RetryIn(std::time::Duration::from_secs(2)));
    let last = deliver(store, &platform, &job, 2, at(5), &policy)
        .await
        .unwrap();
    assert_eq!(last, Step::DeadLetter);
    let failed = reply_on(store, &ticket_id, &reply).await.delivery.unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    let error = failed.error.unwrap();
    assert!(error.contains("dead-letter"), "{error}");
    assert!(error.contains("X answered 503"), "{error}");
}

fn acknowledging() -> Rules {
    let mut acknowledgements = Acknowledgements::default();
    acknowledgements.insert(Source::X, ACCOUNT, Acknowledgement::default());
    Rules {
        acknowledgements,
        ..Rules::default()
    }
}

pub async fn a_burst_of_five_is_acknowledged_once<S: Store>(store: &S) {
    let rules = acknowledging();
    let mut ticket_ids = Vec::new();
    for n in 0..5 {
        let event = x_mention(&format!("b{n}"), "ann", "@acme_care still down!!", at(n));
        let outcome = ingest_with(store, &event, &rules).await.unwrap();
        ticket_ids.push(match outcome {
            IngestOutcome::Opened { ticket_id, .. } | IngestOutcome::Joined { ticket_id, .. } => {
                ticket_id
            }
            other => panic!("{other:?}"),
        });
        // Redelivery of each changes nothing.
        ingest_with(store, &event, &rules).await.unwrap();
    }
    assert!(ticket_ids.iter().all(|id| *id == ticket_ids[0]));
    let detail = store.ticket_detail(&ticket_ids[0]).await.unwrap().unwrap();
    let acks: Vec<&Message> = detail
        .messages
        .iter()
        .filter(|m| m.delivery.as_ref().is_some_and(|d| d.automatic))
        .collect();
    assert_eq!(acks.len(), 1);
    let ack = acks[0];
    assert_eq!(
        ack.body.text,
        "Thanks for reaching out, Customer ann. We've seen this and a person from our team will answer you shortly."
    );
    assert_eq!(
        ack.delivery.as_ref().unwrap().target,
        Target::Public { to: "b0".into() }
    );
    assert_eq!(detail.messages.len(), 6);
    assert_eq!(detail.ticket.message_count, 6);
    // Not a human answer.
    assert_eq!(detail.ticket.first_response_at, None);
    let customer = detail.customer.unwrap();
    assert_eq!(customer.acknowledged_at, Some(at(0)));
    // Ingest queues it after any delivery of the first message while it is pending.
    let first = x_mention("b0", "ann", "@acme_care still down!!", at(0));
    let job = acknowledgement::pending_job(store, &rules.acknowledgements, &first.message)
        .await
        .unwrap()
        .expect("pending");
    assert_eq!(job.message_id, ack.id);
    let later = x_mention("b1", "ann", "@acme_care still down!!", at(1));
    assert_eq!(
        acknowledgement::pending_job(store, &rules.acknowledgements, &later.message)
            .await
            .unwrap(),
        None
    );
}

pub async fn acknowledgements_skip_the_brand_and_recently_acknowledged_customers<S: Store>(
    store: &S,
) {
    let rules = acknowledging();
    let first = x_mention("c1", "ann", "@acme_care down", at(0));
    let IngestOutcome::Opened { ticket_id, .. } = ingest_with(store, &first, &rules).await.unwrap()
    else {
        panic!("opens")
    };
    socialcare_domain::lifecycle::change_status(
        store,
        &ticket_id,
        TicketStatus::Closed,
        Actor::System,
        at(10),
    )
    .await
    .unwrap();
    // A new ticket 3 hours later: no second acknowledgement within the day.
    let again = x_mention("c2", "ann", "@acme_care down again", at(180));
    let IngestOutcome::Opened {
        ticket_id: second, ..
    } = ingest_with(store, &again, &rules).await.unwrap()
    else {
        panic!("opens a new ticket")
    };
    let detail = store.ticket_detail(&second).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 1);
    // The brand's own post opens nothing to acknowledge.
    let own = x_echo(
        "1500000000000000009",
        "bob",
        "x0",
        "New plans out today",
        at(5),
    );
    let IngestOutcome::Opened {
        ticket_id: brand, ..
    } = ingest_with(store, &own, &rules).await.unwrap()
    else {
        panic!("opens")
    };
    let detail = store.ticket_detail(&brand).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 1);
    // A day after the first, the customer is acknowledged again.
    socialcare_domain::lifecycle::change_status(
        store,
        &second,
        TicketStatus::Closed,
        Actor::System,
        at(190),
    )
    .await
    .unwrap();
    let IngestOutcome::Opened {
        ticket_id: third, ..
    } = ingest_with(
        store,
        &x_mention("c3", "ann", "@acme_care hello?", at(25 * 60)),
        &rules,
    )
    .await
    .unwrap()
    else {
        panic!("opens")
    };
    let detail = store.ticket_detail(&third).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.customer.unwrap().acknowledged_at, Some(at(25 * 60)));
}

fn x_echo(id: &str, customer: &str, parent: &str, text: &str, at: DateTime<Utc>) -> InboundEvent {
    let mut event = x_mention(id, ACCOUNT, text, at);
    event.message.direction = Direction::Outbound;
    event.message.author.name = Some("Acme Care".into());
    event.message.recipient_id = Some(customer.into());
    event.message.in_reply_to = Some(parent.into());
    event
}

/// Every case, by name, for the runner macro.
#[macro_export]
macro_rules! replies_contract {
    ($make:expr) => {
        $crate::replies_contract!(@cases $make;
            a_reply_is_pending_then_posted_once_for_two_deliveries,
            the_same_request_key_is_one_reply,
            racing_workers_post_once,
            a_timeout_after_the_platform_accepted_posts_once,
            an_echo_before_the_senders_record_joins_the_reply,
            a_rate_limited_reply_waits_for_the_reset_then_posts,
            a_permanent_refusal_fails_the_reply_with_the_reason,
            spent_retries_fail_the_reply_and_leave_it_to_the_dead_letter_queue,
            a_burst_of_five_is_acknowledged_once,
            acknowledgements_skip_the_brand_and_recently_acknowledged_customers
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::replies::$case(&store).await;
            }
        )+
    };
}
