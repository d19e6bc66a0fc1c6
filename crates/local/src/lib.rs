//! `socialcare-local`: the webhook and API handlers, the ingest consumer and the sender in one process,
//! on the embedded SQLite store (default) or on DynamoDB and SQS (`--aws`).

mod credentials;
mod runner;
mod sample;
pub mod sealer;

pub use runner::{Running, start};

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Settings {
    /// Where to listen.
    #[arg(long, env = "SOCIALCARE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where the embedded store keeps its data (and generated credentials).
    #[arg(long, env = "SOCIALCARE_DATA", default_value = "./.socialcare")]
    pub data: PathBuf,
    /// The brand accounts to serve (TOML; see the README). Without it, platform webhooks are
    /// accepted and dropped as for unknown accounts.
    #[arg(long, env = "SOCIALCARE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Credentials to post replies with (TOML; see the README). Without them, replies to X and
    /// Meta fail with a reason on the ticket; integrators' callbacks work without.
    #[arg(long, env = "SOCIALCARE_PLATFORM_CREDENTIALS")]
    pub platform_credentials: Option<PathBuf>,
    /// The address the platforms reach this runner at (a tunnel's, e.g.
    /// `https://care.example.ngrok.app`): where X and Meta send an admin back when an account
    /// is connected, and deliver its webhooks. Defaults to the listening address.
    #[arg(long, env = "SOCIALCARE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Use DynamoDB and SQS (TABLE_NAME, INBOUND_QUEUE_URL, OUTBOX_QUEUE_URL; AWS_ENDPOINT_URL
    /// for an emulator).
    #[arg(long)]
    pub aws: bool,
    /// `sqlite` (default) or `aws`; the same as --aws.
    #[arg(long, env = "SOCIALCARE_BACKEND", default_value = "sqlite")]
    pub backend: String,
    /// Let integrators' callbacks and escalation notices reach private and loopback addresses
    /// over plain http too: for development and tests only (never on a shared network).
    #[arg(long, env = "SOCIALCARE_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,
}
