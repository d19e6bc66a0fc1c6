//! The ticket store contract (SQLite and DynamoDB), through the domain's ingest.

use crate::events::{brand_reply, inbound, reply};
use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_domain::access::{ApiKey, Role};
use socialcare_domain::customers::{self, LinkError};
use socialcare_domain::ingest::{ChangeOutcome, IngestOutcome, apply_change, ingest, ingest_with};
use socialcare_domain::lifecycle::{self, CommandError};
use socialcare_domain::ports::CommitError;
use socialcare_domain::ports::{CustomerStore, IngestStore, Lookup};
use socialcare_domain::{
    Actor, ChangeKind, Channel, Direction, EventKind, Identity, MessageChange, MessageId, Source,
    Ticket, TicketDetail, TicketEvent, TicketId, TicketQuery, TicketStatus,
};

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
}

async fn detail<S: Store>(store: &S, id: &TicketId) -> TicketDetail {
    store
        .ticket_detail(id)
        .await
        .expect("store answers")
        .expect("ticket exists")
}

fn opened(outcome: IngestOutcome) -> TicketId {
    match outcome {
        IngestOutcome::Opened { ticket_id, .. } => ticket_id,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

pub async fn a_first_message_opens_a_ticket<S: Store>(store: &S) {
    let event = inbound("m1", "ann", "My router is down", at(0));
    let ticket_id = opened(ingest(store, &event).await.unwrap());

    let found = detail(store, &ticket_id).await;
    let ticket = &found.ticket;
    assert_eq!(ticket.id, ticket_id);
    assert_eq!(ticket.account, "crm");
    assert_eq!(ticket.source, Source::Integration);
    assert_eq!(ticket.status, TicketStatus::Open);
    assert_eq!(ticket.subject, "My router is down");
    assert_eq!(ticket.created_at, at(0));
    assert_eq!(ticket.last_message_at, at(0));
    assert_eq!(ticket.message_count, 1);
    assert_eq!(ticket.version, 1);

    let customer = found.customer.expect("the customer is stored");
    assert_eq!(customer.id, ticket.customer_id);
    assert_eq!(customer.name.as_deref(), Some("Customer ann"));
    assert_eq!(customer.email.as_deref(), Some("ann@example.com"));
    assert_eq!(customer.latest_ticket_id, Some(ticket_id.clone()));
    assert_eq!(customer.identities.len(), 1);
    assert_eq!(customer.identities[0].key(), "integration:crm:ann");

    assert_eq!(found.messages.len(), 1);
    let message = &found.messages[0];
    assert_eq!(message.id, event.message.message_id());
    assert_eq!(message.ticket_id, ticket_id);
    assert_eq!(message.body, event.message);
    assert_eq!(message.body.channel, Channel::Private);
    assert_eq!(message.body.direction, Direction::Inbound);
    assert_eq!(message.received_at, at(0) + Duration::seconds(1));
}

pub async fn the_same_event_three_times_is_one_message<S: Store>(store: &S) {
    let event = inbound("m1", "ann", "hello", at(0));
    let ticket_id = opened(ingest(store, &event).await.unwrap());
    for _ in 0..2 {
        assert_eq!(
            ingest(store, &event).await.unwrap(),
            IngestOutcome::Duplicate {
                ticket_id: ticket_id.clone(),
                message_id: event.message.message_id(),
            }
        );
    }
    let found = detail(store, &ticket_id).await;
    assert_eq!(found.messages.len(), 1);
    assert_eq!(found.ticket.message_count, 1);
    assert_eq!(found.ticket.version, 1);
    let page = store.list_tickets(&query(None, 10)).await.unwrap();
    assert_eq!(page.items.len(), 1);
}

pub async fn concurrent_deliveries_of_one_event_store_it_once<S: Store>(store: &S) {
    let first = inbound("m1", "ann", "hello", at(0));
    let ticket_id = opened(ingest(store, &first).await.unwrap());
    let second = inbound("m2", "ann", "anyone?", at(1));
    let outcomes = futures_join3(
        ingest(store, &second),
        ingest(store, &second),
        ingest(store, &second),
    )
    .await;
    let joined = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Joined { .. })))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Duplicate { .. })))
        .count();
    assert_eq!((joined, duplicates), (1, 2), "{outcomes:?}");
    let found = detail(store, &ticket_id).await;
    assert_eq!(found.messages.len(), 2);
    assert_eq!(found.ticket.message_count, 2);
}

async fn futures_join3<A: std::future::Future>(a: A, b: A, c: A) -> [A::Output; 3] {
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}

pub async fn a_customers_next_message_joins_their_open_ticket<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    let outcome = ingest(store, &inbound("m2", "ann", "still down", at(5)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        IngestOutcome::Joined {
            ticket_id: ticket_id.clone(),
            message_id: inbound("m2", "ann", "still down", at(5))
                .message
                .message_id(),
            samples: Vec::new(),
        }
    );
    let found = detail(store, &ticket_id).await;
    assert_eq!(found.ticket.message_count, 2);
    assert_eq!(found.ticket.last_message_at, at(5));
    assert_eq!(found.ticket.created_at, at(0));
    assert_eq!(found.ticket.subject, "down");
    assert_eq!(found.ticket.version, 2);
    let texts: Vec<&str> = found
        .messages
        .iter()
        .map(|m| m.body.text.as_str())
        .collect();
    assert_eq!(texts, ["down", "still down"]);
    // The second message said nothing new of the customer: they are not written again.
    assert_eq!(found.customer.unwrap().version, 1);
}

/// A customer is written when a message changes what is known of them, not when it only says
/// they wrote again: a write of the customer costs as much as the message's.
pub async fn a_customer_is_rewritten_only_when_a_message_changes_them<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    ingest(store, &inbound("m2", "ann", "still down", at(5)))
        .await
        .unwrap();
    let customer = detail(store, &ticket_id).await.customer.unwrap();
    assert_eq!(customer.version, 1);
    assert_eq!(customer.updated_at, at(0));
    assert_eq!(customer.name.as_deref(), Some("Customer ann"));
    assert_eq!(customer.latest_ticket_id, Some(ticket_id.clone()));
    // A new name is news: written, with the time it was learned.
    let mut renamed = inbound("m3", "ann", "hello?", at(9));
    renamed.message.author.name = Some("Ann Smith".into());
    ingest(store, &renamed).await.unwrap();
    let customer = detail(store, &ticket_id).await.customer.unwrap();
    assert_eq!(customer.version, 2);
    assert_eq!(customer.updated_at, at(9));
    assert_eq!(customer.name.as_deref(), Some("Ann Smith"));
    // So is a new ticket: their next message goes to it.
    lifecycle::change_status(store, &ticket_id, TicketStatus::Closed, agent(), at(10))
        .await
        .unwrap();
    let new = opened(
        ingest(store, &inbound("m4", "ann", "down again", at(20)))
            .await
            .unwrap(),
    );
    assert_ne!(new, ticket_id);
    let customer = detail(store, &new).await.customer.unwrap();
    assert_eq!(customer.version, 3);
    assert_eq!(customer.latest_ticket_id, Some(new));
}

pub async fn messages_are_ordered_by_platform_time_whatever_the_arrival<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m2", "ann", "second", at(5)))
            .await
            .unwrap(),
    );
    ingest(store, &inbound("m1", "ann", "first", at(1)))
        .await
        .unwrap();
    let found = detail(store, &ticket_id).await;
    let texts: Vec<&str> = found
        .messages
        .iter()
        .map(|m| m.body.text.as_str())
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(found.ticket.last_message_at, at(5));
}

