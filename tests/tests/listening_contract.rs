//! The listening contract (searches, and the posts replies answer), run against both
//! adapters and the fake X.

mod sqlite {
    use socialcare_sqlite::{Database, SqliteStore};
    socialcare_tests::listening_contract!(async {
        SqliteStore::new(Database::in_memory().unwrap())
    });
}

mod dynamodb {
    use socialcare_aws::DynamoStore;
    use socialcare_tests::emulator;
    socialcare_tests::listening_contract!(async {
        let stack = emulator::deploy().await;
        DynamoStore::connect(&stack.config, stack.table.clone())
    });
}
