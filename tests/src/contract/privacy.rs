//! The data-rights contract (SQLite and DynamoDB): a customer's export, their erasure, and
//! the retention of closed tickets.

use crate::events::{brand_reply, inbound};
use chrono::{DateTime, TimeZone, Utc};
use socialcare_app::scheduler::Scheduler;
use socialcare_domain::ingest::{IngestOutcome, ingest};
use socialcare_domain::lifecycle;
use socialcare_domain::ports::CustomerStore;
use socialcare_domain::privacy::{ErasureError, erase_customer, export_customer};
use socialcare_domain::retention::{Purged, Retention, purge_expired};
use socialcare_domain::timers::Timers;
use socialcare_domain::{
    Actor, Attachment, Customer, CustomerId, Erasure, EventKind, Identity, Source, TicketDetail,
    TicketId, TicketStatus,
};

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
}

fn agent(id: &str) -> Actor {
    Actor::Agent { id: id.into() }
}

async fn detail<S: Store>(store: &S, id: &TicketId) -> TicketDetail {
    store
        .ticket_detail(id)
        .await
        .unwrap()
        .expect("ticket exists")
}

fn opened(outcome: IngestOutcome) -> TicketId {
    match outcome {
        IngestOutcome::Opened { ticket_id, .. } => ticket_id,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn x_identity() -> Identity {
    Identity {
        source: Source::X,
        account: "1100000000000000001".into(),
        user_id: "3001969357".into(),
        handle: Some("ann_on_x".into()),
    }
}

/// Ann: a complaint with a photo, the brand's answer, her follow-up and an agent's note on a
/// ticket that is closed; then a second complaint on a new ticket; her X identity linked.
/// Bob: one complaint of his own.
struct Story {
    ann: Customer,
    first: TicketId,
    second: TicketId,
    bob_ticket: TicketId,
}

async fn story<S: Store>(store: &S) -> Story {
    let mut complaint = inbound("m1", "ann", "charged twice on card 4111", at(0));
    complaint.message.attachments = vec![Attachment {
        kind: "image".into(),
        url: "https://files.example/statement.png".into(),
        file: None,
    }];
    let first = opened(ingest(store, &complaint).await.unwrap());
    ingest(store, &brand_reply("b1", "ann", "m1", at(1)))
        .await
        .unwrap();
    ingest(
        store,
        &inbound("m2", "ann", "my number is 07700 900123", at(2)),
    )
    .await
    .unwrap();
    lifecycle::add_note(store, &first, "called Ann back", agent("sally"), at(3))
        .await
        .unwrap();
    lifecycle::change_status(store, &first, TicketStatus::Closed, agent("sally"), at(4))
        .await
        .unwrap();
    let second = opened(
        ingest(store, &inbound("m3", "ann", "charged again", at(5)))
            .await
            .unwrap(),
    );
    let ann = detail(store, &second).await.customer.unwrap();
    let ann = socialcare_domain::customers::link_identity(store, &ann.id, x_identity(), at(6))
        .await
        .unwrap();
    let bob_ticket = opened(
        ingest(store, &inbound("m9", "bob", "where is my parcel", at(7)))
            .await
            .unwrap(),
    );
    Story {
        ann,
        first,
        second,
        bob_ticket,
    }
}

pub async fn an_export_holds_everything_about_the_customer<S: Store>(store: &S) {
    let story = story(store).await;
    let export = export_customer(store, &story.ann.id, at(20))
        .await
        .unwrap()
        .expect("Ann is a customer");
    assert_eq!(export.exported_at, at(20));
    assert_eq!(export.customer, story.ann);
    assert_eq!(export.customer.identities.len(), 2);
    let tickets: Vec<&TicketId> = export.tickets.iter().map(|t| &t.ticket.id).collect();
    assert_eq!(
        tickets,
        [&story.second, &story.first],
        "newest first, Bob's not"
    );

    let first = &export.tickets[1];
    assert_eq!(first.ticket.subject, "charged twice on card 4111");
    assert_eq!(first.ticket.status, TicketStatus::Closed);
    let texts: Vec<&str> = first
        .messages
        .iter()
        .map(|m| m.body.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "charged twice on card 4111",
            "Sorry to hear that, we're on it",
            "my number is 07700 900123"
        ]
    );
    assert_eq!(
        first.messages[0].body.attachments[0].url,
        "https://files.example/statement.png"
    );
    let notes: Vec<&EventKind> = first
        .events
        .iter()
        .map(|e| &e.kind)
        .filter(|kind| matches!(kind, EventKind::Note { .. }))
        .collect();
    assert_eq!(
        notes,
        [&EventKind::Note {
            text: "called Ann back".into()
        }]
    );
    assert_eq!(first.events.len(), detail_events(store, &story.first).await);
    assert_eq!(export.tickets[0].messages.len(), 1);
    assert_eq!(export.tickets[0].messages[0].body.text, "charged again");

    let nobody = CustomerId::derive(at(0), "nobody");
    assert_eq!(export_customer(store, &nobody, at(20)).await.unwrap(), None);
}

async fn detail_events<S: Store>(store: &S, id: &TicketId) -> usize {
    store.ticket_events(id).await.unwrap().len()
}

pub async fn an_erased_customer_is_gone_and_a_replay_stays_out<S: Store>(store: &S) {
    let story = story(store).await;
    let erasure = erase_customer(store, &story.ann.id, "admin", at(30))
        .await
        .unwrap();
    let expected = Erasure {
        customer_id: story.ann.id.clone(),
        account: "crm".into(),
        requested_by: "admin".into(),
        requested_at: at(30),
        completed_at: Some(at(30)),
        tickets: 2,
        messages: 4,
        elsewhere: 0,
    };
    assert_eq!(erasure, expected);

    // The customer and both identities are gone.
    assert_eq!(
        CustomerStore::get_customer(store, &story.ann.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_customer("integration:crm:ann").await.unwrap(),
        None
    );
    assert_eq!(
        store.find_customer(&x_identity().key()).await.unwrap(),
        None
    );
    assert_eq!(
        export_customer(store, &story.ann.id, at(31)).await.unwrap(),
        None
    );

    for id in [&story.first, &story.second] {
        let found = detail(store, id).await;
        assert_eq!(found.customer, None);
        let ticket = &found.ticket;
        assert_eq!(ticket.subject, "");
        assert_eq!(ticket.topics, Vec::<String>::new());
        assert_eq!(ticket.triage, None);
        assert_eq!(ticket.status, TicketStatus::Closed);
        assert_eq!(ticket.timers, Timers::default());
        assert_eq!(ticket.erased_at, Some(at(30)));
        for message in &found.messages {
            assert_eq!(message.body.text, "", "{message:?}");
            assert_eq!(message.body.attachments, vec![]);
            assert_eq!(message.body.author.name, None);
            assert_eq!(message.body.author.email, None);
            assert_eq!(message.body.recipient_id, None);
            assert_eq!(message.erased_at, Some(at(30)));
        }
        let events = store.ticket_events(id).await.unwrap();
        let erased = events.iter().find(|e| e.kind == EventKind::Erased).unwrap();
        assert_eq!(erased.actor, agent("admin"));
        assert_eq!(erased.at, at(30));
    }
    // The open one was closed by the erasure, and the trail says so.
    let closing = store
        .ticket_events(&story.second)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.at == at(30) && matches!(e.kind, EventKind::StatusChanged { .. }))
        .unwrap();
    assert_eq!(
        closing.kind,
        EventKind::StatusChanged {
            from: TicketStatus::Open,
            to: TicketStatus::Closed
        }
    );
    assert_eq!(closing.actor, agent("admin"));
    let first = detail(store, &story.first).await;
    let ids: Vec<&str> = first
        .messages
        .iter()
        .map(|m| m.body.external_id.as_str())
        .collect();
    assert_eq!(ids, ["m1", "b1", "m2"], "each message keeps its place");
    assert_eq!(first.messages[0].body.author.id, "");
    assert_eq!(
        first.messages[1].body.author.id, "acme-support",
        "the brand's own"
    );
    assert_eq!(first.ticket.message_count, 3);
    let note = store
        .ticket_events(&story.first)
        .await
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Note { .. }))
        .unwrap();
    assert_eq!(
        note.kind,
        EventKind::Note {
            text: String::new()
        }
    );

    // The original webhook, replayed, is a duplicate: the text does not come back.
    let replay = inbound("m1", "ann", "charged twice on card 4111", at(0));
    let outcome = ingest(store, &replay).await.unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Duplicate { ticket_id, .. } if *ticket_id == story.first),
        "{outcome:?}"
    );
    let after = detail(store, &story.first).await;
    assert_eq!(after.messages.len(), 3);
    assert_eq!(after.messages[0].body.text, "");
    // Nor through a late edit of it.
    let edit = socialcare_domain::MessageChange {
        source: Source::Integration,
        account: "crm".into(),
        external_id: "m1".into(),
        change: socialcare_domain::ChangeKind::Edited {
            text: "charged twice on card 4111, again".into(),
        },
        at: at(31),
    };
    let edited = socialcare_domain::ingest::apply_change(store, &edit)
        .await
        .unwrap();
    assert_eq!(edited, socialcare_domain::ChangeOutcome::AlreadyApplied);
    // A reply to an erased message is new data: a new ticket, a new customer.
    let reply = crate::events::reply("m5", "ann", "m2", at(32));
    let answer = ingest(store, &reply).await.unwrap();
    let IngestOutcome::Opened {
        ticket_id: fresh, ..
    } = answer
    else {
        panic!("{answer:?}")
    };
    let fresh = detail(store, &fresh).await;
    assert_eq!(fresh.ticket.erased_at, None);
    assert_ne!(fresh.customer.unwrap().id, story.ann.id);
    assert_eq!(detail(store, &story.first).await.messages.len(), 3);

    // Asked again: the same record, nothing written.
    let again = erase_customer(store, &story.ann.id, "someone-else", at(40))
        .await
        .unwrap();
    assert_eq!(again, expected);
    assert_eq!(store.list_erasures().await.unwrap(), vec![expected]);

    // Bob is untouched.
    let bob = detail(store, &story.bob_ticket).await;
    assert_eq!(bob.ticket.subject, "where is my parcel");
    assert_eq!(bob.ticket.erased_at, None);
    assert_eq!(bob.messages[0].body.text, "where is my parcel");
    assert!(bob.customer.is_some());

    let nobody = CustomerId::derive(at(0), "nobody");
    assert_eq!(
        erase_customer(store, &nobody, "admin", at(41)).await,
        Err(ErasureError::NotFound(nobody))
    );
}