/// Issue 14: a flooded ticket came back whole (past Lambda's 6 MB answer); its messages and
/// events now come in pages, in order, each continuing after the last one seen.
pub async fn a_tickets_messages_and_events_come_in_pages<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("p0", "ann", "message 0", at(0)))
            .await
            .unwrap(),
    );
    // Arriving out of order; the pages follow platform time.
    for i in [4u32, 2, 1, 3, 6, 5] {
        ingest(
            store,
            &inbound(&format!("p{i}"), "ann", &format!("message {i}"), at(i)),
        )
        .await
        .unwrap();
    }
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .ticket_messages(&ticket_id, after.as_deref(), 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|m| m.sort_key());
        pages.push(page.iter().map(|m| m.body.text.clone()).collect::<Vec<_>>());
    }
    assert_eq!(
        pages,
        [
            ["message 0", "message 1", "message 2"]
                .map(String::from)
                .to_vec(),
            ["message 3", "message 4", "message 5"]
                .map(String::from)
                .to_vec(),
            ["message 6"].map(String::from).to_vec(),
        ]
    );
    let all = store.ticket_events(&ticket_id).await.unwrap();
    assert_eq!(all.len(), 7, "{all:?}");
    let first = store.ticket_events_page(&ticket_id, None, 4).await.unwrap();
    assert_eq!(first, all[..4]);
    let rest = store
        .ticket_events_page(&ticket_id, Some(&first[3].sort_key()), 4)
        .await
        .unwrap();
    assert_eq!(rest, all[4..]);
    let unknown = TicketId::derive(at(0), "nobody");
    assert!(
        store
            .ticket_messages(&unknown, None, 3)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The trail, whole and in pages of every size, holds the messages' arrivals among the
/// ticket's other events in time order (a reopening after the message that caused it), and a
/// message's arrival stays on it after the message is edited.
pub async fn the_trail_pages_in_order_across_messages_changes_and_edits<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    lifecycle::add_note(store, &ticket_id, "called", agent(), at(1))
        .await
        .unwrap();
    ingest(store, &inbound("m2", "ann", "still down", at(2)))
        .await
        .unwrap();
    lifecycle::change_status(store, &ticket_id, TicketStatus::Resolved, agent(), at(3))
        .await
        .unwrap();
    ingest(store, &inbound("m3", "ann", "broken again", at(4)))
        .await
        .unwrap();
    lifecycle::add_note(store, &ticket_id, "engineer booked", agent(), at(5))
        .await
        .unwrap();
    apply_change(store, &change("m2", edited("still down, all day"), at(6)))
        .await
        .unwrap();
    ingest(store, &inbound("m4", "ann", "thanks", at(7)))
        .await
        .unwrap();

    let all = store.ticket_events(&ticket_id).await.unwrap();
    let messages = detail(store, &ticket_id).await.messages;
    let text = |id: &MessageId| {
        messages
            .iter()
            .find(|m| m.id == *id)
            .map(|m| m.body.text.clone())
            .unwrap_or_default()
    };
    let label = |event: &TicketEvent| match &event.kind {
        EventKind::Created { .. } => "created".to_string(),
        EventKind::MessageAdded { message_id, .. } => format!("message {}", text(message_id)),
        EventKind::Note { text } => format!("note {text}"),
        EventKind::StatusChanged { to, .. } => format!("status {to}"),
        other => format!("{other:?}"),
    };
    let labels: Vec<String> = all.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "created",
            "note called",
            "message still down, all day",
            "status resolved",
            "message broken again",
            "status open",
            "note engineer booked",
            "message thanks",
        ]
    );
    for size in [1u32, 2, 3, 8, 9] {
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .ticket_events_page(&ticket_id, after.as_deref(), size)
                .await
                .unwrap();
            assert!(page.len() <= size as usize, "a page of {size}: {page:?}");
            let Some(last) = page.last() else { break };
            after = Some(last.sort_key());
            paged.extend(page);
        }
        assert_eq!(paged, all, "in pages of {size}");
    }
}

/// What ingest reads first, together, is what the lookups one by one find: the message (not
/// stored yet), its parent's record, the ticket of an answer that came before it, and its
/// author's customer; a message given as its own parent is stored like any other.
pub async fn the_first_lookups_together_find_what_each_finds<S: Store>(store: &S) {
    ingest(store, &inbound("m1", "ann", "down", at(0)))
        .await
        .unwrap();
    // An answer to m9, which has not come yet.
    let early = opened(
        ingest(store, &reply("r1", "bob", "m9", at(1)))
            .await
            .unwrap(),
    );
    let m9 = reply("m9", "ann", "m1", at(2)).message;
    let (dedupe_key, parent_key, identity_key) =
        (m9.dedupe_key(), m9.dedupe_key_of("m1"), m9.customer_key());
    let keys = Lookup {
        dedupe_key: &dedupe_key,
        parent_key: Some(&parent_key),
        identity_key: &identity_key,
    };
    let found = store.look_up(&keys).await.unwrap();
    let parent = store.find_message(&parent_key).await.unwrap();
    assert!(parent.is_some());
    assert_eq!(found.stored, None);
    assert_eq!(found.parent, parent);
    assert_eq!(found.awaiting, Some(early));
    assert_eq!(
        found.awaiting,
        store.find_awaiting(&dedupe_key).await.unwrap()
    );
    let customer = store.find_customer(&identity_key).await.unwrap();
    assert_eq!(
        customer.as_ref().map(|c| c.name.clone()),
        Some(Some("Customer ann".into()))
    );
    assert_eq!(found.customer, customer);

    let selfish = reply("m5", "cat", "m5", at(3));
    let outcome = ingest(store, &selfish).await.unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Opened { .. }),
        "{outcome:?}"
    );
    let key = selfish.message.dedupe_key();
    let again = Lookup {
        dedupe_key: &key,
        parent_key: Some(&key),
        identity_key: &selfish.message.customer_key(),
    };
    let found = store.look_up(&again).await.unwrap();
    assert_eq!(found.stored, store.find_message(&key).await.unwrap());
    assert!(found.stored.is_some());
    assert_eq!(found.parent, found.stored);
}

pub async fn a_reply_joins_the_ticket_of_the_message_it_answers<S: Store>(store: &S) {
    let anns = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    // Bob answers Ann's message: it is the same conversation.
    let outcome = ingest(store, &reply("m2", "bob", "m1", at(2)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == anns),
        "{outcome:?}"
    );
    let found = detail(store, &anns).await;
    assert_eq!(found.messages.len(), 2);
    assert_eq!(found.messages[1].body.author.id, "bob");
    assert_eq!(found.ticket.customer_id, found.customer.unwrap().id);
}

pub async fn a_reply_to_an_unknown_message_threads_by_customer<S: Store>(store: &S) {
    let outcome = ingest(store, &reply("m2", "ann", "never-seen", at(2)))
        .await
        .unwrap();
    let ticket_id = opened(outcome);
    let found = detail(store, &ticket_id).await;
    assert_eq!(
        found.messages[0].body.in_reply_to.as_deref(),
        Some("never-seen")
    );
}

pub async fn an_unknown_ticket_is_absent<S: Store>(store: &S) {
    let id = TicketId::derive(at(0), "nothing");
    assert_eq!(store.ticket_detail(&id).await.unwrap(), None);
    assert_eq!(IngestStore::get_ticket(store, &id).await.unwrap(), None);
}

fn query(status: Option<TicketStatus>, limit: u32) -> TicketQuery {
    TicketQuery {
        status,
        owner: None,
        limit,
        after: None,
    }
}

pub async fn tickets_list_newest_first_in_pages<S: Store>(store: &S) {
    let mut expected = Vec::new();
    for (n, customer) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        let event = inbound(&format!("m{n}"), customer, "help", at(n as u32 * 10));
        expected.push(opened(ingest(store, &event).await.unwrap()));
    }
    expected.reverse();

    let mut seen: Vec<TicketId> = Vec::new();
    let mut request = query(None, 2);
    let mut pages = 0;
    loop {
        let page = store.list_tickets(&request).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|t: &Ticket| t.id.clone()));
        match page.next {
            Some(cursor) => request.after = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

pub async fn tickets_filter_by_status<S: Store>(store: &S) {
    let id = opened(
        ingest(store, &inbound("m1", "ann", "help", at(0)))
            .await
            .unwrap(),
    );
    let open = store
        .list_tickets(&query(Some(TicketStatus::Open), 10))
        .await
        .unwrap();
    assert_eq!(
        open.items.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [id]
    );
    assert_eq!(open.next, None);
    for status in [
        TicketStatus::Resolved,
        TicketStatus::PendingCustomer,
        TicketStatus::Closed,
    ] {
        let page = store.list_tickets(&query(Some(status), 10)).await.unwrap();
        assert!(page.items.is_empty(), "{status}");
    }
}

pub async fn an_empty_store_lists_nothing<S: Store>(store: &S) {
    let page = store.list_tickets(&query(None, 10)).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.next, None);
}

fn change(id: &str, kind: ChangeKind, at: DateTime<Utc>) -> MessageChange {
    MessageChange {
        source: Source::Integration,
        account: "crm".into(),
        external_id: id.into(),
        change: kind,
        at,
    }
}

fn edited(text: &str) -> ChangeKind {
    ChangeKind::Edited { text: text.into() }
}

