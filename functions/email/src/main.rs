//! Lambda `email`: SES's receipt rule stored a message for one of the mailboxes in the mail
//! bucket and invoked this function with its receipt; the message is read, parsed and queued
//! for ingest (a refused one is kept under `refused/`). An error makes Lambda try again.

use aws_lambda_events::event::ses::SimpleEmailEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_wiring::lambda::Lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let email = &Lambda::start().await.email().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<SimpleEmailEvent>| async move {
            email.handle(event.payload).await?;
            Ok::<(), lambda_runtime::Error>(())
        },
    ))
    .await
}
