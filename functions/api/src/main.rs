//! Lambda `api`: the tickets API (HTTP API `/v1/*`).

use socialcare_app::accounts::Configuration;
use socialcare_app::api::{ApiState, routes};
use socialcare_app::bootstrap::{BootstrapKeys, Reload, ReloadError};
use socialcare_app::error::json_errors;
use socialcare_app::logging::traced;
use socialcare_app::outbox::Outbox;
use socialcare_aws::{DynamoStore, SqsQueue, load_config, optional_secret, secret_string};
use socialcare_console::ConsoleSettings;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    socialcare_app::logging::init();
    let config = load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set");
    let key_arn = std::env::var("API_KEY_SECRET_ARN").expect("API_KEY_SECRET_ARN is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let api_key = secret_string(&secrets, &key_arn).await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let accounts_config = optional_secret(&secrets, "ACCOUNTS_SECRET_ARN")
        .await?
        .unwrap_or_default();
    let Configuration { accounts, rules } = Configuration::parse(&accounts_config)?;
    let outbox_url = std::env::var("OUTBOX_QUEUE_URL").expect("OUTBOX_QUEUE_URL is set");
    let outbox = Outbox::new(SqsQueue::new(aws_sdk_sqs::Client::new(&config), outbox_url));
    // Read again every five minutes: a rotated bootstrap key is seen without a redeploy.
    let reload: Reload = {
        let (secrets, key_arn) = (secrets.clone(), key_arn.clone());
        Arc::new(move || {
            let (secrets, key_arn) = (secrets.clone(), key_arn.clone());
            Box::pin(async move {
                secret_string(&secrets, &key_arn)
                    .await
                    .map_err(ReloadError::from)
            })
        })
    };
    let bootstrap = BootstrapKeys::reloading(&api_key, reload, Duration::from_secs(300));
    let mut state = ApiState::new(store, &api_key).with_bootstrap_keys(bootstrap);
    // For the first rotation of the default integration, which replaces this secret.
    if let Some(secret) = optional_secret(&secrets, "INTEGRATION_SECRET_ARN").await? {
        state = state.with_integration_secret(&secret);
    }
    let state = state
        .with_accounts(&accounts)
        .with_teams(rules.teams)
        .with_paces(rules.paces)
        .with_outbox(outbox);
    let state = Arc::new(state);
    // The console beside the API, over https (API Gateway): Secure, __Host- cookies.
    let console = socialcare_console::routes(state.clone(), ConsoleSettings { https: true });
    let app = traced(json_errors(routes(state).merge(console)));
    lambda_http::run(app).await
}
