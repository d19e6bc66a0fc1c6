//! The merge contract (SQLite and DynamoDB): two customers who are one person become one,
//! with every identity, ticket and trail, and whatever either identity writes next threads to
//! the merged customer.

use crate::events::inbound;
use chrono::{DateTime, TimeZone, Utc};
use socialcare_domain::customers::{MergeError, merge_customers};
use socialcare_domain::ingest::{IngestOutcome, ingest};
use socialcare_domain::lifecycle;
use socialcare_domain::ports::CustomerStore;
use socialcare_domain::{
    Actor, Customer, CustomerId, EventKind, Merge, TicketId, TicketQuery, TicketStatus,
};

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
}

fn opened(outcome: IngestOutcome) -> TicketId {
    match outcome {
        IngestOutcome::Opened { ticket_id, .. } => ticket_id,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

async fn customer_of<S: Store>(store: &S, ticket: &TicketId) -> Customer {
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    detail.customer.expect("the ticket has its customer")
}

async fn tickets_of<S: Store>(store: &S, id: &CustomerId) -> Vec<TicketId> {
    let page = store
        .customer_tickets(id, &TicketQuery::newest(50))
        .await
        .unwrap();
    page.items.into_iter().map(|t| t.id).collect()
}

/// Ann wrote from the CRM as `ann` (a ticket closed since, and an open one) and, later, as
/// `ann.smith` (one open ticket, her latest message): two customers of the same account.
struct Story {
    ann: Customer,
    smith: Customer,
    ann_closed: TicketId,
    ann_open: TicketId,
    smith_open: TicketId,
}

async fn story<S: Store>(store: &S) -> Story {
    let ann_closed = opened(
        ingest(store, &inbound("m1", "ann", "charged twice", at(0)))
            .await
            .unwrap(),
    );
    lifecycle::change_status(
        store,
        &ann_closed,
        TicketStatus::Closed,
        Actor::Agent { id: "sally".into() },
        at(1),
    )
    .await
    .unwrap();
    let ann_open = opened(
        ingest(store, &inbound("m2", "ann", "charged again", at(2)))
            .await
            .unwrap(),
    );
    let mut from_smith = inbound("s1", "ann.smith", "still no refund", at(3));
    from_smith.message.author.name = None;
    from_smith.message.author.email = Some("ann.smith@example.com".into());
    let smith_open = opened(ingest(store, &from_smith).await.unwrap());
    Story {
        ann: customer_of(store, &ann_open).await,
        smith: customer_of(store, &smith_open).await,
        ann_closed,
        ann_open,
        smith_open,
    }
}

pub async fn a_merge_moves_identities_tickets_and_history<S: Store>(store: &S) {
    let story = story(store).await;
    assert_ne!(story.ann.id, story.smith.id);
    let merged = merge_customers(store, &story.ann.id, &story.smith.id, "sally", at(10))
        .await
        .unwrap();
    assert_eq!(
        merged.merge,
        Merge {
            customer_id: story.smith.id.clone(),
            into: story.ann.id.clone(),
            account: "crm".into(),
            merged_by: "sally".into(),
            requested_at: at(10),
            completed_at: Some(at(10)),
            identities: 1,
            tickets: 1,
        }
    );
    let ann = merged.customer;
    assert_eq!(ann.id, story.ann.id);
    let keys: Vec<String> = ann.identities.iter().map(|i| i.key()).collect();
    assert_eq!(keys, ["integration:crm:ann", "integration:crm:ann.smith"]);
    assert_eq!(ann.name.as_deref(), Some("Customer ann"), "hers, kept");
    assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    assert_eq!(ann.created_at, story.ann.created_at);
    assert_eq!(ann.version, story.ann.version + 1);
    assert_eq!(
        ann.latest_ticket_id.as_ref(),
        Some(&story.smith_open),
        "the active ticket with the latest message"
    );
    assert_eq!(
        CustomerStore::get_customer(store, &story.ann.id)
            .await
            .unwrap(),
        Some(ann.clone())
    );

    // The other customer is gone; both identities name Ann.
    assert_eq!(
        CustomerStore::get_customer(store, &story.smith.id)
            .await
            .unwrap(),
        None
    );
    for key in ["integration:crm:ann", "integration:crm:ann.smith"] {
        let owner = store.find_customer(key).await.unwrap().expect(key);
        assert_eq!(owner.id, story.ann.id, "{key}");
    }
    assert_eq!(
        store.get_merge(&story.smith.id).await.unwrap(),
        Some(merged.merge.clone())
    );
    assert_eq!(store.get_merge(&story.ann.id).await.unwrap(), None);

    // Every ticket is Ann's, newest first; the moved one says who merged.
    assert_eq!(
        tickets_of(store, &story.ann.id).await,
        [
            story.smith_open.clone(),
            story.ann_open.clone(),
            story.ann_closed.clone()
        ]
    );
    assert_eq!(
        tickets_of(store, &story.smith.id).await,
        Vec::<TicketId>::new()
    );
    let moved = store
        .ticket_detail(&story.smith_open)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.ticket.customer_id, story.ann.id);
    assert_eq!(moved.customer.as_ref().map(|c| &c.id), Some(&story.ann.id));
    let trail = store.ticket_events(&story.smith_open).await.unwrap();
    let merges: Vec<_> = trail
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CustomerMerged { .. }))
        .collect();
    assert_eq!(merges.len(), 1, "{trail:?}");
    assert_eq!(
        merges[0].kind,
        EventKind::CustomerMerged {
            from: story.smith.id.clone(),
            into: story.ann.id.clone()
        }
    );
    assert_eq!(merges[0].actor, Actor::Agent { id: "sally".into() });
    assert_eq!(merges[0].at, at(10));
    let unmoved = store.ticket_events(&story.ann_open).await.unwrap();
    assert!(
        !unmoved
            .iter()
            .any(|e| matches!(e.kind, EventKind::CustomerMerged { .. })),
        "Ann's own tickets did not move: {unmoved:?}"
    );
}

