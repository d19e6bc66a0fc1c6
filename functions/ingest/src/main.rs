//! Lambda `ingest`: turns inbound queue messages into messages on tickets (SQS event source,
//! partial batch failures reported).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_app::accounts::parse_teams;
use socialcare_app::ingest::handle_sqs_event;
use socialcare_aws::{DynamoStore, load_config, optional_secret};
use socialcare_domain::threading::Rules;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let teams = match optional_secret(&secrets, "ACCOUNTS_SECRET_ARN").await? {
        Some(text) => parse_teams(&text)?,
        None => Default::default(),
    };
    let rules = Rules {
        teams,
        ..Rules::default()
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let (store, rules) = (&store, &rules);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            handle_sqs_event(store, rules, event.payload).await,
        )
    }))
    .await
}
