//! Lambda `reminders`: acts on reminders as they come due and sends escalation notices (SQS
//! reminders event source, partial batch failures reported; waits are visibility timeouts).

use socialcare_wiring::lambda::{Lambda, serve_sqs};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let reminders = Lambda::start().await.reminders().await?;
    serve_sqs(|event| reminders.handle(event)).await
}
