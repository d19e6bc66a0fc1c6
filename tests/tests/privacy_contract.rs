//! The data-rights contract (export, erasure), run against both adapters.

mod sqlite {
    use socialcare_sqlite::{Database, SqliteStore};
    socialcare_tests::privacy_contract!(async { SqliteStore::new(Database::in_memory().unwrap()) });
}

mod dynamodb {
    use socialcare_aws::DynamoStore;
    use socialcare_tests::emulator;
    socialcare_tests::privacy_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
}

/// How the DynamoDB adapter purges, which the contract cannot see: the ticket goes first with a
/// marker, then its messages and trail; a purge cut short between the two is finished by the
/// next, and the dedupe records stay.
mod dynamodb_purge {
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::{TimeZone, Utc};
    use socialcare_aws::DynamoStore;
    use socialcare_domain::IngestOutcome;
    use socialcare_domain::ingest::ingest;
    use socialcare_domain::ports::RetentionStore;
    use socialcare_tests::emulator;
    use socialcare_tests::events::inbound;

    #[tokio::test]
    async fn a_purge_cut_short_after_the_ticket_is_finished_by_the_next() {
        let stack = emulator::deploy().await;
        let store = DynamoStore::connect(&stack.config, stack.table.clone());
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let outcome = ingest(&store, &inbound("m1", "ann", "refund", at))
            .await
            .unwrap();
        let IngestOutcome::Opened { ticket_id, .. } = outcome else {
            panic!("{outcome:?}")
        };
        let db = stack.dynamodb();
        let s = |v: String| AttributeValue::S(v);
        // The state a crash after the ticket's transaction leaves.
        db.delete_item()
            .table_name(&stack.table)
            .key("pk", s(format!("TICKET#{ticket_id}")))
            .key("sk", s("#TICKET".into()))
            .send()
            .await
            .unwrap();
        db.put_item()
            .table_name(&stack.table)
            .item("pk", s("PURGES".into()))
            .item("sk", s(ticket_id.to_string()))
            .send()
            .await
            .unwrap();
        assert_eq!(store.finish_purges().await.unwrap(), 1);
        let count = |pk: String| {
            let db = db.clone();
            let table = stack.table.clone();
            async move {
                db.query()
                    .table_name(table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk))
                    .send()
                    .await
                    .unwrap()
                    .count()
            }
        };
        assert_eq!(count(format!("TICKET#{ticket_id}")).await, 0);
        assert_eq!(count("PURGES".into()).await, 0);
        assert_eq!(count("MSGKEY#integration:crm:m1".into()).await, 1);
        assert_eq!(store.finish_purges().await.unwrap(), 0);
    }
}
