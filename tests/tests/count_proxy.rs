//! The count-proxy prices DynamoDB writes as AWS bills them, in front of moto with the table of
//! template.yaml: an update by the whole item and not only the values it sets, each index by
//! what it projects (the lists gsi1 and gsi2 their keys, the due index gsi5 the keys and the
//! reminder), a refused condition by the item as it is, a transaction twice on the table, an
//! item written before the proxy knew it, and many updates of one item at once, each priced
//! from the item as that update found it.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem,
};
use socialcare_loadgen::counts::Counts;
use socialcare_tests::emulator::{self, CountProxy};
use std::collections::BTreeMap;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// A ticket-like item of about 1.6 KB in the list gsi1 (keys only) and in the due index gsi5
/// (the keys and the reminder).
fn ticket(pk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk", s(pk)),
        ("sk", s("TICKET")),
        ("gsi1pk", s("TICKETS")),
        ("gsi1sk", s(&format!("2026-12-01#{pk}"))),
        ("gsi5pk", s("DUE#1")),
        ("gsi5sk", s(&format!("2026-12-01T10:00:00Z#{pk}"))),
        ("reminder", s("{\"kind\":\"first_response\"}")),
        ("subject", s(&"x".repeat(1_500))),
        ("n", AttributeValue::N("1".into())),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

fn indexes(counts: &Counts) -> BTreeMap<&str, u64> {
    counts
        .index_write_units
        .iter()
        .filter(|(_, units)| **units > 0)
        .map(|(index, units)| (index.as_str(), *units))
        .collect()
}

#[tokio::test]
async fn writes_are_priced_by_the_whole_item_and_each_index_entry() {
    let stack = emulator::deploy().await;
    let proxied = CountProxy::start().await;
    let client = proxied.dynamodb(&stack);
    let dynamodb = &client;
    let table = stack.table.as_str();

    // A new item: 2 units on the table (1.6 KB), 1 in gsi1 (its keys), 1 in gsi5.
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(ticket("T#1")))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .expect("put");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    assert_eq!(indexes(&counts), BTreeMap::from([("gsi1", 1), ("gsi5", 1)]));
    assert_eq!(counts.write_units, 4);
    assert_eq!(counts.unpriced_writes, 0);

    // One small number changes: the whole item is written again; neither index projects
    // what changed.
    dynamodb
        .update_item()
        .table_name(table)
        .key("pk", s("T#1"))
        .key("sk", s("TICKET"))
        .update_expression("SET n = :n")
        .expression_attribute_values(":n", AttributeValue::N("2".into()))
        .send()
        .await
        .expect("update");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    assert_eq!(indexes(&counts), BTreeMap::new());
    assert_eq!(counts.write_units, 2);

    // The reminder queued: the due entry deleted.
    dynamodb
        .update_item()
        .table_name(table)
        .key("pk", s("T#1"))
        .key("sk", s("TICKET"))
        .update_expression("REMOVE gsi5pk, gsi5sk, reminder")
        .send()
        .await
        .expect("update");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    assert_eq!(indexes(&counts), BTreeMap::from([("gsi5", 1)]));

    // A put refused by its condition: the item as it is, no index.
    let refused = dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(ticket("T#1")))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(refused.is_err(), "the item exists");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    assert_eq!(indexes(&counts), BTreeMap::new());
    assert_eq!(counts.operations["DynamoDB_20120810.PutItem"].failed, 1);

    // A transaction: a small new item in gsi2 (2 on the table, 1 in gsi2) and a condition
    // check of the 1.6 KB item (a write of it, twice).
    let small = Put::builder()
        .table_name(table)
        .item("pk", s("S#1"))
        .item("sk", s("S"))
        .item("gsi2pk", s("OPEN"))
        // gsi2 sorts on gsi1sk, as every list does; without gsi1pk, gsi1 has no entry.
        .item("gsi1sk", s("1"))
        .build()
        .expect("a put");
    let check = ConditionCheck::builder()
        .table_name(table)
        .key("pk", s("T#1"))
        .key("sk", s("TICKET"))
        .condition_expression("attribute_exists(pk)")
        .build()
        .expect("a check");
    dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(small).build())
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await
        .expect("transaction");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2 + 4);
    assert_eq!(indexes(&counts), BTreeMap::from([("gsi2", 1)]));

    // An item written straight to the emulator, unknown to the proxy: an update is priced by
    // the item as the emulator has it.
    stack
        .dynamodb()
        .put_item()
        .table_name(table)
        .set_item(Some(ticket("T#2")))
        .send()
        .await
        .expect("put around the proxy");
    dynamodb
        .update_item()
        .table_name(table)
        .key("pk", s("T#2"))
        .key("sk", s("TICKET"))
        .update_expression("SET gsi1sk = :sk")
        .expression_attribute_values(":sk", s("2026-12-02#T#2"))
        .send()
        .await
        .expect("update");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    // gsi1's key moved: the old entry deleted, the new one put.
    assert_eq!(indexes(&counts), BTreeMap::from([("gsi1", 2)]));

    // A delete: the item deleted, and its entries.
    dynamodb
        .delete_item()
        .table_name(table)
        .key("pk", s("T#2"))
        .key("sk", s("TICKET"))
        .send()
        .await
        .expect("delete");
    let counts = proxied.take().await;
    assert_eq!(counts.table_write_units, 2);
    assert_eq!(indexes(&counts), BTreeMap::from([("gsi1", 1), ("gsi5", 1)]));

    // Reads: a strongly consistent read of the small item is one unit, an eventually
    // consistent one half.
    for consistent in [true, false] {
        let read = dynamodb
            .get_item()
            .table_name(table)
            .key("pk", s("S#1"))
            .key("sk", s("S"))
            .consistent_read(consistent)
            .send()
            .await
            .expect("get");
        assert!(read.item().is_some());
    }
    let counts = proxied.take().await;
    assert_eq!(counts.read_units, 1.5);
    assert_eq!(counts.write_units, 0);
}

