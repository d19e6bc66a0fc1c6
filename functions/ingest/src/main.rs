//! Lambda `ingest`: turns inbound queue messages into messages on tickets and queues their
//! acknowledgements (SQS event source, partial batch failures reported).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_app::accounts::Configuration;
use socialcare_app::ingest::handle_sqs_event;
use socialcare_app::outbox::Outbox;
use socialcare_aws::{DynamoStore, SqsQueue, load_config, optional_secret};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let rules = match optional_secret(&secrets, "ACCOUNTS_SECRET_ARN").await? {
        Some(text) => Configuration::parse(&text)?.rules,
        None => Default::default(),
    };
    let outbox_url = std::env::var("OUTBOX_QUEUE_URL").expect("OUTBOX_QUEUE_URL is set");
    let outbox = Outbox::new(SqsQueue::new(aws_sdk_sqs::Client::new(&config), outbox_url));
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let (store, rules, outbox) = (&store, &rules, &outbox);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            handle_sqs_event(store, rules, Some(outbox), event.payload).await,
        )
    }))
    .await
}
