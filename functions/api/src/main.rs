//! Lambda `api`: the tickets API (HTTP API `/v1/*`) and the agent console beside it.

use socialcare_app::api::routes;
use socialcare_console::ConsoleSettings;
use socialcare_wiring::http_app;
use socialcare_wiring::lambda::{Lambda, with_request_origin};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let lambda = Lambda::start().await;
    let state = Arc::new(lambda.api_state().await?);
    // The console beside the API, over https (API Gateway): Secure, __Host- cookies.
    let console = socialcare_console::routes(
        state.clone(),
        ConsoleSettings { https: true },
        lambda.attachment_files(),
    );
    lambda_http::run(with_request_origin(http_app(routes(state).merge(console)))).await
}
