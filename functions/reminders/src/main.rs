//! Lambda `reminders`: acts on reminders as they come due and sends escalation notices (SQS
//! reminders event source, partial batch failures reported; waits are visibility timeouts).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use socialcare_app::accounts::parse_teams;
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::Worker;
use socialcare_aws::{DynamoStore, SqsQueue, load_config, optional_secret, secret_string};
use socialcare_domain::ports::SystemClock;
use socialcare_domain::replies::SendPolicy;
use socialcare_platforms::{DEFAULT_TIMEOUT, HttpNotifier, OutboundGuard};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let reminders_url = std::env::var("REMINDERS_QUEUE_URL").expect("REMINDERS_QUEUE_URL is set");
    let outbox_url = std::env::var("OUTBOX_QUEUE_URL").expect("OUTBOX_QUEUE_URL is set");
    let secret_arn =
        std::env::var("INTEGRATION_SECRET_ARN").expect("INTEGRATION_SECRET_ARN is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let integration_secret = secret_string(&secrets, &secret_arn).await?;
    let teams = match optional_secret(&secrets, "ACCOUNTS_SECRET_ARN").await? {
        Some(text) => parse_teams(&text)?,
        None => Default::default(),
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    // Notices are signed with the default integration's outbound secrets once it is rotated.
    let integrations = IntegrationDirectory::of(store.clone(), Duration::from_secs(60));
    let notifier = HttpNotifier::new(
        integration_secret.clone().into_bytes(),
        OutboundGuard::from_env(),
        DEFAULT_TIMEOUT,
    )?
    .with_signing_secrets(integrations.signing_secrets(integration_secret.into_bytes()));
    let worker = Worker {
        teams,
        notifier,
        policy: SendPolicy::default(),
    };
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = SqsQueue::new(sqs.clone(), reminders_url);
    let outbox = Outbox::new(SqsQueue::new(sqs, outbox_url));
    let (store, queue, outbox, worker) = (&store, &queue, &outbox, &worker);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            worker
                .handle_sqs_event(store, queue, outbox, event.payload, &SystemClock)
                .await,
        )
    }))
    .await
}
