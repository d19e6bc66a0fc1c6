//! Lambda `webhook`: verifies platform webhooks and queues them (HTTP API `/webhooks/*`).

use socialcare_app::error::json_errors;
use socialcare_app::webhook::{WebhookState, routes};
use socialcare_aws::{SqsQueue, load_config, secret_string};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let secret_arn =
        std::env::var("INTEGRATION_SECRET_ARN").expect("INTEGRATION_SECRET_ARN is set");
    let queue_url = std::env::var("INBOUND_QUEUE_URL").expect("INBOUND_QUEUE_URL is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let state = WebhookState {
        inbound: SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url),
        integration_secret: secret_string(&secrets, &secret_arn).await?.into_bytes(),
        clock: Arc::new(socialcare_domain::ports::SystemClock),
    };
    lambda_http::run(json_errors(routes(Arc::new(state)))).await
}
