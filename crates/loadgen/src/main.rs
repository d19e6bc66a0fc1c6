//! `socialcare-loadgen`: the 10,000-message burst (issue 7) and its yardsticks.
//!
//! - `burst`: signed webhooks from X, Meta and an integrator, with duplicates and follow-ups,
//!   then a check through the API that each message was stored exactly once.
//! - `accounts`: the SOCIALCARE_CONFIG the runner needs to serve the burst's brand accounts.
//! - `putitem`: the emulator's raw PutItem rate, to compare the ingest rate with.
//! - `count-proxy`: counts the runner's DynamoDB and SQS requests (with `--aws`).

use socialcare_loadgen::{
    accounts, bodies, burst, costs, outage, plan, proxy, putitem, sqlite_floor, summary, verify,
};

use accounts::Brand;
use anyhow::Context;
use bodies::{Composer, Secrets};
use clap::{Args, Parser, Subcommand};
use plan::{Mix, Platform, Rng};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Load generator for socialcare: webhook bursts, and yardsticks to read them by"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sends N signed webhooks and checks that each message was stored exactly once.
    Burst(Box<BurstArgs>),
    /// Prints the SOCIALCARE_CONFIG (brand accounts) a runner needs to serve the burst.
    Accounts {
        /// Keep the automatic acknowledgements of new public complaints on.
        #[arg(long)]
        acknowledgements: bool,
        #[command(flatten)]
        brand: Brand,
    },
    /// Writes ~500-byte items to a throwaway DynamoDB table and prints PutItem/s.
    Putitem {
        /// The DynamoDB endpoint (the emulator).
        #[arg(long)]
        endpoint: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
        region: String,
    },
    /// Writes the rows of N messages straight into SQLite, two transactions each (WAL,
    /// synchronous=FULL), and prints messages/s: the embedded store's floor.
    SqliteFloor {
        /// Where the throwaway database goes (a temporary directory by default).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 2_000)]
        messages: u64,
    },
    /// Forwards requests to the AWS emulator and counts them by operation (GET /__counts).
    CountProxy {
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// The emulator, e.g. http://127.0.0.1:5300.
        #[arg(long)]
        upstream: String,
        /// Make the emulator unreachable this many seconds after the start (connections
        /// reset); `POST /__outage?after_secs=&secs=` plans one later instead.
        #[arg(long, requires = "outage_secs")]
        outage_after_secs: Option<f64>,
        /// How long the outage lasts.
        #[arg(long, requires = "outage_after_secs")]
        outage_secs: Option<f64>,
    },
}

