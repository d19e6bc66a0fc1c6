//! Lambda `scheduler`: every minute (EventBridge schedule), moves the reminders due within 15
//! minutes from the due index onto the reminders queue, delayed until they are due, queues
//! the notice of each incident opened since (the reminders worker sends it), and adds the
//! changes on the table's stream to the report's counters.

use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_wiring::lambda::Lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let scheduler = &Lambda::start().await.scheduler();
    // The schedule's payload says nothing the run needs; a failed run is an error so that
    // Lambda's logs and error metrics show it (what it had moved stays moved).
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            scheduler.run(chrono::Utc::now()).await?;
            Ok::<(), lambda_runtime::Error>(())
        },
    ))
    .await
}
