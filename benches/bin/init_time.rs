//! How long each function takes from exec to its first poll of the Lambda Runtime API
//! (`GET /2018-06-01/runtime/invocation/next`): its cold start, less AWS's own part. Each
//! runs against a stack of template.yaml deployed into moto on loopback (secrets, table and
//! queues as on AWS), beside a do-nothing `lambda_runtime` binary built in the same run: the
//! floor. Prints the median and the slowest of `RUNS` starts of each, and the ratio to the
//! floor's median.
//!
//! ```sh
//! cargo build --profile measure -p webhook -p ingest -p api -p sender -p scheduler -p reminders
//! cargo build --profile measure -p socialcare-benches --bin hello-lambda
//! AWS_ENDPOINT_URL=http://127.0.0.1:5599 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing \
//!     AWS_SECRET_ACCESS_KEY=testing cargo run --profile measure -p socialcare-benches \
//!     --bin init-time -- 15
//! ```

use axum::Router;
use axum::routing::get;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One start: exec, then the wait for the first `/next` (at most 10 s).
async fn start_once(binary: &PathBuf, env: &[(String, String)]) -> anyhow::Result<Duration> {
    let (polled, mut first) = mpsc::unbounded_channel::<Instant>();
    let app = Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let polled = polled.clone();
            async move {
                let _ = polled.send(Instant::now());
                // Never answers: the function waits here until it is killed.
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let runtime_api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "init-time")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "init-time")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "init-time")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let polled_at = tokio::time::timeout(Duration::from_secs(10), first.recv()).await;
    let _ = child.kill().await;
    server.abort();
    match polled_at {
        Ok(Some(at)) => Ok(at - started),
        _ => {
            let output = child.wait_with_output().await?;
            let said = String::from_utf8_lossy(&output.stderr);
            anyhow::bail!("{} never polled /next: {said}", binary.display())
        }
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(15);
    let dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("no folder of the binaries"))?;
    // Every platform on: the functions read every secret they can have.
    let stack = socialcare_tests::emulator::deploy_with(&[
        ("XConsumerKey", "init-time-consumer-key"),
        ("XConsumerSecret", "init-time-consumer-secret"),
        ("MetaAppId", "1234567890"),
        ("MetaAppSecret", "init-time-meta-secret"),
        ("MetaVerifyToken", "init-time-verify"),
    ])
    .await;
    let mut env: Vec<(String, String)> = [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .iter()
    .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
    .collect();
    env.push(("RUST_LOG".into(), "warn".into()));
    env.push(("TABLE_NAME".into(), stack.table.clone()));
    env.push(("INBOUND_QUEUE_URL".into(), stack.inbound_queue_url.clone()));
    env.push(("OUTBOX_QUEUE_URL".into(), stack.outbox_queue_url.clone()));
    env.push((
        "REMINDERS_QUEUE_URL".into(),
        stack.reminders_queue_url.clone(),
    ));
    env.push(("TOKEN_KEY_ID".into(), stack.token_key.clone()));
    env.push(("X_CONSUMER_KEY".into(), "init-time-consumer-key".into()));
    env.push(("META_APP_ID".into(), "1234567890".into()));
    // The stack's secrets, made here (moto's CloudFormation leaves them out), as on AWS.
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.config);
    for (variable, value) in [
        ("INTEGRATION_SECRET_ARN", "whsec_init_time_secret_0123"),
        ("API_KEY_SECRET_ARN", "sk_init_time_key_0123456789"),
        ("X_CONSUMER_SECRET_ARN", "init-time-consumer-secret"),
        ("META_APP_SECRET_ARN", "init-time-meta-secret"),
        ("META_VERIFY_TOKEN_ARN", "init-time-verify"),
        (
            "ACCOUNTS_SECRET_ARN",
            "[[accounts]]\nplatform = \"x\"\nid = \"1100000000000000001\"\n",
        ),
        (
            "PLATFORM_CREDENTIALS_SECRET_ARN",
            "# tokens are connected in the console\n",
        ),
    ] {
        let name = format!("{}-{variable}", stack.name);
        let created = secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await?;
        env.push((variable.into(), created.arn().unwrap_or(&name).to_string()));
    }
    let binaries = [
        "hello-lambda",
        "webhook",
        "api",
        "ingest",
        "sender",
        "scheduler",
        "reminders",
    ];
    let mut floor = None;
    println!("exec -> first /invocation/next, {runs} starts each, moto on loopback");
    for name in binaries {
        let binary = dir.join(name);
        anyhow::ensure!(
            binary.exists(),
            "{} is not built (see the docstring)",
            binary.display()
        );
        // One start first: the page cache, and the configuration imported into the table.
        start_once(&binary, &env).await?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(start_once(&binary, &env).await?);
        }
        let slowest = *times.iter().max().unwrap_or(&Duration::ZERO);
        let middle = median(&mut times);
        let floor = *floor.get_or_insert(middle);
        println!(
            "{name:>12}: median {:>6.1} ms, slowest {:>6.1} ms, {:.1}x the floor",
            middle.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            middle.as_secs_f64() / floor.as_secs_f64()
        );
    }
    Ok(())
}