pub async fn either_identity_threads_to_the_merged_customer<S: Store>(store: &S) {
    let story = story(store).await;
    merge_customers(store, &story.ann.id, &story.smith.id, "sally", at(10))
        .await
        .unwrap();
    // The platform delivers the merged-away customer's message again: nothing changes.
    let mut again = inbound("s1", "ann.smith", "still no refund", at(3));
    again.message.author.name = None;
    let outcome = ingest(store, &again).await.unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Duplicate { ticket_id, .. } if *ticket_id == story.smith_open),
        "{outcome:?}"
    );
    // Her next message from either identity joins the merged customer's latest ticket.
    for (id, author, minute) in [("s2", "ann.smith", 11), ("m3", "ann", 12)] {
        let outcome = ingest(store, &inbound(id, author, "any news?", at(minute)))
            .await
            .unwrap();
        assert!(
            matches!(&outcome, IngestOutcome::Joined { ticket_id, .. } if *ticket_id == story.smith_open),
            "{author}: {outcome:?}"
        );
    }
    let ticket = store.get_ticket(&story.smith_open).await.unwrap().unwrap();
    assert_eq!(ticket.customer_id, story.ann.id);
    assert_eq!(ticket.message_count, 3);
    assert_eq!(
        CustomerStore::get_customer(store, &story.smith.id)
            .await
            .unwrap(),
        None,
        "not brought back by her messages"
    );
}

pub async fn merging_again_answers_the_same_record<S: Store>(store: &S) {
    let story = story(store).await;
    let first = merge_customers(store, &story.ann.id, &story.smith.id, "sally", at(10))
        .await
        .unwrap();
    let again = merge_customers(store, &story.ann.id, &story.smith.id, "tom", at(20))
        .await
        .unwrap();
    assert_eq!(again, first);
    let trail = store.ticket_events(&story.smith_open).await.unwrap();
    let merges = trail
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CustomerMerged { .. }))
        .count();
    assert_eq!(merges, 1, "{trail:?}");

    // The other way round: she is gone, and where she went is said.
    assert_eq!(
        merge_customers(store, &story.smith.id, &story.ann.id, "tom", at(21)).await,
        Err(MergeError::MergedElsewhere {
            customer: story.smith.id.clone(),
            into: story.ann.id.clone()
        })
    );
    assert_eq!(
        merge_customers(store, &story.ann.id, &story.ann.id, "tom", at(21)).await,
        Err(MergeError::Same)
    );
    let nobody = CustomerId::derive(at(0), "nobody");
    assert_eq!(
        merge_customers(store, &story.ann.id, &nobody, "tom", at(21)).await,
        Err(MergeError::NotFound(nobody.clone()))
    );
    assert_eq!(
        merge_customers(store, &nobody, &story.ann.id, "tom", at(21)).await,
        Err(MergeError::NotFound(nobody))
    );
}

pub async fn customers_of_two_brand_accounts_merge<S: Store>(store: &S) {
    let story = story(store).await;
    // Ann also wrote to the brand's shop account, as the same CRM user.
    let mut elsewhere = inbound("o1", "ann", "hello", at(4));
    elsewhere.message.account = "shop".into();
    let shop_ticket = opened(ingest(store, &elsewhere).await.unwrap());
    let other = customer_of(store, &shop_ticket).await;
    assert_ne!(other.id, story.ann.id, "two customers before");

    let merged = merge_customers(store, &story.ann.id, &other.id, "sally", at(10))
        .await
        .unwrap();
    assert_eq!(merged.merge.tickets, 1);
    assert_eq!(merged.merge.account, story.ann.account);
    assert_eq!(
        CustomerStore::get_customer(store, &other.id).await.unwrap(),
        None
    );
    let moved = store.get_ticket(&shop_ticket).await.unwrap().unwrap();
    assert_eq!(moved.customer_id, story.ann.id);
    assert_eq!(moved.account, "shop", "the ticket stays the shop account's");
    // The shop identity is Ann's now: its next message (or a redelivery) threads to her.
    let again = ingest(store, &elsewhere).await.unwrap();
    assert!(
        matches!(again, IngestOutcome::Duplicate { ref ticket_id, .. } if *ticket_id == shop_ticket),
        "{again:?}"
    );
    let next = ingest(store, &inbound("o2", "ann", "still there?", at(11)))
        .await
        .unwrap();
    let mut next_shop = inbound("o3", "ann", "and the shop?", at(12));
    next_shop.message.account = "shop".into();
    let joined = ingest(store, &next_shop).await.unwrap();
    let ticket_of = |outcome: &IngestOutcome| match outcome {
        IngestOutcome::Opened { ticket_id, .. }
        | IngestOutcome::Joined { ticket_id, .. }
        | IngestOutcome::Duplicate { ticket_id, .. } => ticket_id.clone(),
    };
    for outcome in [&next, &joined] {
        let ticket = store
            .get_ticket(&ticket_of(outcome))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ticket.customer_id, story.ann.id, "{outcome:?}");
    }
}