/// What the customer's own tickets do not hold: what they wrote in another customer's thread,
/// and the incident a complaint of theirs opened (its example is their words).
pub async fn an_erasure_reaches_their_words_on_others_tickets_and_incidents<S: Store>(store: &S) {
    let story = story(store).await;
    // Ann answers in Bob's thread: her message joins his ticket.
    let mut in_bobs = crate::events::reply("a9", "ann", "m9", at(8));
    in_bobs.message.text = "same here, my parcel is lost too".into();
    let outcome = ingest(store, &in_bobs).await.unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == story.bob_ticket),
        "{outcome:?}"
    );
    // Her first complaint opened an incident.
    let ticket = detail(store, &story.first).await.ticket;
    let incident = socialcare_domain::incident::Incident::open(
        Source::Integration,
        "crm",
        "charg",
        &ticket.subject,
        ticket.created_at,
        socialcare_domain::incident::Spike {
            window_start: at(0),
            window_minutes: 10,
            count: 12,
            baseline: 1.0,
        },
    );
    store.open_incident(&incident).await.unwrap();
    let attached = socialcare_domain::Ticket {
        incident_id: Some(incident.id.clone()),
        version: ticket.version + 1,
        ..ticket.clone()
    };
    store
        .update_ticket(&socialcare_domain::ports::TicketUpdate {
            ticket: attached,
            version_before: ticket.version,
            events: vec![],
            replies: vec![],
            samples: vec![],
        })
        .await
        .unwrap();

    // Her export has what she wrote in Bob's thread; his leaves it out, counted.
    let hers = export_customer(store, &story.ann.id, at(20))
        .await
        .unwrap()
        .unwrap();
    let elsewhere: Vec<&str> = hers
        .elsewhere
        .iter()
        .map(|m| m.body.external_id.as_str())
        .collect();
    assert_eq!(elsewhere, ["a9"]);
    assert_eq!(
        hers.elsewhere[0].body.text,
        "same here, my parcel is lost too"
    );
    assert!(hers.tickets.iter().all(|t| t.others_left_out == 0));
    let bob_id = detail(store, &story.bob_ticket).await.ticket.customer_id;
    let his = export_customer(store, &bob_id, at(20))
        .await
        .unwrap()
        .unwrap();
    let texts: Vec<&str> = his.tickets[0]
        .messages
        .iter()
        .map(|m| m.body.text.as_str())
        .collect();
    assert_eq!(texts, ["where is my parcel"]);
    assert_eq!(his.tickets[0].others_left_out, 1);
    assert_eq!(his.elsewhere, vec![]);

    let erasure = erase_customer(store, &story.ann.id, "admin", at(30))
        .await
        .unwrap();
    assert_eq!(erasure.tickets, 2);
    assert_eq!(erasure.messages, 5, "four on her tickets, one on Bob's");
    assert_eq!(erasure.elsewhere, 1);

    let bob = detail(store, &story.bob_ticket).await;
    let texts: Vec<(&str, &str)> = bob
        .messages
        .iter()
        .map(|m| (m.body.external_id.as_str(), m.body.text.as_str()))
        .collect();
    assert_eq!(texts, [("m9", "where is my parcel"), ("a9", "")]);
    assert_eq!(bob.messages[1].erased_at, Some(at(30)));
    assert_eq!(bob.messages[1].body.author.name, None);
    assert_eq!(bob.messages[0].erased_at, None, "Bob's own stays");
    assert_eq!(bob.ticket.subject, "where is my parcel");
    assert_eq!(bob.ticket.erased_at, None);
    assert_eq!(bob.ticket.status, TicketStatus::Open);

    let stored = store.get_incident(&incident.id).await.unwrap().unwrap();
    assert_eq!(stored.example, "", "her words");
    assert_eq!(stored.topic, "charg", "the term names nobody");
    assert_eq!(stored.spike, incident.spike);
}

