//! The queue contract, run against both adapters.

use socialcare_tests::contract::queue::{Fifo, Standard};

mod sqlite {
    use super::*;
    use socialcare_sqlite::{Database, SqliteQueue};
    socialcare_tests::queue_contract!(async {
        let db = Database::in_memory().unwrap();
        Fifo {
            queue: SqliteQueue::inbound(db.clone()),
            dead_letter: SqliteQueue::inbound_dead_letter(db),
        }
    });
}

mod sqs {
    use super::*;
    use socialcare_aws::SqsQueue;
    use socialcare_tests::emulator;
    socialcare_tests::queue_contract!(async {
        let stack = emulator::deploy().await;
        Fifo {
            queue: SqsQueue::new(stack.sqs(), stack.inbound_queue_url.clone()),
            dead_letter: SqsQueue::new(stack.sqs(), stack.inbound_dead_letter_queue_url.clone()),
        }
    });
}

mod sqlite_outbox {
    use super::*;
    use socialcare_sqlite::{Database, SqliteQueue};
    socialcare_tests::standard_queue_contract!(async {
        let db = Database::in_memory().unwrap();
        Standard {
            queue: SqliteQueue::outbox(db.clone()),
            dead_letter: SqliteQueue::outbox_dead_letter(db),
        }
    });
}

mod sqs_outbox {
    use super::*;
    use socialcare_aws::SqsQueue;
    use socialcare_tests::emulator;
    socialcare_tests::standard_queue_contract!(async {
        let stack = emulator::deploy().await;
        Standard {
            queue: SqsQueue::new(stack.sqs(), stack.outbox_queue_url.clone()),
            dead_letter: SqsQueue::new(stack.sqs(), stack.outbox_dead_letter_queue_url.clone()),
        }
    });
}
