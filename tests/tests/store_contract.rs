//! The ticket store contract, run against both adapters.

mod sqlite {
    use socialcare_sqlite::{Database, SqliteStore};
    socialcare_tests::store_contract!(async { SqliteStore::new(Database::in_memory().unwrap()) });
}

mod dynamodb {
    use socialcare_aws::DynamoStore;
    use socialcare_tests::emulator;
    socialcare_tests::store_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
}

/// How the DynamoDB adapter lays the trail out, which the contract cannot see: the event of an
/// ingested message's arrival is on the message's item, not an item of its own (two write
/// units fewer in each ingest transaction); the trail still reads it.
mod dynamodb_layout {
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::{TimeZone, Utc};
    use socialcare_aws::DynamoStore;
    use socialcare_domain::EventKind;
    use socialcare_domain::ingest::{IngestOutcome, ingest};
    use socialcare_domain::ports::TicketReads;
    use socialcare_tests::emulator;
    use socialcare_tests::events::inbound;

    #[tokio::test]
    async fn an_ingested_messages_arrival_rides_on_its_item() {
        let stack = emulator::deploy().await;
        let store = DynamoStore::connect(&stack.config, stack.table.clone());
        let at = |minute| Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap();
        let outcome = ingest(&store, &inbound("m1", "ann", "down", at(0)))
            .await
            .unwrap();
        let IngestOutcome::Opened { ticket_id, .. } = outcome else {
            panic!("{outcome:?}")
        };
        ingest(&store, &inbound("m2", "ann", "still down", at(1)))
            .await
            .unwrap();
        let query = |pk: String| {
            stack
                .dynamodb()
                .query()
                .table_name(&stack.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk))
                .send()
        };
        let events = query(format!("EVENTS#{ticket_id}")).await.unwrap();
        assert_eq!(events.items().len(), 0, "{:?}", events.items());
        let ticket = query(format!("TICKET#{ticket_id}")).await.unwrap();
        let arrivals: Vec<String> = ticket
            .items()
            .iter()
            .filter_map(|item| match item.get("arrival_event") {
                Some(AttributeValue::M(event)) => event.get("event")?.as_s().ok().cloned(),
                _ => None,
            })
            .collect();
        assert_eq!(arrivals, ["created", "message_added"]);
        let trail = store.ticket_events(&ticket_id).await.unwrap();
        assert!(
            matches!(trail[0].kind, EventKind::Created { .. }),
            "{trail:?}"
        );
        assert!(
            matches!(trail[1].kind, EventKind::MessageAdded { .. }),
            "{trail:?}"
        );
        assert_eq!(trail.len(), 2);
    }
}
