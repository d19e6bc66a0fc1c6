//! `socialcare-local`: see the crate documentation and the README.

use clap::Parser;
use socialcare_local::{Settings, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    socialcare_app::logging::init();
    let running = start(Settings::parse()).await?;
    println!("{}", running.banner);
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await
}