pub async fn an_edit_replaces_the_text_and_keeps_the_original<S: Store>(store: &S) {
    let event = inbound("m1", "ann", "down", at(0));
    let ticket_id = opened(ingest(store, &event).await.unwrap());
    let applied = apply_change(store, &change("m1", edited("down since 6am"), at(1))).await;
    assert_eq!(
        applied.unwrap(),
        ChangeOutcome::Applied {
            ticket_id: ticket_id.clone(),
            message_id: event.message.message_id(),
        }
    );
    let message = detail(store, &ticket_id).await.messages.remove(0);
    assert_eq!(message.body.text, "down since 6am");
    assert_eq!(message.original_text.as_deref(), Some("down"));
    assert_eq!(message.edited_at, Some(at(1)));
    assert_eq!(message.version, 2);

    // Redelivered, or an older edit arriving late: nothing moves.
    for late in [at(1), at(0) + Duration::seconds(30)] {
        let outcome = apply_change(store, &change("m1", edited("older"), late)).await;
        assert_eq!(outcome.unwrap(), ChangeOutcome::AlreadyApplied);
    }
    apply_change(store, &change("m1", edited("down since 6am, help"), at(2)))
        .await
        .unwrap();
    let message = detail(store, &ticket_id).await.messages.remove(0);
    assert_eq!(message.body.text, "down since 6am, help");
    assert_eq!(message.original_text.as_deref(), Some("down"));
    assert_eq!(message.edited_at, Some(at(2)));
    assert_eq!(message.version, 3);
    assert_eq!(message.body.created_at, at(0));
}

pub async fn a_removal_and_a_hiding_are_recorded_once<S: Store>(store: &S) {
    let mut event = inbound("m1", "ann", "rude words", at(0));
    event.message.attachments = vec![socialcare_domain::Attachment {
        kind: "image".into(),
        url: "https://pbs.example/rude.jpg".into(),
        file: None,
    }];
    let ticket_id = opened(ingest(store, &event).await.unwrap());
    apply_change(store, &change("m1", edited("ruder words"), at(1)))
        .await
        .unwrap();
    for _ in 0..2 {
        apply_change(store, &change("m1", ChangeKind::Hidden, at(3)))
            .await
            .unwrap();
    }
    let again = apply_change(store, &change("m1", ChangeKind::Hidden, at(4)))
        .await
        .unwrap();
    assert_eq!(again, ChangeOutcome::AlreadyApplied);
    apply_change(store, &change("m1", ChangeKind::Removed, at(5)))
        .await
        .unwrap();
    let message = detail(store, &ticket_id).await.messages.remove(0);
    assert_eq!(message.hidden_at, Some(at(3)));
    assert_eq!(message.removed_at, Some(at(5)));
    // What its author deleted is not kept (X's and Meta's terms): that it existed is.
    assert_eq!(message.body.text, "");
    assert_eq!(message.original_text, None);
    assert_eq!(message.body.attachments, vec![]);
    assert_eq!(message.body.external_id, "m1");
    assert_eq!(message.version, 4);

    // It opened the ticket: the ticket's copies of it go too.
    let ticket = detail(store, &ticket_id).await.ticket;
    assert_eq!(ticket.subject, "");
    assert_eq!(ticket.topics, Vec::<String>::new());
    assert!(
        ticket
            .triage
            .as_ref()
            .is_none_or(|t| t.urgent_terms.is_empty() && t.reasons.is_empty())
    );

    // An edit delivered after the removal does not bring a text back.
    let late = apply_change(store, &change("m1", edited("rude again"), at(6))).await;
    assert_eq!(late.unwrap(), ChangeOutcome::AlreadyApplied);
    let message = detail(store, &ticket_id).await.messages.remove(0);
    assert_eq!(message.body.text, "");
    assert_eq!(message.version, 4);
}

/// The subject is the start of the earliest message, the topics the terms of the first one
/// ingested: a removal takes off the ticket what came from that message, and only that.
pub async fn a_removal_takes_only_its_own_copies_off_the_ticket<S: Store>(store: &S) {
    let first_in = inbound("a", "ann", "fibre outage in leeds since dawn", at(5));
    let ticket_id = opened(ingest(store, &first_in).await.unwrap());
    let earlier = inbound("b", "ann", "router lights blinking red", at(1));
    ingest(store, &earlier).await.unwrap();
    let ticket = detail(store, &ticket_id).await.ticket;
    assert_eq!(ticket.subject, "router lights blinking red");
    assert!(
        !ticket.topics.is_empty(),
        "the opening complaint has topic terms"
    );
    let topics = ticket.topics.clone();

    apply_change(store, &change("a", ChangeKind::Removed, at(6)))
        .await
        .unwrap();
    let ticket = detail(store, &ticket_id).await.ticket;
    assert_eq!(
        ticket.subject, "router lights blinking red",
        "not its subject"
    );
    assert_eq!(ticket.topics, Vec::<String>::new(), "its topics {topics:?}");
    // Delivered again: nothing more.
    let again = apply_change(store, &change("a", ChangeKind::Removed, at(6))).await;
    assert_eq!(again.unwrap(), ChangeOutcome::AlreadyApplied);

    apply_change(store, &change("b", ChangeKind::Removed, at(7)))
        .await
        .unwrap();
    let ticket = detail(store, &ticket_id).await.ticket;
    assert_eq!(ticket.subject, "");
}

pub async fn a_change_to_an_unknown_message_changes_nothing<S: Store>(store: &S) {
    let outcome = apply_change(store, &change("never", ChangeKind::Removed, at(1))).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::UnknownMessage);
    assert!(
        store
            .list_tickets(&query(None, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

fn agent() -> Actor {
    Actor::Agent { id: "sally".into() }
}

pub async fn the_trail_records_creation_messages_and_status_changes<S: Store>(store: &S) {
    let first = inbound("m1", "ann", "down", at(0));
    let ticket_id = opened(ingest(store, &first).await.unwrap());
    let second = inbound("m2", "ann", "still down", at(5));
    ingest(store, &second).await.unwrap();
    let resolved =
        lifecycle::change_status(store, &ticket_id, TicketStatus::Resolved, agent(), at(30))
            .await
            .unwrap()
            .ticket;
    assert_eq!(resolved.status, TicketStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(at(30)));
    assert_eq!(resolved.version, 3);
    // The customer writes again: the ticket reopens, and the trail says so.
    let third = inbound("m3", "ann", "it broke again", at(40));
    let outcome = ingest(store, &third).await.unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Joined { .. }),
        "{outcome:?}"
    );

    let events = store.ticket_events(&ticket_id).await.unwrap();
    let customer = detail(store, &ticket_id).await.customer.unwrap().id;
    let by_customer = Actor::Customer {
        customer_id: customer,
    };
    let summary: Vec<(DateTime<Utc>, Actor, EventKind)> = events
        .iter()
        .map(|e| (e.at, e.actor.clone(), e.kind.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                at(0),
                by_customer.clone(),
                EventKind::Created {
                    message_id: first.message.message_id()
                }
            ),
            (
                at(5),
                by_customer.clone(),
                EventKind::MessageAdded {
                    message_id: second.message.message_id(),
                    direction: Direction::Inbound
                }
            ),
            (
                at(30),
                agent(),
                EventKind::StatusChanged {
                    from: TicketStatus::Open,
                    to: TicketStatus::Resolved
                }
            ),
            (
                at(40),
                by_customer.clone(),
                EventKind::MessageAdded {
                    message_id: third.message.message_id(),
                    direction: Direction::Inbound
                }
            ),
            (
                at(40),
                by_customer,
                EventKind::StatusChanged {
                    from: TicketStatus::Resolved,
                    to: TicketStatus::Open
                }
            ),
        ]
    );
    assert!(events.iter().all(|e| e.ticket_id == ticket_id));
    let reopened = detail(store, &ticket_id).await.ticket;
    assert_eq!(reopened.status, TicketStatus::Open);
    assert_eq!(reopened.resolved_at, None);
}

pub async fn a_forbidden_transition_changes_nothing<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    lifecycle::change_status(store, &ticket_id, TicketStatus::Closed, agent(), at(1))
        .await
        .unwrap();
    let refused =
        lifecycle::change_status(store, &ticket_id, TicketStatus::Open, agent(), at(2)).await;
    assert_eq!(
        refused,
        Err(CommandError::Invalid(
            socialcare_domain::InvalidTransition {
                from: TicketStatus::Closed,
                to: TicketStatus::Open
            }
        ))
    );
    // The same status again is no change at all.
    let again = lifecycle::change_status(store, &ticket_id, TicketStatus::Closed, agent(), at(3))
        .await
        .unwrap()
        .ticket;
    assert_eq!(again.version, 2);
    assert_eq!(store.ticket_events(&ticket_id).await.unwrap().len(), 2);
    let missing = TicketId::derive(at(0), "missing");
    assert_eq!(
        lifecycle::change_status(store, &missing, TicketStatus::Resolved, agent(), at(4)).await,
        Err(CommandError::NotFound(missing))
    );
}

