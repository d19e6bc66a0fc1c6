//! Lambda `events`: the table's stream (a DynamoDB event source) to the EventBridge bus, as
//! the events integrators hear (`ticket.created`, `ticket.status_changed`, ...).

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_wiring::lambda::{Lambda, stream_changes};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let events = &Lambda::start().await.events();
    lambda_runtime::run(service_fn(move |batch: LambdaEvent<Event>| async move {
        let changes = stream_changes(&batch.payload.records);
        let published = events.handle(&changes).await?;
        tracing::info!(published, "events published");
        Ok::<(), lambda_runtime::Error>(())
    }))
    .await
}
