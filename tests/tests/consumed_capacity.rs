//! On AWS every read and write of the store asks DynamoDB what it consumed, and the ingest
//! function reports it per batch. Against moto, which answers `ConsumedCapacity` only when a
//! request asks for it (with fixed figures: 1 unit a write, half a unit an eventually
//! consistent read), the meter seeing those figures shows that the client asked, whichever call
//! site made the request.

use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_aws::{Consumed, measured_client};
use socialcare_tests::emulator;

#[tokio::test]
async fn every_request_of_a_measured_client_asks_for_its_consumed_capacity() {
    let stack = emulator::deploy().await;
    let (client, meter) = measured_client(&stack.config);
    let s = |value: &str| AttributeValue::S(value.to_string());
    for pk in ["A", "B"] {
        client
            .put_item()
            .table_name(&stack.table)
            .item("pk", s(pk))
            .item("sk", s("#X"))
            .send()
            .await
            .expect("put");
    }
    let read = client
        .get_item()
        .table_name(&stack.table)
        .key("pk", s("A"))
        .key("sk", s("#X"))
        .send()
        .await
        .expect("get");
    assert!(read.item().is_some());
    assert_eq!(
        meter.take(),
        Consumed {
            write_units: 2.0,
            index_write_units: 0.0,
            read_units: 0.5,
        }
    );
    // Taken: the next batch starts from nothing.
    assert_eq!(meter.take(), Consumed::default());
    // A client without the meter does not ask: moto then answers no capacity at all.
    let plain = aws_sdk_dynamodb::Client::new(&stack.config)
        .put_item()
        .table_name(&stack.table)
        .item("pk", s("C"))
        .item("sk", s("#X"))
        .send()
        .await
        .expect("put");
    assert_eq!(plain.consumed_capacity(), None);
}
