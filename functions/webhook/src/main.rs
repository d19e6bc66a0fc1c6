//! Lambda `webhook`: verifies platform webhooks and queues them (HTTP API `/webhooks/*`).

use socialcare_wiring::lambda::Lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = Lambda::start().await.webhook().await?;
    lambda_http::run(app).await
}