pub async fn an_erasure_cut_short_is_finished_when_asked_again<S: Store>(store: &S) {
    let story = story(store).await;
    // The first request recorded itself and erased one message before it stopped.
    let started = Erasure {
        customer_id: story.ann.id.clone(),
        account: "crm".into(),
        requested_by: "first-admin".into(),
        requested_at: at(30),
        completed_at: None,
        tickets: 0,
        messages: 0,
        elsewhere: 0,
    };
    store.put_erasure(&started).await.unwrap();
    let m3 = detail(store, &story.second).await.messages.remove(0);
    store
        .replace_message(&m3.erased(at(30)), m3.version)
        .await
        .unwrap();

    let erasure = erase_customer(store, &story.ann.id, "second-admin", at(35))
        .await
        .unwrap();
    assert_eq!(
        erasure,
        Erasure {
            completed_at: Some(at(35)),
            tickets: 2,
            messages: 4,
            elsewhere: 0,
            ..started
        }
    );
    let second = detail(store, &story.second).await;
    assert_eq!(
        second.messages[0].erased_at,
        Some(at(30)),
        "not erased twice"
    );
    assert_eq!(second.ticket.erased_at, Some(at(35)));
    let first = detail(store, &story.first).await;
    assert!(first.messages.iter().all(|m| m.erased_at == Some(at(35))));
    assert_eq!(
        CustomerStore::get_customer(store, &story.ann.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_erasures().await.unwrap(), vec![erasure]);
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

/// A purge reads a bounded number of closed tickets, and the next goes on from there: the
/// tickets of an account that keeps its own are not all read again every hour.
pub async fn a_purge_reads_a_bounded_part_and_the_next_goes_on_from_there<S: Store>(store: &S) {
    let mut expiring = Vec::new();
    // Five of an account with a retention (the oldest), three of one without (the newest).
    for (n, account) in ["crm", "crm", "crm", "crm", "crm", "keeps", "keeps", "keeps"]
        .into_iter()
        .enumerate()
    {
        let mut event = inbound(&format!("p{n}"), &format!("c{n}"), "refund", at(n as u32));
        event.message.account = account.into();
        let id = opened(ingest(store, &event).await.unwrap());
        lifecycle::change_status(store, &id, TicketStatus::Closed, agent("sally"), at(20))
            .await
            .unwrap();
        if account == "crm" {
            expiring.push(id);
        }
    }
    let mut retention = Retention::default();
    retention.keep(Source::Integration, "crm", 30);
    let now = at(21) + days(30);
    let expiring = &expiring;
    let left = || async move {
        let mut left = 0;
        for id in expiring {
            if store.get_ticket(id).await.unwrap().is_some() {
                left += 1;
            }
        }
        left
    };
    let run = || purge_expired(store, &retention, now, 100, 3);
    // The newest three (the other account's) first: nothing expires there.
    assert_eq!(run().await.unwrap(), Purged::default());
    assert_eq!(left().await, 5);
    assert!(store.purge_cursor().await.unwrap().is_some());
    assert_eq!(run().await.unwrap().tickets, 3);
    assert_eq!(left().await, 2);
    // The last two, the oldest: the round is over, and the next starts from the newest.
    assert_eq!(run().await.unwrap().tickets, 2);
    assert_eq!(left().await, 0);
    assert_eq!(store.purge_cursor().await.unwrap(), None);
    assert_eq!(run().await.unwrap(), Purged::default());

    // A purge that reached its own bound goes on after the last ticket it purged.
    store.set_purge_cursor(None).await.unwrap();
    let bounded = purge_expired(store, &retention, now, 1, 1000)
        .await
        .unwrap();
    assert_eq!(bounded, Purged::default(), "nothing left to purge");
    assert_eq!(store.purge_cursor().await.unwrap(), None);
}

pub async fn a_closed_ticket_goes_once_its_accounts_retention_passed<S: Store>(store: &S) {
    let close = |id: TicketId, when: DateTime<Utc>| async move {
        lifecycle::change_status(store, &id, TicketStatus::Closed, agent("sally"), when)
            .await
            .unwrap();
        id
    };
    let ann = close(
        opened(
            ingest(store, &inbound("m1", "ann", "refund please", at(0)))
                .await
                .unwrap(),
        ),
        at(10),
    )
    .await;
    lifecycle::add_note(store, &ann, "refunded", agent("sally"), at(9))
        .await
        .unwrap();
    let bob = close(
        opened(
            ingest(store, &inbound("m2", "bob", "late parcel", at(1)))
                .await
                .unwrap(),
        ),
        at(10) + days(10),
    )
    .await;
    let cara = opened(
        ingest(store, &inbound("m3", "cara", "still open", at(2)))
            .await
            .unwrap(),
    );
    let mut other = inbound("m4", "dan", "another brand's", at(3));
    other.message.account = "other-crm".into();
    let dan = close(opened(ingest(store, &other).await.unwrap()), at(10)).await;
    let ann_customer = detail(store, &ann).await.customer.unwrap();

    let mut retention = Retention::default();
    retention.keep(Source::Integration, "crm", 30);
    let retention = &retention;
    let purge = |now| async move {
        purge_expired(store, retention, now, 100, 1000)
            .await
            .unwrap()
    };

    // A minute short of 30 days after Ann's was closed: nothing goes.
    assert_eq!(purge(at(9) + days(30)).await, Purged::default());
    assert!(store.ticket_detail(&ann).await.unwrap().is_some());

    let purged = purge(at(10) + days(30)).await;
    assert_eq!(
        purged,
        Purged {
            tickets: 1,
            messages: 1
        }
    );
    assert_eq!(store.ticket_detail(&ann).await.unwrap(), None);
    assert_eq!(store.ticket_events(&ann).await.unwrap(), vec![]);
    assert_eq!(store.ticket_messages(&ann, None, 10).await.unwrap(), vec![]);
    for kept in [&bob, &cara, &dan] {
        assert!(store.ticket_detail(kept).await.unwrap().is_some(), "{kept}");
    }
    // The customer stays; the message's dedupe record too: a replay is a duplicate.
    assert!(
        CustomerStore::get_customer(store, &ann_customer.id)
            .await
            .unwrap()
            .is_some()
    );
    let replay = ingest(store, &inbound("m1", "ann", "refund please", at(0)))
        .await
        .unwrap();
    assert!(
        matches!(&replay, IngestOutcome::Duplicate { ticket_id, .. } if *ticket_id == ann),
        "{replay:?}"
    );
    assert_eq!(store.ticket_detail(&ann).await.unwrap(), None);

    // A ticket that changed since the purge read it (a message reopened it) is kept.
    let listed = store.get_ticket(&bob).await.unwrap().unwrap();
    lifecycle::change_priority(
        store,
        &bob,
        socialcare_domain::Priority::High,
        agent("sally"),
        at(20),
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .purge_ticket(&listed, at(10) + days(41))
            .await
            .unwrap(),
        None
    );
    assert!(store.ticket_detail(&bob).await.unwrap().is_some());
    assert_eq!(
        store.ticket_messages(&bob, None, 10).await.unwrap().len(),
        1
    );

    // Bob's 10 days later; the open one and the other account's stay.
    assert_eq!(purge(at(9) + days(40)).await, Purged::default());
    assert_eq!(
        purge(at(10) + days(41)).await,
        Purged {
            tickets: 1,
            messages: 1
        }
    );
    assert_eq!(store.ticket_detail(&bob).await.unwrap(), None);
    assert_eq!(purge(at(10) + days(400)).await, Purged::default());
    assert!(store.ticket_detail(&cara).await.unwrap().is_some());
    assert!(store.ticket_detail(&dan).await.unwrap().is_some());
}

pub async fn the_scheduler_purges_once_an_hour<S: Store>(store: &S) {
    let ticket = opened(
        ingest(store, &inbound("m1", "ann", "refund please", at(0)))
            .await
            .unwrap(),
    );
    lifecycle::change_status(store, &ticket, TicketStatus::Closed, agent("sally"), at(1))
        .await
        .unwrap();
    let mut retention = Retention::default();
    retention.keep(Source::Integration, "crm", 1);
    let scheduler = Scheduler::default();
    let first = at(0) + chrono::Duration::hours(2);
    assert!(scheduler.purge_due(first));
    assert_eq!(
        scheduler.purge(store, &retention, first).await.unwrap(),
        Purged::default()
    );
    // The last purge was less than an hour ago: none is due.
    let within_the_hour = first + chrono::Duration::minutes(59);
    assert!(!scheduler.purge_due(within_the_hour));
    assert_eq!(
        scheduler
            .purge(store, &retention, within_the_hour)
            .await
            .unwrap(),
        Purged::default()
    );
    assert!(store.ticket_detail(&ticket).await.unwrap().is_some());
    let later = at(1) + days(1);
    assert!(scheduler.purge_due(later));
    assert_eq!(
        scheduler.purge(store, &retention, later).await.unwrap(),
        Purged {
            tickets: 1,
            messages: 1
        }
    );
    assert_eq!(store.ticket_detail(&ticket).await.unwrap(), None);
}

#[macro_export]
macro_rules! privacy_contract {
    ($make:expr) => {
        $crate::privacy_contract!(@cases $make;
            an_export_holds_everything_about_the_customer,
            an_erased_customer_is_gone_and_a_replay_stays_out,
            an_erasure_cut_short_is_finished_when_asked_again,
            an_erasure_reaches_their_words_on_others_tickets_and_incidents,
            a_closed_ticket_goes_once_its_accounts_retention_passed,
            a_purge_reads_a_bounded_part_and_the_next_goes_on_from_there,
            the_scheduler_purges_once_an_hour
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::privacy::$case(&store).await;
            }
        )+
    };
}
