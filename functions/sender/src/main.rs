//! Lambda `sender`: posts queued replies to X, Facebook, Instagram and integrators (SQS outbox
//! event source, partial batch failures reported; waits are visibility timeouts).

use socialcare_wiring::lambda::{Lambda, serve_sqs};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sender = Lambda::start().await.sender().await?;
    serve_sqs(|event| sender.handle(event)).await
}
