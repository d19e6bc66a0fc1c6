//! Lambda `sender`: posts queued replies to X, Facebook, Instagram and integrators (SQS outbox
//! event source, partial batch failures reported; waits are visibility timeouts).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::sender::handle_sqs_event;
use socialcare_aws::{DynamoStore, SqsQueue, load_config, optional_secret, secret_string};
use socialcare_domain::ports::SystemClock;
use socialcare_domain::replies::SendPolicy;
use socialcare_platforms::{Credentials, DEFAULT_TIMEOUT, Endpoints, HttpPlatform, OutboundGuard};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let outbox_url = std::env::var("OUTBOX_QUEUE_URL").expect("OUTBOX_QUEUE_URL is set");
    let secret_arn =
        std::env::var("INTEGRATION_SECRET_ARN").expect("INTEGRATION_SECRET_ARN is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let integration_secret = secret_string(&secrets, &secret_arn).await?;
    let credentials = match optional_secret(&secrets, "PLATFORM_CREDENTIALS_SECRET_ARN").await? {
        Some(text) => Credentials::parse(&text)?,
        None => Credentials::default(),
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    // Each integration's callbacks are signed with its own outbound secrets.
    let integrations = IntegrationDirectory::of(store.clone(), Duration::from_secs(60));
    let platform = HttpPlatform::new(
        credentials,
        integration_secret.clone().into_bytes(),
        Endpoints::from_env(),
        OutboundGuard::from_env(),
        DEFAULT_TIMEOUT,
    )?
    .with_integration_secrets(integrations.signing_secrets(integration_secret.into_bytes()));
    let outbox = SqsQueue::new(aws_sdk_sqs::Client::new(&config), outbox_url);
    let policy = SendPolicy::default();
    let (store, platform, outbox, policy) = (&store, &platform, &outbox, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            handle_sqs_event(store, platform, outbox, event.payload, &SystemClock, policy).await,
        )
    }))
    .await
}