#[tokio::test]
async fn updates_of_one_item_at_once_are_each_priced_from_the_item_they_found() {
    let stack = emulator::deploy().await;
    let proxied = CountProxy::start().await;
    let client = proxied.dynamodb(&stack);
    let table = stack.table.clone();
    let counter = |n: u32| {
        let client = client.clone();
        let table = table.clone();
        async move {
            client
                .update_item()
                .table_name(table)
                .key("pk", s("REPORT#2026-12-01"))
                .key("sk", s("COUNTERS"))
                // Each update adds a field to the item, which grows past 1 KB as they land;
                // its gsi1 entry (keys only) is written by the first alone.
                .update_expression("SET gsi1pk = :pk, gsi1sk = :sk, #field = :padding")
                .expression_attribute_names("#field", format!("f{n:02}"))
                .expression_attribute_values(":pk", s("REPORTS"))
                .expression_attribute_values(":sk", s("2026-12-01"))
                .expression_attribute_values(":padding", s(&"p".repeat(60)))
                .return_values(ReturnValue::None)
                .send()
                .await
                .expect("update")
        }
    };
    futures::future::join_all((0..40).map(counter)).await;
    let counts = proxied.take().await;
    let stored = stack
        .dynamodb()
        .get_item()
        .table_name(&table)
        .key("pk", s("REPORT#2026-12-01"))
        .key("sk", s("COUNTERS"))
        .send()
        .await
        .expect("get")
        .item
        .expect("the counters");
    assert_eq!(stored.len(), 4 + 40);
    // The item after k updates is 58 + k * 63 bytes: under 1 KB for the first 15,
    // 2 KB up to the 31st, 3 KB after. Whatever the order they landed in, the k-th write
    // costs the units of the item after it.
    let expected: u64 = (1..=40u64)
        .map(|k| {
            let size = "pkREPORT#2026-12-01skCOUNTERSgsi1pkREPORTSgsi1sk2026-12-01".len() as u64
                + k * (3 + 60);
            size.div_ceil(1024)
        })
        .sum();
    assert_eq!(
        counts.operations["DynamoDB_20120810.UpdateItem"].requests,
        40
    );
    assert_eq!(counts.table_write_units, expected);
    assert_eq!(counts.index_write_units.get("gsi1"), Some(&1));
    assert_eq!(counts.unpriced_writes, 0);
}
