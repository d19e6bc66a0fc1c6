//! How long each function takes from exec to its first poll of the Lambda Runtime API
//! (`GET /2018-06-01/runtime/invocation/next`): its cold start, less AWS's own part. Each
//! runs against a stack of template.yaml deployed into moto on loopback (secrets, table and
//! queues as on AWS), beside a do-nothing `lambda_runtime` binary built in the same run: the
//! floor. Prints the median and the slowest of `RUNS` starts of each, and the ratio to the
//! floor's median. Then each function's peak resident memory (`VmHWM`): once started, and
//! after ten invocations where there is real work to give it without a platform (ingest: ten
//! new messages in one batch; webhook: ten signed posts; api: ten ticket lists).
//!
//! ```sh
//! cargo build --profile measure -p webhook -p ingest -p api -p sender -p scheduler -p reminders
//! cargo build --profile measure -p socialcare-benches --bin hello-lambda
//! AWS_ENDPOINT_URL=http://127.0.0.1:5599 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing \
//!     AWS_SECRET_ACCESS_KEY=testing cargo run --profile measure -p socialcare-benches \
//!     --bin init-time -- 15
//! ```

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use socialcare_domain::QueuedEvent;
use socialcare_tests::events::{generic_body, inbound, signature};
use socialcare_tests::fixture;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `binary` as Lambda starts it, against the Runtime API at `runtime_api`.
fn lambda_command(
    binary: &PathBuf,
    env: &[(String, String)],
    runtime_api: &str,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "init-time")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "init-time")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "init-time")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// One start: exec, then the wait for the first `/next`.
async fn start_once(binary: &PathBuf, env: &[(String, String)]) -> anyhow::Result<Duration> {
    Ok(serve(binary, env, Vec::new()).await?.first_poll)
}

/// How long a function took from exec to its first poll, what it answered to its
/// invocations, its peak resident memory in kB once started and after the last invocation,
/// and the processor time the invocations took.
struct Served {
    first_poll: Duration,
    answers: Vec<Value>,
    started_kb: u64,
    peak_kb: u64,
    cpu: Duration,
}

/// The processor time a process's threads have had, from `/proc` (nanoseconds, unlike the
/// clock ticks of `stat`).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let schedstat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        total += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

/// The peak resident memory of a running process, from `/proc` (kB).
fn peak_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM for {pid}"))
}

