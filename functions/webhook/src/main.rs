//! Lambda `webhook`: verifies platform webhooks and queues them (HTTP API `/webhooks/*`).

use socialcare_app::accounts::Accounts;
use socialcare_app::error::json_errors;
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::logging::traced;
use socialcare_app::webhook::{WebhookState, routes};
use socialcare_aws::{DynamoStore, SqsQueue, load_config, optional_secret, secret_string};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let secret_arn =
        std::env::var("INTEGRATION_SECRET_ARN").expect("INTEGRATION_SECRET_ARN is set");
    let queue_url = std::env::var("INBOUND_QUEUE_URL").expect("INBOUND_QUEUE_URL is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let accounts = match optional_secret(&secrets, "ACCOUNTS_SECRET_ARN").await? {
        Some(text) => Accounts::parse(&text)?,
        None => Accounts::default(),
    };
    let state = WebhookState {
        x_consumer_secret: optional_secret(&secrets, "X_CONSUMER_SECRET_ARN")
            .await?
            .map(String::into_bytes),
        meta_app_secret: optional_secret(&secrets, "META_APP_SECRET_ARN")
            .await?
            .map(String::into_bytes),
        meta_verify_token: optional_secret(&secrets, "META_VERIFY_TOKEN_ARN").await?,
        accounts,
        guard: socialcare_platforms::OutboundGuard::from_env(),
        // Registered integrations, each with its own secret; a change is seen within a minute.
        // Without them, registered sources would not be refused: no table, no start.
        integrations: IntegrationDirectory::of(
            DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&config),
                std::env::var("TABLE_NAME").expect("TABLE_NAME is set"),
            ),
            Duration::from_secs(60),
        ),
        ..WebhookState::new(
            SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url),
            secret_string(&secrets, &secret_arn).await?.as_bytes(),
            Arc::new(socialcare_domain::ports::SystemClock),
        )
    };
    lambda_http::run(traced(json_errors(routes(Arc::new(state))))).await
}
