//! Wires the handlers to a backend and runs them: the HTTP server and the ingest consumer.

use crate::Settings;
use crate::credentials::Credentials;
use anyhow::Context;
use socialcare_app::api::{self, ApiState};
use socialcare_app::ingest::consume_once;
use socialcare_app::webhook::{self, WebhookState};
use socialcare_aws::{DynamoStore, SqsQueue};
use socialcare_domain::ports::{IngestStore, Queue, SystemClock, TicketReads};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use std::sync::Arc;
use std::time::Duration;

pub async fn on_sqlite(settings: &Settings, credentials: Credentials) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data)?;
    let path = settings.data.join("socialcare.db");
    let db = Database::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let backend = format!("embedded SQLite at {}", path.display());
    serve(
        settings,
        credentials,
        &backend,
        SqliteStore::new(db.clone()),
        SqliteQueue::inbound(db),
    )
    .await
}

pub async fn on_aws(settings: &Settings, credentials: Credentials) -> anyhow::Result<()> {
    let config = socialcare_aws::load_config().await;
    let table = std::env::var("TABLE_NAME").context("--aws needs TABLE_NAME")?;
    let queue_url = std::env::var("INBOUND_QUEUE_URL").context("--aws needs INBOUND_QUEUE_URL")?;
    let backend = format!("DynamoDB table {table}, SQS queue {queue_url}");
    serve(
        settings,
        credentials,
        &backend,
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table),
        SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url),
    )
    .await
}

async fn serve<S, Q>(
    settings: &Settings,
    credentials: Credentials,
    backend: &str,
    store: S,
    inbound: Q,
) -> anyhow::Result<()>
where
    S: IngestStore + TicketReads + Clone + 'static,
    Q: Queue + Clone + 'static,
{
    let webhooks = webhook::routes(Arc::new(WebhookState {
        inbound: inbound.clone(),
        integration_secret: credentials.integration_secret.clone().into_bytes(),
        clock: Arc::new(SystemClock),
    }));
    let api = api::routes(Arc::new(ApiState::new(store.clone(), &credentials.api_key)));
    let app = socialcare_app::error::json_errors(webhooks.merge(api));

    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("listening on {}", settings.addr))?;
    let addr = listener.local_addr()?;
    print_banner(addr, backend, &credentials);

    let consumer = tokio::spawn(async move {
        loop {
            if let Err(e) = consume_once(&inbound, &store, Duration::from_secs(1)).await {
                tracing::error!(error = %e, "inbound queue unavailable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    consumer.abort();
    Ok(())
}

fn print_banner(addr: std::net::SocketAddr, backend: &str, credentials: &Credentials) {
    let base = format!("http://{addr}");
    println!("socialcare-local listening on {base} ({backend})");
    if credentials.generated {
        println!("\nCredentials (generated once, kept in the data directory):");
        println!(
            "  export SOCIALCARE_INTEGRATION_SECRET={} SOCIALCARE_API_KEY={}",
            credentials.integration_secret, credentials.api_key
        );
    }
    println!("\nSend a signed sample event:");
    println!(
        r#"  t=$(date +%s); body='{{"id":"sample-'$t'","source":"demo","customer":{{"id":"ann","name":"Ann Example","handle":"ann"}},"text":"My internet has been down since this morning. Can you help?","created_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}}'; curl -sS -X POST {base}/webhooks/generic -H 'Content-Type: application/json' -H "X-Socialcare-Signature: t=$t,v1=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$SOCIALCARE_INTEGRATION_SECRET" -r | cut -d' ' -f1)" -d "$body""#
    );
    println!("\nSee the ticket:");
    println!(r#"  curl -sS -H "Authorization: Bearer $SOCIALCARE_API_KEY" {base}/v1/tickets"#);
    println!();
}