/// Starts `binary`, gives it `events` one invocation each, and reads its memory. At most
/// 10 s for the first poll, 30 s for each answer.
async fn serve(
    binary: &PathBuf,
    env: &[(String, String)],
    events: Vec<Value>,
) -> anyhow::Result<Served> {
    let count = events.len();
    let events = Arc::new(Mutex::new(
        events.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let (polled, mut polls) = mpsc::unbounded_channel::<Instant>();
    let (answered, mut answers) = mpsc::unbounded_channel::<Value>();
    let next = move || {
        let (events, polled) = (events.clone(), polled.clone());
        async move {
            let _ = polled.send(Instant::now());
            let event = events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let Some((n, event)) = event else {
                // No more: the function waits here until it is killed.
                std::future::pending::<()>().await;
                unreachable!()
            };
            let deadline = (chrono::Utc::now() + chrono::Duration::seconds(30)).timestamp_millis();
            (
                [
                    ("lambda-runtime-aws-request-id", format!("init-time-{n}")),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:init-time".into(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                ],
                axum::Json(event),
            )
        }
    };
    // Read as bytes: the runtime client does not always say its answer is JSON.
    let respond = move |body: axum::body::Bytes| {
        let answered = answered.clone();
        async move {
            let answer = serde_json::from_slice(&body)
                .unwrap_or_else(|_| json!({"not_json": String::from_utf8_lossy(&body)}));
            let _ = answered.send(answer);
            axum::http::StatusCode::ACCEPTED
        }
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond.clone()),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(respond));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let runtime_api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = lambda_command(binary, env, &runtime_api).spawn()?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let first_poll = match tokio::time::timeout(Duration::from_secs(10), polls.recv()).await {
        Ok(Some(at)) => at - started,
        _ => {
            let _ = child.kill().await;
            server.abort();
            let output = child.wait_with_output().await?;
            let said = String::from_utf8_lossy(&output.stderr);
            anyhow::bail!("{} never polled /next: {said}", binary.display())
        }
    };
    let wait = Duration::from_secs(30);
    let started_kb = peak_kb(pid)?;
    let cpu_before = cpu_time(pid)?;
    let mut served = Vec::with_capacity(count);
    for _ in 0..count {
        match tokio::time::timeout(wait, answers.recv()).await? {
            Some(answer) => served.push(answer),
            None => anyhow::bail!("{} stopped answering", binary.display()),
        }
    }
    // The poll after the last answer: the last invocation is over.
    for _ in 0..count {
        tokio::time::timeout(wait, polls.recv()).await?;
    }
    let peak_kb = peak_kb(pid)?;
    let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
    let _ = child.kill().await;
    server.abort();
    Ok(Served {
        first_poll,
        answers: served,
        started_kb,
        peak_kb,
        cpu,
    })
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
        ("INTEGRATION_SECRET_ARN", INTEGRATION_SECRET),
        ("API_KEY_SECRET_ARN", API_KEY),
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
    // What one request to moto costs a function at its start (a new configuration and client,
    // so a new connection): the part of the figures below that is the emulator's.
    let secret_arn = env
        .iter()
        .find(|(name, _)| name == "INTEGRATION_SECRET_ARN")
        .map(|(_, arn)| arn.clone())
        .unwrap_or_default();
    let mut round_trips = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let config = socialcare_aws::lambda_config().await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        client
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await?;
        round_trips.push(started.elapsed());
    }
    println!(
        "one request to moto from a new client: median {:.1} ms",
        median(&mut round_trips).as_secs_f64() * 1e3
    );
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
    println!(
        "peak resident memory (VmHWM) once started and after ten invocations; their processor time"
    );
    for name in [
        "hello-lambda",
        "ingest",
        "webhook",
        "api",
        "sender",
        "scheduler",
        "reminders",
    ] {
        let events = work_for(name);
        let worked = !events.is_empty();
        let served = serve(&dir.join(name), &env, events).await?;
        let failed: Vec<&Value> = served.answers.iter().filter(|a| !succeeded(a)).collect();
        anyhow::ensure!(
            failed.is_empty(),
            "{name} failed its invocations: {failed:?}"
        );
        match worked {
            true => println!(
                "{name:>12}: {:>6.1} MB started, {:>6.1} MB after ten, {:>6.1} ms of processor for them",
                served.started_kb as f64 / 1024.0,
                served.peak_kb as f64 / 1024.0,
                served.cpu.as_secs_f64() * 1e3
            ),
            false => println!(
                "{name:>12}: {:>6.1} MB started",
                served.started_kb as f64 / 1024.0
            ),
        }
    }
    Ok(())
}

/// The integration secret and the API key the stack's secrets hold here.
const INTEGRATION_SECRET: &str = "whsec_init_time_secret_0123";
const API_KEY: &str = "sk_init_time_key_0123456789";

/// Ten invocations of real work for the functions that have some without a platform.
fn work_for(name: &str) -> Vec<Value> {
    let now = chrono::Utc::now();
    match name {
        "ingest" => {
            let mut event: Value =
                serde_json::from_str(&fixture("lambda-events/example-sqs-event-obj.json"))
                    .expect("the SQS fixture is JSON");
            let template = event["Records"][0].clone();
            event["Records"] = (0..10)
                .map(|n| {
                    let queued = QueuedEvent::Message(inbound(
                        &format!("init-time-{}-{n}", now.timestamp_micros()),
                        &format!("customer-{n}"),
                        "My order arrived broken, can someone help?",
                        now,
                    ));
                    let mut record = template.clone();
                    record["messageId"] = json!(format!("m-{n}"));
                    record["body"] = json!(serde_json::to_string(&queued).expect("an event"));
                    record["attributes"]["MessageGroupId"] = json!(format!("customer-{n}"));
                    record
                })
                .collect();
            vec![event]
        }
        "webhook" => (0..10)
            .map(|n| {
                let body = generic_body(
                    &format!("init-time-post-{}-{n}", now.timestamp_micros()),
                    &format!("poster-{n}"),
                    "Billing charged me twice",
                    now,
                )
                .to_string();
                let mut event = http_event("POST", "/webhooks/generic");
                event["headers"]["content-type"] = json!("application/json");
                event["headers"]["x-socialcare-signature"] =
                    json!(signature(INTEGRATION_SECRET, now, body.as_bytes()));
                event["body"] = json!(body);
                event
            })
            .collect(),
        "api" => (0..10)
            .map(|_| {
                let mut event = http_event("GET", "/v1/tickets");
                event["headers"]["authorization"] = json!(format!("Bearer {API_KEY}"));
                event
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The fixture's API Gateway v2 request, aimed at `path`.
fn http_event(method: &str, path: &str) -> Value {
    let mut event: Value = serde_json::from_str(&fixture(
        "lambda-events/lambda-http_apigw_v2_proxy_request.json",
    ))
    .expect("the API Gateway fixture is JSON");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = json!({});
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["body"] = Value::Null;
    event["isBase64Encoded"] = json!(false);
    event
}

/// An answer of work done: an HTTP 2xx, or an SQS batch with no failed record.
fn succeeded(answer: &Value) -> bool {
    match answer.get("statusCode").and_then(Value::as_u64) {
        Some(status) => (200..300).contains(&status),
        None => answer["batchItemFailures"]
            .as_array()
            .is_some_and(Vec::is_empty),
    }
}
