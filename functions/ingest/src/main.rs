//! Lambda `ingest`: turns inbound queue messages into messages on tickets and queues their
//! acknowledgements (SQS event source, partial batch failures reported).

use socialcare_wiring::lambda::{Lambda, serve_sqs};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let ingest = Lambda::start().await.ingest().await?;
    serve_sqs(|event| ingest.handle(event)).await
}