pub async fn a_merge_cut_short_is_finished_when_asked_again<S: Store>(store: &S) {
    let story = story(store).await;
    // The first request recorded itself and stopped.
    let started = Merge {
        customer_id: story.smith.id.clone(),
        into: story.ann.id.clone(),
        account: "crm".into(),
        merged_by: "sally".into(),
        requested_at: at(10),
        completed_at: None,
        identities: 1,
        tickets: 0,
    };
    store.put_merge(&started).await.unwrap();
    let merged = merge_customers(store, &story.ann.id, &story.smith.id, "tom", at(15))
        .await
        .unwrap();
    assert_eq!(
        merged.merge,
        Merge {
            completed_at: Some(at(15)),
            tickets: 1,
            ..started
        }
    );
    assert_eq!(
        store
            .find_customer("integration:crm:ann.smith")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(story.ann.id.clone())
    );
    let trail = store.ticket_events(&story.smith_open).await.unwrap();
    let merge = trail
        .iter()
        .find(|e| matches!(e.kind, EventKind::CustomerMerged { .. }))
        .expect("moved");
    assert_eq!(
        merge.actor,
        Actor::Agent { id: "sally".into() },
        "the first asker's"
    );
}

/// A customer merges once: a second merge of them into another is refused by the record, a
/// merge into a customer who is going elsewhere or being erased moves nothing.
pub async fn a_merge_that_would_split_or_lose_tickets_is_refused<S: Store>(store: &S) {
    use socialcare_domain::ports::CommitError;
    let story = story(store).await;
    let started = Merge {
        customer_id: story.smith.id.clone(),
        into: story.ann.id.clone(),
        account: "crm".into(),
        merged_by: "sally".into(),
        requested_at: at(10),
        completed_at: None,
        identities: 1,
        tickets: 0,
    };
    store.put_merge(&started).await.unwrap();
    let third = CustomerId::derive(at(0), "third");
    let elsewhere = Merge {
        into: third.clone(),
        ..started.clone()
    };
    assert_eq!(
        store.put_merge(&elsewhere).await,
        Err(CommitError::Conflict),
        "the first stored wins"
    );
    assert_eq!(
        store.get_merge(&story.smith.id).await.unwrap(),
        Some(started.clone())
    );

    // Ann into Smith, while Smith is being merged into Ann: nothing of Ann's moves.
    assert_eq!(
        merge_customers(store, &story.smith.id, &story.ann.id, "tom", at(11)).await,
        Err(MergeError::MergedElsewhere {
            customer: story.smith.id.clone(),
            into: story.ann.id.clone()
        })
    );
    for ticket in [&story.ann_open, &story.ann_closed] {
        let kept = store.get_ticket(ticket).await.unwrap().unwrap();
        assert_eq!(kept.customer_id, story.ann.id);
    }

    // A customer being erased is not merged, either way.
    store
        .put_erasure(&socialcare_domain::Erasure {
            customer_id: story.ann.id.clone(),
            account: "crm".into(),
            requested_by: "ops".into(),
            requested_at: at(12),
            completed_at: None,
            tickets: 0,
            messages: 0,
            elsewhere: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        merge_customers(store, &story.ann.id, &story.smith.id, "sally", at(13)).await,
        Err(MergeError::NotFound(story.ann.id.clone()))
    );
    let smiths = store.get_ticket(&story.smith_open).await.unwrap().unwrap();
    assert_eq!(smiths.customer_id, story.smith.id, "nothing moved");
}

#[macro_export]
macro_rules! merge_contract {
    ($make:expr) => {
        $crate::merge_contract!(@cases $make;
            a_merge_moves_identities_tickets_and_history,
            either_identity_threads_to_the_merged_customer,
            merging_again_answers_the_same_record,
            customers_of_two_brand_accounts_merge,
            a_merge_cut_short_is_finished_when_asked_again,
            a_merge_that_would_split_or_lose_tickets_is_refused
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::merge::$case(&store).await;
            }
        )+
    };
}