#[derive(Debug, Args)]
// A later flag wins, so that wrappers (infra/burst) can set defaults their callers override.
#[command(args_override_self = true)]
struct BurstArgs {
    /// The runner's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Webhooks to send, duplicates included.
    #[arg(long, default_value_t = 10_000)]
    messages: u64,
    /// Webhooks in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Share of the webhooks that re-send an earlier delivery byte for byte.
    #[arg(long, default_value_t = 0.1)]
    duplicates: f64,
    /// Share of the unique messages that are follow-ups answering the customer's earlier one.
    #[arg(long, default_value_t = 0.2)]
    replies: f64,
    /// Customers the messages are spread over (default: as many as messages).
    #[arg(long)]
    customers: Option<u64>,
    /// Seed of the choices (kinds, customers, duplicates); random by default.
    #[arg(long)]
    seed: Option<u64>,
    /// The X app's consumer secret; without it no X webhooks are sent.
    #[arg(long, env = "X_CONSUMER_SECRET", hide_env_values = true)]
    x_secret: Option<String>,
    /// The Meta app secret; without it no Facebook or Instagram webhooks are sent.
    #[arg(long, env = "META_APP_SECRET", hide_env_values = true)]
    meta_secret: Option<String>,
    /// The integrator webhook's secret (in the runner's credentials.env).
    #[arg(long, env = "SOCIALCARE_INTEGRATION_SECRET", hide_env_values = true)]
    integration_secret: String,
    /// The API key that reads the tickets back (in the runner's credentials.env).
    #[arg(long, env = "SOCIALCARE_API_KEY", hide_env_values = true)]
    api_key: String,
    #[command(flatten)]
    brand: Brand,
    /// How long a webhook answered 503 or not answered at all is sent again, from its first
    /// attempt, in seconds (0: never).
    #[arg(long, default_value_t = 120)]
    retry_for: u64,
    /// How long to wait for ingest after the last webhook, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// How often the API is polled while waiting, in milliseconds (each poll reads the whole
    /// ticket list of the burst: against moto, whose queries scan the table, poll less often).
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// A count-proxy's `/__counts`: report the AWS requests per stored message.
    #[arg(long)]
    counts_url: Option<String>,
    /// A count-proxy's `/__outage`: make the emulator unreachable during the burst, from
    /// `--outage-after-secs` after the first send for `--outage-secs`.
    #[arg(long, requires_all = ["outage_after_secs", "outage_secs"])]
    outage_url: Option<String>,
    #[arg(long, requires = "outage_url")]
    outage_after_secs: Option<f64>,
    #[arg(long, requires = "outage_url")]
    outage_secs: Option<f64>,
    /// Also print the summary as one JSON line.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs a command; `false` when a burst found a problem.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Burst(args) => burst(*args).await,
        Command::Accounts {
            acknowledgements,
            brand,
        } => {
            print!("{}", accounts::config_toml(&brand, acknowledgements));
            Ok(true)
        }
        Command::Putitem {
            endpoint,
            seconds,
            concurrency,
            region,
        } => {
            anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
            putitem::run(putitem::Settings {
                endpoint,
                seconds,
                concurrency,
                region,
            })
            .await?;
            Ok(true)
        }
        Command::SqliteFloor { dir, messages } => {
            let dir = dir.unwrap_or_else(std::env::temp_dir);
            let floor = tokio::task::spawn_blocking(move || sqlite_floor::run(&dir, messages))
                .await
                .context("the floor's writer")??;
            println!(
                "sqlite-floor: {} messages in {:.2} s, {:.0} messages/s (two transactions each, WAL, synchronous=FULL)",
                floor.messages,
                floor.seconds,
                floor.per_second()
            );
            Ok(true)
        }
        Command::CountProxy {
            listen,
            upstream,
            outage_after_secs,
            outage_secs,
        } => {
            let planned = match (outage_after_secs, outage_secs) {
                (Some(after), Some(lasting)) => Some(proxy::PlannedOutage {
                    after: Duration::try_from_secs_f64(after).context("--outage-after-secs")?,
                    lasting: Duration::try_from_secs_f64(lasting).context("--outage-secs")?,
                }),
                _ => None,
            };
            proxy::run(listen, &upstream, planned).await?;
            Ok(true)
        }
    }
}

/// How long the runner is watched idle before the burst, for its background request rate.
const IDLE_WINDOW: Duration = Duration::from_secs(3);
/// How long after every message was seen the tickets are read once more, for late copies.
const SETTLE: Duration = Duration::from_secs(2);