pub async fn a_stale_ticket_version_is_a_conflict<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    let ticket = IngestStore::get_ticket(store, &ticket_id)
        .await
        .unwrap()
        .unwrap();
    let resolved = ticket.with_status(TicketStatus::Resolved, at(1)).unwrap();
    let event = |key: &str| {
        TicketEvent::new(
            ticket_id.clone(),
            at(1),
            agent(),
            EventKind::StatusChanged {
                from: TicketStatus::Open,
                to: TicketStatus::Resolved,
            },
            key,
        )
    };
    store
        .change_ticket(&resolved, ticket.version, &event("a"))
        .await
        .unwrap();
    // A second writer that read the same version loses.
    let closed = ticket.with_status(TicketStatus::Closed, at(1)).unwrap();
    assert!(matches!(
        store
            .change_ticket(&closed, ticket.version, &event("b"))
            .await,
        Err(CommitError::Conflict)
    ));
    assert_eq!(
        detail(store, &ticket_id).await.ticket.status,
        TicketStatus::Resolved
    );
    assert_eq!(store.ticket_events(&ticket_id).await.unwrap().len(), 2);
}

pub async fn notes_are_kept_in_order_and_once<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    let first = lifecycle::add_note(store, &ticket_id, "called the customer", agent(), at(2))
        .await
        .unwrap();
    let second = lifecycle::add_note(store, &ticket_id, "engineer booked", agent(), at(3))
        .await
        .unwrap();
    assert!(matches!(
        store.add_event(&first).await,
        Err(CommitError::Duplicate)
    ));
    let notes: Vec<String> = store
        .ticket_events(&ticket_id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Note { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["called the customer", "engineer booked"]);
    assert_ne!(first.id, second.id);
    let missing = TicketId::derive(at(0), "missing");
    assert_eq!(
        lifecycle::add_note(store, &missing, "x", agent(), at(4)).await,
        Err(CommandError::NotFound(missing))
    );
}

