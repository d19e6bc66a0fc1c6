//! Lambda `scheduler`: every minute (EventBridge schedule), moves the reminders due within 15
//! minutes from the due index onto the reminders queue, delayed until they are due, and queues
//! the notice of each incident opened since (the reminders worker sends it).

use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_app::scheduler::Scheduler;
use socialcare_aws::{DynamoStore, SqsQueue, load_config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let queue_url = std::env::var("REMINDERS_QUEUE_URL").expect("REMINDERS_QUEUE_URL is set");
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url);
    let scheduler = Scheduler::default();
    let (store, queue, scheduler) = (&store, &queue, &scheduler);
    // The schedule's payload says nothing the run needs; a failed run is an error so that
    // Lambda's logs and error metrics show it (what it had moved stays moved).
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let now = chrono::Utc::now();
            let moved = scheduler.run(store, queue, now).await?;
            let announced = scheduler.announce_incidents(store, queue, now).await?;
            tracing::info!(moved, announced, "reminders and incident notices queued");
            Ok::<(), lambda_runtime::Error>(())
        },
    ))
    .await
}