async fn burst(args: BurstArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    let secrets = Secrets {
        x_consumer: args.x_secret.clone().filter(|s| !s.is_empty()),
        meta_app: args.meta_secret.clone().filter(|s| !s.is_empty()),
        integration: args.integration_secret.clone(),
    };
    let mix = Mix::of(|platform| match platform {
        Platform::X => secrets.x_consumer.is_some(),
        Platform::Meta => secrets.meta_app.is_some(),
        Platform::Integration => true,
    });
    for (missing, what) in [
        (
            secrets.x_consumer.is_none(),
            "X_CONSUMER_SECRET (--x-secret): no X webhooks",
        ),
        (
            secrets.meta_app.is_none(),
            "META_APP_SECRET (--meta-secret): no Facebook or Instagram webhooks",
        ),
    ] {
        if missing {
            eprintln!("note: no {what}");
        }
    }
    let api = verify::Api::new(&args.url, &args.api_key)?;
    // Fails early, with the reason, when the runner is not there or the key is wrong.
    api.one_ticket_page()
        .await
        .with_context(|| format!("the runner at {} is not ready", args.url))?;
    let mut rng = match args.seed {
        Some(seed) => Rng::seeded(seed),
        None => Rng::from_entropy()?,
    };
    // The run's tag, in every id: seconds of the clock, so runs against one store differ.
    let run = (chrono::Utc::now().timestamp() % 1_000_000) as u32;
    let composer = Arc::new(Composer::new(run, args.brand.clone(), secrets));
    let kinds: Vec<&str> = mix.kinds().map(plan::Kind::name).collect();
    eprintln!(
        "burst {run:06}: {} webhooks to {} ({}), {} at a time",
        args.messages,
        args.url,
        kinds.join(", "),
        args.concurrency
    );

    let counts = args
        .counts_url
        .as_deref()
        .map(costs::CountsEndpoint::new)
        .transpose()?;
    let idle = match &counts {
        Some(counts) => {
            counts.reset().await?;
            tokio::time::sleep(IDLE_WINDOW).await;
            let idle = counts.read().await?;
            counts.reset().await?;
            Some(idle)
        }
        None => None,
    };
    let counted_since = Instant::now();

    let settings = burst::Settings {
        url: args.url.clone(),
        messages: args.messages,
        concurrency: args.concurrency,
        duplicates: args.duplicates,
        replies: args.replies,
        customers: args.customers.unwrap_or(args.messages).max(1),
        retry_for: Duration::from_secs(args.retry_for),
    };
    let outage = args
        .outage_url
        .as_deref()
        .map(outage::OutageEndpoint::new)
        .transpose()?;
    if let (Some(outage), Some(after), Some(lasting)) =
        (&outage, args.outage_after_secs, args.outage_secs)
    {
        outage.plan(after, lasting).await?;
        eprintln!(
            "outage planned: the emulator unreachable {after} s after the first send, for {lasting} s"
        );
    }
    let sent = burst::send(&settings, composer, &mix, &mut rng).await?;
    eprintln!(
        "sent {} webhooks in {:.1} s; waiting for {} messages to be stored",
        sent.sent,
        sent.wall.as_secs_f64(),
        sent.expected.len()
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let poll_every = Duration::from_millis(args.poll_ms.max(10));
    let mut scanner = verify::Scanner::new(&api, sent.started_at);
    let expected = sent.expected.len() as u64;
    let waited =
        verify::wait_for_ingest(&mut scanner, expected, sent.started, deadline, poll_every).await?;
    // Taken before any ticket detail is read: from here on the verifier's reads would count.
    let burst_counts = match &counts {
        Some(counts) => Some((
            counts.read().await?,
            counted_since.elapsed(),
            scanner.list_pages,
        )),
        None => None,
    };
    let verification = verify::check(
        &mut scanner,
        &sent.expected,
        &sent.unacknowledged,
        sent.started,
        deadline,
        poll_every,
        SETTLE,
    )
    .await?;
    // The list may have counted a message twice or a message that is not ours yet: then the
    // details decided, later.
    let ingested_after = match (waited, verification.all_stored_after) {
        (Some(listed), Some(_)) if verification.detail_passes == 1 => Some(listed),
        (_, all_stored) => all_stored,
    };

    let requests = match (&counts, idle, burst_counts) {
        (Some(counts), Some(idle), Some((burst, burst_window, list_pages))) => {
            let before = counts.read().await?;
            api.one_ticket_page().await?;
            let list_page = counts.read().await?.since(&before);
            let measured = costs::Measured {
                burst,
                burst_window,
                idle,
                idle_window: IDLE_WINDOW,
                list_page,
                list_pages,
            };
            Some(measured.per_message(verification.stored))
        }
        _ => None,
    };
    let outage = match &outage {
        Some(outage) => Some(outage.read().await?),
        None => None,
    };
    let summary = summary::Summary::new(
        &args.url,
        format!("{run:06}"),
        &sent,
        ingested_after,
        &verification,
        requests,
        outage,
    );
    print!("{}", summary.text());
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).context("writing the summary as JSON")?
        );
    }
    Ok(summary.passed())
}