pub async fn api_keys_are_stored_once_and_revocable<S: Store>(store: &S) {
    let sally = ApiKey::new("sc_sally_secret", "sally", Role::Agent, at(1));
    let bridge = ApiKey::new("sc_bridge_secret", "crm-bridge", Role::Integrator, at(0));
    store.create_key(&sally).await.unwrap();
    store.create_key(&bridge).await.unwrap();
    assert!(matches!(
        store.create_key(&sally).await,
        Err(CommitError::Duplicate)
    ));
    assert_eq!(store.get_key(&sally.id).await.unwrap(), Some(sally.clone()));
    assert_eq!(store.get_key("key_nothing").await.unwrap(), None);
    let revoked = ApiKey {
        revoked_at: Some(at(5)),
        ..sally.clone()
    };
    store.put_key(&revoked).await.unwrap();
    assert_eq!(
        store.get_key(&sally.id).await.unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(store.list_keys().await.unwrap(), vec![bridge, revoked]);
}

pub async fn integrations_are_stored_once_and_replaced_by_version<S: Store>(store: &S) {
    use socialcare_domain::integrations::Integration;
    let crm = Integration::new("crm", "whsec_a".into(), "whout_a".into(), at(0));
    let erp = Integration::new("erp", "whsec_b".into(), "whout_b".into(), at(1));
    store.create_integration(&erp).await.unwrap();
    store.create_integration(&crm).await.unwrap();
    assert!(matches!(
        store.create_integration(&crm).await,
        Err(CommitError::Duplicate)
    ));
    assert_eq!(
        store.get_integration("crm").await.unwrap(),
        Some(crm.clone())
    );
    assert_eq!(store.get_integration("nobody").await.unwrap(), None);
    let rotated = crm.rotated("whsec_c".into(), "whout_c".into(), at(2));
    store.replace_integration(&rotated, 1).await.unwrap();
    // A second writer that read version 1 too is refused.
    let other = crm.rotated("whsec_d".into(), "whout_d".into(), at(3));
    assert!(matches!(
        store.replace_integration(&other, 1).await,
        Err(CommitError::Conflict)
    ));
    assert_eq!(
        store.get_integration("crm").await.unwrap(),
        Some(rotated.clone())
    );
    assert_eq!(store.list_integrations().await.unwrap(), vec![rotated, erp]);
}

pub async fn sessions_are_kept_by_token_hash_and_ended<S: Store>(store: &S) {
    use socialcare_domain::sessions::{Session, session_id};
    let sally = Session::open("tok_sally", "csrf_s", "hash_s", "sally", Role::Agent, at(0));
    let tim = Session::open("tok_tim", "csrf_t", "hash_t", "tim", Role::Admin, at(1));
    store.create_session(&sally).await.unwrap();
    store.create_session(&tim).await.unwrap();
    assert_eq!(
        store.get_session(&session_id("tok_sally")).await.unwrap(),
        Some(sally.clone())
    );
    assert_eq!(
        store.get_session("tok_sally").await.unwrap(),
        None,
        "only by hash"
    );
    store.delete_session(&sally.id).await.unwrap();
    assert_eq!(store.get_session(&sally.id).await.unwrap(), None);
    // Ending it twice is fine; the other session stays.
    store.delete_session(&sally.id).await.unwrap();
    assert_eq!(store.get_session(&tim.id).await.unwrap(), Some(tim));
}

/// Writes `change` over the stored ticket `id` (a test's shortcut to any state).
async fn rewrite<S: Store>(store: &S, id: &TicketId, change: impl FnOnce(&mut Ticket)) -> Ticket {
    let before = store.get_ticket(id).await.unwrap().unwrap();
    let mut ticket = before.clone();
    change(&mut ticket);
    ticket.version = before.version + 1;
    store
        .update_ticket(&socialcare_domain::ports::TicketUpdate {
            ticket: ticket.clone(),
            version_before: before.version,
            events: vec![],
            replies: vec![],
            samples: vec![],
        })
        .await
        .unwrap();
    ticket
}

pub async fn the_inbox_orders_each_view_by_the_nearest_deadline<S: Store>(store: &S) {
    use socialcare_domain::inbox::{InboxQuery, InboxView};
    use socialcare_domain::sla::Measure;
    use socialcare_domain::timers::Deadline;
    let deadline = |measure, minute| Deadline {
        measure,
        due_at: at(minute),
        warn_at: at(minute),
        warned: true,
        breached: false,
    };
    let mut ids = Vec::new();
    for (n, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let event = inbound(
            &format!("inbox-{name}"),
            &format!("cust-{name}"),
            "help",
            at(n as u32),
        );
        ids.push(opened(ingest(store, &event).await.unwrap()));
    }
    let a = rewrite(store, &ids[0], |t| {
        t.owner = Some("sally".into());
        t.priority = socialcare_domain::Priority::High;
        t.timers.response = Some(Deadline {
            breached: true,
            ..deadline(Measure::FirstResponse, 30)
        });
    })
    .await;
    let b = rewrite(store, &ids[1], |t| {
        t.owner = None;
        t.timers.response = None;
        t.timers.resolution = Some(deadline(Measure::Resolution, 20));
    })
    .await;
    let c = rewrite(store, &ids[2], |t| {
        t.owner = None;
        t.timers = Default::default();
    })
    .await;
    let d = rewrite(store, &ids[3], |t| {
        t.owner = Some("sally".into());
        t.team = Some("billing".into());
        t.status = TicketStatus::PendingCustomer;
        t.timers.response = Some(deadline(Measure::NextResponse, 40));
        t.timers.resolution = Some(deadline(Measure::Resolution, 25));
    })
    .await;
    let e = rewrite(store, &ids[4], |t| {
        t.owner = Some("sally".into());
        t.status = TicketStatus::Resolved;
        t.resolved_at = Some(at(50));
    })
    .await;
    let view = |view, f: fn(&mut InboxQuery)| {
        let mut query = InboxQuery::new(view, "sally");
        f(&mut query);
        query
    };
    let shown = |tickets: Vec<Ticket>| tickets.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let cases: Vec<(InboxQuery, Vec<&Ticket>)> = vec![
        (view(InboxView::Open, |_| {}), vec![&b, &a, &c]),
        (view(InboxView::Unassigned, |_| {}), vec![&b, &c]),
        (view(InboxView::Mine, |_| {}), vec![&d, &a]),
        (view(InboxView::Pending, |_| {}), vec![&d]),
        (view(InboxView::Resolved, |_| {}), vec![&e]),
        (
            view(InboxView::Open, |q| {
                q.priority = Some(socialcare_domain::Priority::High)
            }),
            vec![&a],
        ),
        (
            view(InboxView::Pending, |q| q.team = Some("billing".into())),
            vec![&d],
        ),
        (
            view(InboxView::Open, |q| q.team = Some("billing".into())),
            vec![],
        ),
        (
            view(InboxView::Open, |q| q.source = Some(Source::X)),
            vec![],
        ),
        (
            view(InboxView::Open, |q| q.account = Some("nobody".into())),
            vec![],
        ),
        (view(InboxView::Open, |q| q.limit = 1), vec![&b]),
    ];
    for (query, expected) in cases {
        let expected: Vec<TicketId> = expected.into_iter().map(|t| t.id.clone()).collect();
        assert_eq!(
            shown(store.inbox(&query).await.unwrap()),
            expected,
            "{query:?}"
        );
    }
    // The filters match what the tickets hold.
    let mut by_account = view(InboxView::Open, |_| {});
    by_account.account = Some(a.account.clone());
    by_account.source = Some(a.source);
    assert_eq!(
        shown(store.inbox(&by_account).await.unwrap()),
        vec![b.id.clone(), a.id.clone(), c.id.clone()]
    );
}

pub async fn the_report_knows_the_accounts_it_counts<S: Store>(store: &S) {
    assert_eq!(store.report_accounts().await.unwrap(), Vec::<String>::new());
    let mut first = inbound("acct-1", "ann", "my bill is wrong", at(0));
    first.message.account = "shop-b".into();
    let mut second = inbound("acct-2", "bo", "my bill is wrong too", at(1));
    second.message.account = "shop-a".into();
    let third = inbound("acct-3", "cy", "the bill again", at(2));
    let third_account = third.message.account.clone();
    for event in [&first, &second, &second, &third] {
        ingest(store, event).await.unwrap();
    }
    let mut expected = vec!["shop-a".to_string(), "shop-b".to_string(), third_account];
    expected.sort();
    assert_eq!(store.report_accounts().await.unwrap(), expected);
}

/// The report by day counts every channel of the day, day by day; by channel, every day of
/// the range.
/// A report is a claim about the world: a ticket the brand opened (outreach, or an answer to
/// a customer's message socialcare never saw) waited for no answer, so it has no response
/// time, never one of 0 s; once the customer's message it answered comes after all, the time
/// counts from that message.
pub async fn a_ticket_the_brand_opened_has_no_response_time<S: Store>(store: &S) {
    use socialcare_domain::report::{GroupBy, totals};
    let mut outreach = brand_reply("o1", "ann", "none", at(0));
    outreach.message.in_reply_to = None;
    let outreach_ticket = opened(ingest(store, &outreach).await.unwrap());
    ingest(store, &reply("a1", "ann", "o1", at(5)))
        .await
        .unwrap();
    ingest(store, &brand_reply("o2", "ann", "a1", at(7)))
        .await
        .unwrap();
    let ticket = detail(store, &outreach_ticket).await.ticket;
    assert!(ticket.opened_by_brand);
    assert_eq!(ticket.message_count, 3);

    // The brand answers a tweet of Bo's that socialcare has not seen...
    let answer = opened(
        ingest(store, &brand_reply("b1", "bo", "t1", at(10)))
            .await
            .unwrap(),
    );
    let day = at(0).date_naive();
    let report = || async {
        store.catch_up().await.unwrap();
        totals(
            &store
                .metric_rows("crm", GroupBy::Day, day, day)
                .await
                .unwrap(),
        )
    };
    let figures = report().await;
    assert_eq!(figures.tickets, 2);
    assert_eq!(figures.opened_by_brand, 2);
    assert_eq!(figures.first_response.count, 0, "{figures:?}");
    assert_eq!(figures.acknowledgement.count, 0);

    // ...then Bo's tweet comes: the ticket is his, answered 8 minutes after he wrote.
    let outcome = ingest(store, &inbound("t1", "bo", "my router is dead", at(2)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == answer),
        "{outcome:?}"
    );
    let ticket = detail(store, &answer).await.ticket;
    assert!(!ticket.opened_by_brand);
    assert_eq!(ticket.created_at, at(2));
    let figures = report().await;
    assert_eq!(figures.tickets, 2);
    assert_eq!(figures.opened_by_brand, 1);
    assert_eq!(figures.first_response.count, 1);
    assert_eq!(figures.first_response.mean_seconds, Some(480.0));
    assert_eq!(figures.answered_within_1h, Some(1.0));
}

pub async fn the_report_by_day_adds_up_every_channel_of_each_day<S: Store>(store: &S) {
    use socialcare_domain::report::{GroupBy, report};
    let day = |n: u32| Utc.with_ymd_and_hms(2026, 11, 20 + n, 9, 0, 0).unwrap();
    let mut from_x = inbound("r1", "ann", "down", day(0));
    from_x.message.source = Source::X;
    let mut from_x_again = inbound("r2", "bo", "down too", day(1));
    from_x_again.message.source = Source::X;
    for event in [
        &from_x,
        &inbound("r3", "cy", "my bill", day(0)),
        &inbound("r4", "di", "my bill too", day(0)),
        &from_x_again,
    ] {
        ingest(store, event).await.unwrap();
    }
    let account = from_x.message.account.clone();
    let (first, second) = (day(0).date_naive(), day(1).date_naive());
    let rows = |group_by| store.metric_rows(&account, group_by, first, second);
    let by_day: Vec<(String, i64)> = report(rows(GroupBy::Day).await.unwrap())
        .into_iter()
        .map(|figures| (figures.group, figures.tickets))
        .collect();
    assert_eq!(
        by_day,
        [("2026-11-20".to_string(), 3), ("2026-11-21".to_string(), 1)]
    );
    let by_channel: Vec<(String, i64)> = report(rows(GroupBy::Channel).await.unwrap())
        .into_iter()
        .map(|figures| (figures.group, figures.tickets))
        .collect();
    assert_eq!(
        by_channel,
        [("integration".to_string(), 2), ("x".to_string(), 2)]
    );
    let one_day = report(
        store
            .metric_rows(&account, GroupBy::Day, second, second)
            .await
            .unwrap(),
    );
    assert_eq!(one_day.len(), 1);
    assert_eq!(
        (one_day[0].group.as_str(), one_day[0].tickets),
        ("2026-11-21", 1)
    );
}

pub async fn an_agent_sets_the_priority_once<S: Store>(store: &S) {
    use socialcare_domain::Priority;
    let id = opened(
        ingest(store, &inbound("prio-1", "ann", "please help", at(0)))
            .await
            .unwrap(),
    );
    let before = store.get_ticket(&id).await.unwrap().unwrap();
    let next = if before.priority == Priority::Urgent {
        Priority::Low
    } else {
        Priority::Urgent
    };
    let changed = lifecycle::change_priority(store, &id, next, agent(), at(1))
        .await
        .unwrap();
    assert_eq!(changed.priority, next);
    assert_eq!(changed.version, before.version + 1);
    assert_eq!(store.get_ticket(&id).await.unwrap().unwrap(), changed);
    // Again: nothing changes, no second event.
    let again = lifecycle::change_priority(store, &id, next, agent(), at(2))
        .await
        .unwrap();
    assert_eq!(again, changed);
    let changes: Vec<(Priority, Priority)> = store
        .ticket_events(&id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::PriorityChanged { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(changes, vec![(before.priority, next)]);
    let missing = TicketId::derive(at(0), "missing");
    assert_eq!(
        lifecycle::change_priority(store, &missing, next, agent(), at(3)).await,
        Err(CommandError::NotFound(missing))
    );
}

pub async fn an_agent_gives_a_ticket_back_to_the_queue<S: Store>(store: &S) {
    use socialcare_domain::ownership::{self, AssignError, Assignment, Teams};
    store
        .create_key(&ApiKey::new("sc_queue_sally", "sally", Role::Agent, at(0)))
        .await
        .unwrap();
    let id = opened(
        ingest(store, &inbound("queue-1", "ann", "help please", at(0)))
            .await
            .unwrap(),
    );
    let sallys = Assignment {
        agent: Some("sally".into()),
        team: None,
    };
    let assigned = ownership::assign(store, &id, &sallys, &Teams::default(), agent(), at(1))
        .await
        .unwrap();
    assert_eq!(assigned.owner.as_deref(), Some("sally"));
    let back = ownership::unassign(store, &id, agent(), at(2))
        .await
        .unwrap();
    assert_eq!((back.owner.clone(), back.team.clone()), (None, None));
    assert_eq!(back.version, assigned.version + 1);
    assert_eq!(store.get_ticket(&id).await.unwrap().unwrap(), back);
    // Again: nothing to do, no second event.
    assert_eq!(
        ownership::unassign(store, &id, agent(), at(3))
            .await
            .unwrap(),
        back
    );
    let assignments: Vec<Option<String>> = store
        .ticket_events(&id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Assigned { owner, .. } => Some(owner),
            _ => None,
        })
        .collect();
    assert_eq!(assignments, vec![Some("sally".to_string()), None]);
    let missing = TicketId::derive(at(0), "missing");
    assert!(matches!(
        ownership::unassign(store, &missing, agent(), at(4)).await,
        Err(AssignError::Command(CommandError::NotFound(_)))
    ));
}

fn x_identity(user_id: &str) -> Identity {
    Identity {
        source: Source::X,
        account: "1100000000000000001".into(),
        user_id: user_id.into(),
        handle: Some("furiouscamper".into()),
    }
}

/// A DM from an X account, to the brand's X account.
fn x_dm(id: &str, user_id: &str, at: DateTime<Utc>) -> socialcare_domain::InboundEvent {
    let mut event = inbound(id, user_id, "same problem, now on X", at);
    event.message.source = Source::X;
    event.message.account = "1100000000000000001".into();
    event
}

pub async fn a_linked_identity_threads_with_the_customer<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    let ann = detail(store, &ticket_id).await.customer.unwrap();
    let linked = customers::link_identity(store, &ann.id, x_identity("3001969357"), at(1))
        .await
        .unwrap();
    assert_eq!(linked.identities.len(), 2);
    assert_eq!(linked.identities[1], x_identity("3001969357"));
    assert_eq!(linked.version, ann.version + 1);
    // linking again changes nothing
    let again = customers::link_identity(store, &ann.id, x_identity("3001969357"), at(2))
        .await
        .unwrap();
    assert_eq!(again, linked);

    // A DM from that X account joins Ann's open ticket.
    let outcome = ingest(store, &x_dm("dm1", "3001969357", at(3)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id: t, .. } if *t == ticket_id),
        "{outcome:?}"
    );
    let found = detail(store, &ticket_id).await;
    assert_eq!(found.messages.len(), 2);
    assert_eq!(found.messages[1].body.source, Source::X);
    assert_eq!(
        CustomerStore::get_customer(store, &ann.id)
            .await
            .unwrap()
            .unwrap()
            .identities
            .len(),
        2
    );

    // An identity that is someone else's is refused.
    let bob_ticket = opened(
        ingest(store, &x_dm("dm2", "4337869213", at(4)))
            .await
            .unwrap(),
    );
    let bob = detail(store, &bob_ticket).await.customer.unwrap();
    assert_eq!(
        customers::link_identity(store, &ann.id, x_identity("4337869213"), at(5)).await,
        Err(LinkError::Taken(bob.id))
    );
    let nobody = socialcare_domain::CustomerId::derive(at(0), "nobody");
    assert_eq!(
        customers::link_identity(store, &nobody, x_identity("1"), at(5)).await,
        Err(LinkError::NotFound(nobody))
    );
}

