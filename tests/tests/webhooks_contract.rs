//! The webhook-subscription store contract, run against both adapters.

mod sqlite {
    use socialcare_sqlite::{Database, SqliteStore};
    socialcare_tests::webhooks_contract!(async {
        SqliteStore::new(Database::in_memory().unwrap())
    });
}

mod dynamodb {
    use socialcare_aws::DynamoStore;
    use socialcare_tests::emulator;
    socialcare_tests::webhooks_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
}
