//! `socialcare-local`: the webhook and API handlers and the ingest consumer in one process,
//! on the embedded SQLite store (default) or on DynamoDB and SQS (`--aws`).

mod credentials;
mod runner;

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Settings {
    /// Where to listen.
    #[arg(long, env = "SOCIALCARE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where the embedded store keeps its data (and generated credentials).
    #[arg(long, env = "SOCIALCARE_DATA", default_value = "./.socialcare")]
    pub data: PathBuf,
    /// Use DynamoDB and SQS (TABLE_NAME, INBOUND_QUEUE_URL; AWS_ENDPOINT_URL for an emulator).
    #[arg(long)]
    pub aws: bool,
    /// `sqlite` (default) or `aws`; the same as --aws.
    #[arg(long, env = "SOCIALCARE_BACKEND", default_value = "sqlite")]
    pub backend: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    socialcare_app::logging::init();
    let settings = Settings::parse();
    let credentials = credentials::load_or_create(&settings.data)?;
    match (settings.aws, settings.backend.as_str()) {
        (true, _) | (false, "aws") => runner::on_aws(&settings, credentials).await,
        (false, "sqlite") => runner::on_sqlite(&settings, credentials).await,
        (false, other) => anyhow::bail!("unknown SOCIALCARE_BACKEND {other:?}: use sqlite or aws"),
    }
}
