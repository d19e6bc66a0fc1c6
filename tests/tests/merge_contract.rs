//! The merge and contacts contracts (two customers who are one person, and what suggests it),
//! run against both adapters.

mod sqlite {
    use socialcare_sqlite::{Database, SqliteStore};
    socialcare_tests::merge_contract!(async { SqliteStore::new(Database::in_memory().unwrap()) });
    socialcare_tests::contacts_contract!(async {
        SqliteStore::new(Database::in_memory().unwrap())
    });
}

mod dynamodb {
    use socialcare_aws::DynamoStore;
    use socialcare_tests::emulator;
    socialcare_tests::merge_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
    socialcare_tests::contacts_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
}

/// The embedded store tells a merge as the stream does: `customer.merged` once it is done.
mod sqlite_events {
    use chrono::{TimeZone, Utc};
    use socialcare_domain::IngestOutcome;
    use socialcare_domain::customers::merge_customers;
    use socialcare_domain::domain_events::EventBody;
    use socialcare_domain::ingest::ingest;
    use socialcare_sqlite::{Database, SqliteStore};
    use socialcare_tests::events::inbound;

    #[tokio::test]
    async fn a_merge_done_is_in_the_change_log_once() {
        let store = SqliteStore::new(Database::in_memory().unwrap());
        let at = |minute| Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap();
        let customer_of = |outcome: IngestOutcome| match outcome {
            IngestOutcome::Opened { ticket, .. } => ticket.customer_id,
            other => panic!("{other:?}"),
        };
        let ann = customer_of(
            ingest(&store, &inbound("m1", "ann", "hi", at(0)))
                .await
                .unwrap(),
        );
        let smith = customer_of(
            ingest(&store, &inbound("s1", "ann.smith", "hi", at(1)))
                .await
                .unwrap(),
        );
        let (_, read) = store.unread_events(100).await.unwrap();
        store.mark_events_read(read.unwrap()).await.unwrap();

        merge_customers(&store, &ann, &smith, "sally", at(2))
            .await
            .unwrap();
        merge_customers(&store, &ann, &smith, "sally", at(3))
            .await
            .unwrap();
        let (events, _) = store.unread_events(100).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].created_at, at(2));
        assert_eq!(events[0].account, "crm");
        assert_eq!(
            events[0].body,
            EventBody::CustomerMerged {
                customer_id: ann,
                merged: smith,
                identities: 1,
                tickets: 1,
                merged_by: "sally".into(),
            }
        );
    }
}
