//! The DynamoDB adapter adds the report's counters from the table's stream, after each change's
//! transaction rather than in it: every change once, whatever happens to a catch-up (it dies
//! before its checkpoint, two run at once, one runs again with nothing new).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use socialcare_aws::DynamoStore;
use socialcare_domain::ingest::ingest;
use socialcare_domain::ports::MetricsStore;
use socialcare_domain::report::{GroupBy, report};
use socialcare_tests::emulator::{self, Stack};
use socialcare_tests::events::inbound;

/// The report's new tickets on the account `crm`, summed over its channel counters' items as
/// they are stored (no catch-up first).
async fn stored_tickets(stack: &Stack) -> i64 {
    let mut tickets = 0;
    for shard in 0..8 {
        let items = stack
            .dynamodb()
            .query()
            .table_name(&stack.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(format!("METRICS#crm#channel#{shard}")),
            )
            .send()
            .await
            .unwrap();
        for item in items.items() {
            if let Some(AttributeValue::N(n)) = item.get("tickets") {
                tickets += n.parse::<i64>().unwrap();
            }
        }
    }
    tickets
}

/// The feed's checkpoint items as stored, each shard's with its sequence number.
async fn checkpoints(stack: &Stack) -> Vec<(String, String)> {
    let found = stack
        .dynamodb()
        .query()
        .table_name(&stack.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("REPORT_FEED".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        item[name].as_s().unwrap().clone()
    };
    let found: Vec<(String, String)> = found
        .items()
        .iter()
        .map(|item| (text(item, "sk"), text(item, "sequence")))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found
}

async fn forget_checkpoints(stack: &Stack) {
    let client = stack.dynamodb();
    let checkpoints = client
        .query()
        .table_name(&stack.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("REPORT_FEED".into()))
        .send()
        .await
        .unwrap();
    assert!(!checkpoints.items().is_empty());
    for item in checkpoints.items() {
        client
            .delete_item()
            .table_name(&stack.table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_stream_adds_each_change_to_the_counters_once() {
    let stack = emulator::deploy().await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let at = |minute| Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap();
    for (id, customer) in [("f1", "ann"), ("f2", "bo"), ("f3", "cy")] {
        ingest(&store, &inbound(id, customer, "down", at(0)))
            .await
            .unwrap();
    }
    // A redelivery is a duplicate: it writes nothing, so the stream has nothing of it.
    ingest(&store, &inbound("f1", "ann", "down", at(0)))
        .await
        .unwrap();
    // Nothing is counted in the changes' transactions any more.
    assert_eq!(stored_tickets(&stack).await, 0);
    assert_eq!(store.catch_up().await.unwrap(), 3);
    assert_eq!(stored_tickets(&stack).await, 3);
    // Again with nothing new: nothing read, nothing added, and nothing written: the feed's
    // own writes are on the stream too, and a checkpoint written for them would be read and
    // written again every minute, one page at a time.
    let checkpoint = checkpoints(&stack).await;
    for _ in 0..2 {
        assert_eq!(store.catch_up().await.unwrap(), 0);
        assert_eq!(checkpoints(&stack).await, checkpoint);
    }
    assert_eq!(stored_tickets(&stack).await, 3);

    // A catch-up that died after adding to the counters and before its checkpoint: the next
    // reads the same records again, and the counters' own checkpoints keep them from counting.
    forget_checkpoints(&stack).await;
    assert_eq!(store.catch_up().await.unwrap(), 3);
    assert_eq!(stored_tickets(&stack).await, 3);

    // Two catch-ups at once (two containers): each new ticket once.
    for (id, customer) in [("f4", "di"), ("f5", "ed")] {
        ingest(&store, &inbound(id, customer, "down", at(1)))
            .await
            .unwrap();
    }
    let other = DynamoStore::connect(&stack.config, stack.table.clone());
    let (first, second) = tokio::join!(store.catch_up(), other.catch_up());
    first.unwrap();
    second.unwrap();
    assert_eq!(stored_tickets(&stack).await, 5);

    // A report read catches up first: what was written before it is in it.
    ingest(&store, &inbound("f6", "fy", "down", at(2)))
        .await
        .unwrap();
    let day = at(0).date_naive();
    let rows = other
        .metric_rows("crm", GroupBy::Channel, day, day)
        .await
        .unwrap();
    let figures = report(rows);
    assert_eq!(figures.len(), 1);
    assert_eq!(
        (figures[0].group.as_str(), figures[0].tickets),
        ("integration", 6)
    );
    // The counters' checkpoints are text, never read as counters.
    let rows = store
        .metric_rows("crm", GroupBy::Agent, day, day)
        .await
        .unwrap();
    for (_, counters) in &rows {
        assert!(
            counters.keys().all(|name| !name.starts_with("cp.")),
            "{rows:?}"
        );
    }
    assert_eq!(report(rows)[0].tickets, 6);
}

/// A record whose samples do not read (an item written by hand, or by another version) is left
/// out, not a catch-up that fails for good and leaves every later change uncounted.
#[tokio::test]
async fn a_change_whose_samples_do_not_read_does_not_stop_the_feed() {
    let stack = emulator::deploy().await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let at = |minute| Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap();
    ingest(&store, &inbound("g1", "ann", "down", at(0)))
        .await
        .unwrap();
    stack
        .dynamodb()
        .put_item()
        .table_name(&stack.table)
        .item("pk", AttributeValue::S("SAMPLES#by-hand".into()))
        .item("sk", AttributeValue::S("1".into()))
        .item("report", AttributeValue::S("not samples".into()))
        .send()
        .await
        .unwrap();
    ingest(&store, &inbound("g2", "bo", "down", at(1)))
        .await
        .unwrap();
    assert_eq!(store.catch_up().await.unwrap(), 2);
    assert_eq!(stored_tickets(&stack).await, 2);
}