pub async fn a_customers_tickets_come_newest_first<S: Store>(store: &S) {
    let first = opened(
        ingest(store, &inbound("m1", "ann", "first problem", at(0)))
            .await
            .unwrap(),
    );
    lifecycle::change_status(store, &first, TicketStatus::Closed, agent(), at(1))
        .await
        .unwrap();
    let second = opened(
        ingest(store, &inbound("m2", "ann", "second problem", at(10)))
            .await
            .unwrap(),
    );
    ingest(store, &inbound("m3", "bob", "not ann", at(11)))
        .await
        .unwrap();
    let ann = detail(store, &first).await.customer.unwrap().id;

    let page = store.customer_tickets(&ann, &query(None, 1)).await.unwrap();
    assert_eq!(
        page.items.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [second]
    );
    let rest = store
        .customer_tickets(
            &ann,
            &TicketQuery {
                after: page.next,
                ..query(None, 1)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [first]
    );
    assert_eq!(rest.items[0].status, TicketStatus::Closed);
    assert_eq!(rest.next, None);
}

pub async fn a_reply_that_overtakes_its_parent_still_converges<S: Store>(store: &S) {
    // Bob's reply to Ann's complaint comes before the complaint itself.
    let early = opened(
        ingest(store, &reply("m2", "bob", "m1", at(2)))
            .await
            .unwrap(),
    );
    let outcome = ingest(store, &inbound("m1", "ann", "the outage again", at(1)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == early),
        "{outcome:?}"
    );
    let found = detail(store, &early).await;
    let texts: Vec<&str> = found
        .messages
        .iter()
        .map(|m| m.body.text.as_str())
        .collect();
    assert_eq!(texts, ["the outage again", "replying"]);
    // The ticket reads as if the complaint had come first.
    assert_eq!(found.ticket.created_at, at(1));
    assert_eq!(found.ticket.subject, "the outage again");
    assert_eq!(found.ticket.message_count, 2);
    assert_eq!(
        store
            .list_tickets(&query(None, 10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

pub async fn the_brands_reply_joins_the_ticket_and_sets_the_first_response<S: Store>(store: &S) {
    let ticket_id = opened(
        ingest(store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap(),
    );
    let outcome = ingest(store, &brand_reply("b1", "ann", "m1", at(7)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id: t, .. } if *t == ticket_id),
        "{outcome:?}"
    );
    ingest(store, &brand_reply("b2", "ann", "m1", at(9)))
        .await
        .unwrap();
    let found = detail(store, &ticket_id).await;
    assert_eq!(found.ticket.first_response_at, Some(at(7)));
    assert_eq!(found.ticket.status, TicketStatus::Open);
    assert_eq!(found.ticket.message_count, 3);
    let customer = found.customer.unwrap();
    // the brand's name is not the customer's
    assert_eq!(customer.name.as_deref(), Some("Customer ann"));
    assert_eq!(customer.identities.len(), 1);
    let events = store.ticket_events(&ticket_id).await.unwrap();
    assert_eq!(
        events[1].actor,
        Actor::Brand {
            account: "crm".into()
        }
    );
}

pub async fn a_brand_reply_before_the_complaint_converges<S: Store>(store: &S) {
    let early = opened(
        ingest(store, &brand_reply("b1", "ann", "m1", at(5)))
            .await
            .unwrap(),
    );
    let outcome = ingest(store, &inbound("m1", "ann", "down since 6am", at(1)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == early),
        "{outcome:?}"
    );
    let found = detail(store, &early).await;
    assert_eq!(found.ticket.created_at, at(1));
    assert_eq!(found.ticket.subject, "down since 6am");
    assert_eq!(found.ticket.first_response_at, Some(at(5)));
    assert_eq!(
        found.customer.unwrap().name.as_deref(),
        Some("Customer ann")
    );
    assert_eq!(
        store
            .list_tickets(&query(None, 10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

pub async fn team_turns_count_up_once_each_even_when_concurrent<S: Store>(store: &S) {
    assert_eq!(store.next_turn("support").await.unwrap(), 0);
    assert_eq!(store.next_turn("support").await.unwrap(), 1);
    assert_eq!(store.next_turn("billing").await.unwrap(), 0);
    let (a, b, c) = tokio::join!(
        store.next_turn("support"),
        store.next_turn("support"),
        store.next_turn("support")
    );
    let mut turns = vec![a.unwrap(), b.unwrap(), c.unwrap()];
    turns.sort();
    assert_eq!(turns, [2, 3, 4]);
}

pub async fn a_returning_customer_gets_their_previous_owner_back<S: Store>(store: &S) {
    let teams =
        socialcare_domain::ownership::Teams::new(vec![socialcare_domain::ownership::Team {
            name: "support".into(),
            members: vec!["sally".into(), "tim".into()],
            lead: None,
            escalation_url: None,
            escalates_to: None,
        }]);
    let rules = socialcare_domain::threading::Rules {
        teams: teams.clone(),
        ..Default::default()
    };
    let sally = ApiKey::new("sc_sally", "sally", Role::Agent, at(0));
    store.create_key(&sally).await.unwrap();
    store
        .create_key(&ApiKey::new("sc_tim", "tim", Role::Agent, at(0)))
        .await
        .unwrap();

    let first = opened(
        ingest_with(store, &inbound("m1", "ann", "first", at(0)), &rules)
            .await
            .unwrap(),
    );
    assert_eq!(detail(store, &first).await.ticket.owner, None);
    let assignment = socialcare_domain::ownership::Assignment {
        agent: Some("sally".into()),
        team: None,
    };
    socialcare_domain::ownership::assign(store, &first, &assignment, &teams, agent(), at(1))
        .await
        .unwrap();
    lifecycle::change_status(store, &first, TicketStatus::Closed, agent(), at(2))
        .await
        .unwrap();

    // Ann comes back: Sally, who knows her story, gets the new ticket.
    let second = opened(
        ingest_with(store, &inbound("m2", "ann", "again", at(10)), &rules)
            .await
            .unwrap(),
    );
    let ticket = detail(store, &second).await.ticket;
    assert_eq!(ticket.owner.as_deref(), Some("sally"));
    assert_eq!(ticket.team.as_deref(), Some("support"));
    let events = store.ticket_events(&second).await.unwrap();
    assert_eq!(events[1].actor, Actor::System);
    assert_eq!(
        events[1].kind,
        EventKind::Assigned {
            owner: Some("sally".into()),
            team: Some("support".into())
        }
    );

    // Sally leaves; Ann's next new ticket goes round-robin to the team's active member.
    store
        .put_key(&ApiKey {
            revoked_at: Some(at(20)),
            ..sally
        })
        .await
        .unwrap();
    lifecycle::change_status(store, &second, TicketStatus::Closed, agent(), at(21))
        .await
        .unwrap();
    let third = opened(
        ingest_with(store, &inbound("m3", "ann", "once more", at(30)), &rules)
            .await
            .unwrap(),
    );
    let ticket = detail(store, &third).await.ticket;
    assert_eq!(ticket.owner.as_deref(), Some("tim"));
    assert_eq!(ticket.team.as_deref(), Some("support"));
}

pub async fn tickets_list_by_owner_and_status<S: Store>(store: &S) {
    store
        .create_key(&ApiKey::new("sc_sally", "sally", Role::Agent, at(0)))
        .await
        .unwrap();
    let teams = socialcare_domain::ownership::Teams::default();
    let sallys = socialcare_domain::ownership::Assignment {
        agent: Some("sally".into()),
        team: None,
    };
    let mut owned = Vec::new();
    for n in 0..4u32 {
        let id = opened(
            ingest(
                store,
                &inbound(&format!("m{n}"), &format!("c{n}"), "help", at(n * 10)),
            )
            .await
            .unwrap(),
        );
        if n != 1 {
            socialcare_domain::ownership::assign(
                store,
                &id,
                &sallys,
                &teams,
                agent(),
                at(n * 10 + 1),
            )
            .await
            .unwrap();
            owned.push(id);
        }
    }
    lifecycle::change_status(store, &owned[0], TicketStatus::Resolved, agent(), at(50))
        .await
        .unwrap();
    owned.reverse();

    let mine = TicketQuery {
        owner: Some("sally".into()),
        ..query(None, 2)
    };
    let first = store.list_tickets(&mine).await.unwrap();
    let rest = store
        .list_tickets(&TicketQuery {
            after: first.next.clone(),
            ..mine.clone()
        })
        .await
        .unwrap();
    let ids: Vec<TicketId> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(ids, owned);
    assert_eq!(rest.next, None);

    let open_mine = TicketQuery {
        owner: Some("sally".into()),
        ..query(Some(TicketStatus::Open), 10)
    };
    let open = store.list_tickets(&open_mine).await.unwrap();
    assert_eq!(
        open.items.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        owned[..2]
    );
    let nobodys = TicketQuery {
        owner: Some("tim".into()),
        ..query(None, 10)
    };
    assert!(store.list_tickets(&nobodys).await.unwrap().items.is_empty());
}

pub async fn templates_are_kept_by_id<S: Store>(store: &S) {
    let template = |id: &str, text: &str| socialcare_domain::templates::Template {
        id: id.into(),
        text: text.into(),
        language: Some("en".into()),
        created_at: at(0),
        updated_at: at(0),
    };
    let sorry = template("sorry", "Sorry {{customer.name}}!");
    store.create_template(&sorry).await.unwrap();
    store
        .create_template(&template("dm-us", "Please DM us"))
        .await
        .unwrap();
    assert!(matches!(
        store.create_template(&sorry).await,
        Err(CommitError::Duplicate)
    ));
    assert_eq!(
        store.get_template("sorry").await.unwrap(),
        Some(sorry.clone())
    );
    let changed = socialcare_domain::templates::Template {
        text: "So sorry".into(),
        updated_at: at(5),
        ..sorry
    };
    store.put_template(&changed).await.unwrap();
    assert_eq!(
        store.get_template("sorry").await.unwrap(),
        Some(changed.clone())
    );
    let ids: Vec<String> = store
        .list_templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["dm-us", "sorry"]);
    assert!(store.delete_template("dm-us").await.unwrap());
    assert!(!store.delete_template("dm-us").await.unwrap());
    assert_eq!(store.get_template("dm-us").await.unwrap(), None);
}

pub async fn sla_policies_are_one_document_replaced_whole<S: Store>(store: &S) {
    use socialcare_domain::sla::{Calendar, Day, Hours, Policies, Policy, Targets};
    use std::collections::{BTreeMap, BTreeSet};
    assert_eq!(store.sla_policies().await.unwrap(), Policies::default());
    let targets = |first| Targets {
        first_response_minutes: first,
        next_response_minutes: 120,
        resolution_minutes: 1440,
    };
    let office = Calendar {
        time_zone: "Europe/Paris".into(),
        hours: BTreeMap::from([(
            Day::Mon,
            Hours {
                open: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                close: chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
            },
        )]),
        holidays: BTreeSet::from([chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]),
    };
    let first = Policies {
        policies: BTreeMap::from([
            (
                "1100000000000000001".to_string(),
                Policy {
                    targets: BTreeMap::from([
                        ("normal".to_string(), targets(60)),
                        ("urgent".to_string(), targets(15)),
                    ]),
                    calendar: Some(office),
                    warn_at_percent: 75,
                    escalation_url: Some("https://hooks.example.com/services/T0/B0/x".into()),
                    followups: socialcare_domain::sla::Followups {
                        still_on_it_after_minutes: Some(120),
                        survey_after_minutes: None,
                        ..Default::default()
                    },
                },
            ),
            (
                "crm".to_string(),
                Policy {
                    targets: BTreeMap::from([("normal".to_string(), targets(240))]),
                    calendar: None,
                    warn_at_percent: 80,
                    escalation_url: None,
                    followups: Default::default(),
                },
            ),
        ]),
    };
    store.put_sla_policies(&first).await.unwrap();
    assert_eq!(store.sla_policies().await.unwrap(), first);
    let mut second = first.clone();
    second.policies.remove("crm");
    store.put_sla_policies(&second).await.unwrap();
    assert_eq!(store.sla_policies().await.unwrap(), second);
}

pub async fn the_configuration_is_versioned_and_changes_one_after_another<S: Store>(store: &S) {
    use socialcare_domain::configuration::{ConfigurationChange, ConfigurationVersion};
    assert_eq!(store.configuration_version().await.unwrap(), None);
    assert_eq!(store.configuration().await.unwrap(), None);
    assert!(store.configuration_changes(10).await.unwrap().is_empty());
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let version = |n: u64, by: &str, document: &str| ConfigurationVersion {
        version: n,
        document: document.to_string(),
        change: ConfigurationChange {
            version: n,
            at: at + Duration::minutes(n as i64),
            by: by.to_string(),
            summary: format!("change {n}"),
        },
    };
    // Not the first version: nothing to follow.
    assert!(matches!(
        store.put_configuration(&version(2, "sally", "{}")).await,
        Err(CommitError::Conflict)
    ));
    let first = version(1, "import", r#"{"accounts":[]}"#);
    store.put_configuration(&first).await.unwrap();
    assert_eq!(store.configuration_version().await.unwrap(), Some(1));
    assert_eq!(store.configuration().await.unwrap(), Some(first.clone()));
    // Two admins change version 1 at once: one wins, the other is told.
    let sallys = version(2, "sally", r#"{"accounts":[{"id":"1"}]}"#);
    let tims = version(2, "tim", r#"{"accounts":[{"id":"2"}]}"#);
    store.put_configuration(&sallys).await.unwrap();
    assert!(matches!(
        store.put_configuration(&tims).await,
        Err(CommitError::Conflict)
    ));
    assert!(matches!(
        store.put_configuration(&first).await,
        Err(CommitError::Conflict)
    ));
    assert_eq!(store.configuration().await.unwrap(), Some(sallys.clone()));
    let third = version(3, "tim", r#"{"accounts":[{"id":"1"},{"id":"2"}]}"#);
    store.put_configuration(&third).await.unwrap();
    assert_eq!(store.configuration_version().await.unwrap(), Some(3));
    assert_eq!(store.configuration().await.unwrap(), Some(third.clone()));
    assert_eq!(
        store.configuration_changes(10).await.unwrap(),
        vec![
            third.change.clone(),
            sallys.change.clone(),
            first.change.clone()
        ]
    );
    assert_eq!(
        store.configuration_changes(2).await.unwrap(),
        vec![third.change, sallys.change]
    );
}

pub async fn account_tokens_are_kept_sealed_and_health_is_observed_piece_by_piece<S: Store>(
    store: &S,
) {
    use socialcare_domain::Source;
    use socialcare_domain::tokens::{AccountHealth, Observation, RateHeadroom, StoredToken};
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let brand = "1100000000000000001";
    assert_eq!(store.get_token(Source::X, brand).await.unwrap(), None);
    assert!(!store.delete_token(Source::X, brand).await.unwrap());
    let token = StoredToken {
        source: Source::X,
        account: brand.into(),
        sealed: "c2VhbGVk".into(),
        acts_as: Some("@acme_care".into()),
        set_at: at,
        set_by: "sally".into(),
    };
    store.put_token(&token).await.unwrap();
    assert_eq!(
        store.get_token(Source::X, brand).await.unwrap(),
        Some(token.clone())
    );
    // The same id on another platform is another account.
    assert_eq!(
        store.get_token(Source::Facebook, brand).await.unwrap(),
        None
    );
    let newer = StoredToken {
        sealed: "bmV3ZXI=".into(),
        set_at: at + Duration::hours(1),
        ..token
    };
    store.put_token(&newer).await.unwrap();
    assert_eq!(
        store.get_token(Source::X, brand).await.unwrap(),
        Some(newer)
    );

    assert_eq!(
        store.account_health(Source::X, brand).await.unwrap(),
        AccountHealth::default()
    );
    let rate = RateHeadroom {
        remaining: 97,
        limit: 100,
        resets_at: Some(at + Duration::minutes(15)),
    };
    let observations = [
        Observation::Webhook { at },
        Observation::Posted {
            at: at + Duration::minutes(1),
            rate: Some(rate),
        },
        // A post whose answer said nothing of the limit keeps the headroom known.
        Observation::Posted {
            at: at + Duration::minutes(2),
            rate: None,
        },
        Observation::Refused {
            at: at + Duration::minutes(3),
            reason: "Could not authenticate you.".into(),
            token_set_at: Some(at - Duration::hours(1)),
        },
        Observation::Subscription {
            at: at + Duration::minutes(4),
            active: true,
            detail: None,
        },
    ];
    for observation in &observations {
        store.observe(Source::X, brand, observation).await.unwrap();
    }
    let health = store.account_health(Source::X, brand).await.unwrap();
    assert_eq!(
        health,
        AccountHealth {
            webhook_at: Some(at),
            posted_at: Some(at + Duration::minutes(2)),
            rate: Some(rate),
            refused_at: Some(at + Duration::minutes(3)),
            refusal: Some("Could not authenticate you.".into()),
            refused_token_set_at: Some(at - Duration::hours(1)),
            subscribed: Some(true),
            subscription_checked_at: Some(at + Duration::minutes(4)),
            subscription_detail: None,
        }
    );
    assert!(
        !health.token_holds(at - Duration::hours(1)),
        "the token refused"
    );
    assert!(
        health.token_holds(at + Duration::minutes(5)),
        "another token"
    );
    assert_eq!(
        store
            .account_health(Source::Instagram, brand)
            .await
            .unwrap(),
        AccountHealth::default()
    );
    assert!(store.delete_token(Source::X, brand).await.unwrap());
    assert_eq!(store.get_token(Source::X, brand).await.unwrap(), None);
}

pub async fn a_connection_under_way_is_taken_once<S: Store>(store: &S) {
    use socialcare_domain::tokens::PendingConnect;
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let pending = PendingConnect {
        state: "st_0123456789abcdef".into(),
        binding: "ab".repeat(32),
        by: "sally".into(),
        platform: "x".into(),
        sealed: Some("c2VhbGVk".into()),
        created_at: at,
        ends_at: at + Duration::minutes(10),
    };
    let binding = pending.binding.clone();
    assert_eq!(
        store.take_pending(&pending.state, &binding).await.unwrap(),
        None
    );
    store.put_pending(&pending).await.unwrap();
    let other = PendingConnect {
        state: "st_other".into(),
        platform: "meta".into(),
        sealed: None,
        ..pending.clone()
    };
    store.put_pending(&other).await.unwrap();
    // Another browser's binding neither gets it nor spends it.
    assert_eq!(
        store
            .take_pending(&pending.state, &"cd".repeat(32))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_pending(&pending.state, &binding).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        store.take_pending(&pending.state, &binding).await.unwrap(),
        None,
        "once"
    );
    assert_eq!(
        store.take_pending("st_other", &binding).await.unwrap(),
        Some(other)
    );
}

/// Every case, by name, for the runner macro.
#[macro_export]
macro_rules! store_contract {
    ($make:expr) => {
        $crate::store_contract!(@cases $make;
            a_first_message_opens_a_ticket,
            the_same_event_three_times_is_one_message,
            concurrent_deliveries_of_one_event_store_it_once,
            a_customers_next_message_joins_their_open_ticket,
            a_customer_is_rewritten_only_when_a_message_changes_them,
            messages_are_ordered_by_platform_time_whatever_the_arrival,
            a_tickets_messages_and_events_come_in_pages,
            the_trail_pages_in_order_across_messages_changes_and_edits,
            the_first_lookups_together_find_what_each_finds,
            a_reply_joins_the_ticket_of_the_message_it_answers,
            a_reply_to_an_unknown_message_threads_by_customer,
            an_unknown_ticket_is_absent,
            tickets_list_newest_first_in_pages,
            tickets_filter_by_status,
            an_empty_store_lists_nothing,
            an_edit_replaces_the_text_and_keeps_the_original,
            a_removal_and_a_hiding_are_recorded_once,
            a_change_to_an_unknown_message_changes_nothing,
            a_removal_takes_only_its_own_copies_off_the_ticket,
            the_trail_records_creation_messages_and_status_changes,
            a_forbidden_transition_changes_nothing,
            a_stale_ticket_version_is_a_conflict,
            notes_are_kept_in_order_and_once,
            an_agent_sets_the_priority_once,
            an_agent_gives_a_ticket_back_to_the_queue,
            api_keys_are_stored_once_and_revocable,
            integrations_are_stored_once_and_replaced_by_version,
            sessions_are_kept_by_token_hash_and_ended,
            a_linked_identity_threads_with_the_customer,
            a_customers_tickets_come_newest_first,
            a_reply_that_overtakes_its_parent_still_converges,
            the_brands_reply_joins_the_ticket_and_sets_the_first_response,
            a_brand_reply_before_the_complaint_converges,
            team_turns_count_up_once_each_even_when_concurrent,
            a_returning_customer_gets_their_previous_owner_back,
            tickets_list_by_owner_and_status,
            the_inbox_orders_each_view_by_the_nearest_deadline,
            the_report_knows_the_accounts_it_counts,
            the_report_by_day_adds_up_every_channel_of_each_day,
            a_ticket_the_brand_opened_has_no_response_time,
            templates_are_kept_by_id,
            sla_policies_are_one_document_replaced_whole,
            the_configuration_is_versioned_and_changes_one_after_another,
            account_tokens_are_kept_sealed_and_health_is_observed_piece_by_piece,
            a_connection_under_way_is_taken_once
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::store::$case(&store).await;
            }
        )+
    };
}
