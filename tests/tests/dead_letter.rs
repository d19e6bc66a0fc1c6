//! A poison message in the inbound queue ends in the dead-letter queue after its retries, while
//! the rest of its batch is ingested: through the local consumer, on both backends.

use chrono::{TimeZone, Utc};
use socialcare_app::ingest::Consumer;
use socialcare_aws::{DynamoStore, SqsQueue};
use socialcare_domain::ports::{Outgoing, Queue, TicketReads};
use socialcare_domain::{QueuedEvent, TicketQuery};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::emulator;
use socialcare_tests::events::inbound;
use std::time::Duration;

async fn poison_goes_to_the_dead_letter_queue<
    Q: Queue,
    S: socialcare_domain::ingest::IngestDeps + TicketReads,
>(
    queue: Q,
    dead_letter: Q,
    store: S,
) {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let good = |id: &str, customer: &str| {
        let event = QueuedEvent::Message(inbound(id, customer, "help", at));
        let body = serde_json::to_string(&event).unwrap();
        Outgoing::fifo(body, customer.into(), id.into())
    };
    queue.send(good("a1", "ann")).await.unwrap();
    queue
        .send(Outgoing::fifo(
            "{\"not\": \"an event\"}".into(),
            "zed".into(),
            "poison".into(),
        ))
        .await
        .unwrap();
    queue.send(good("b1", "bob")).await.unwrap();

    // Failed messages come back at once, so five rounds exhaust the poison's receives.
    let consumer = Consumer {
        wait: Duration::from_millis(300),
        first_retry: Duration::ZERO,
        max_retry: Duration::ZERO,
        ..Consumer::default()
    };
    let mut rounds = 0;
    while consumer.once(&queue, &store).await.unwrap() > 0 {
        rounds += 1;
        assert!(rounds < 20, "the queue never drained");
    }

    let dead = dead_letter
        .receive(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{\"not\": \"an event\"}");
    let page = store.list_tickets(&TicketQuery::newest(10)).await.unwrap();
    assert_eq!(page.items.len(), 2, "ann's and bob's messages are ingested");
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

#[tokio::test]
async fn on_sqlite() {
    let db = Database::in_memory().unwrap();
    poison_goes_to_the_dead_letter_queue(
        SqliteQueue::inbound(db.clone()),
        SqliteQueue::inbound_dead_letter(db.clone()),
        SqliteStore::new(db),
    )
    .await;
}

#[tokio::test]
async fn on_sqs_and_dynamodb() {
    let stack = emulator::deploy().await;
    poison_goes_to_the_dead_letter_queue(
        SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone()),
        SqsQueue::new(stack.sqs(), stack.inbound_dead_letter_queue_url.clone()),
        DynamoStore::connect(&stack.config, stack.table.clone()),
    )
    .await;
}
