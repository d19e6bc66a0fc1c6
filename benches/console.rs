//! The console's pages on the embedded store at 10,000 tickets and 50,000 messages: the inbox
//! (all open, mine) and a ticket page, served by the local runner's router over loopback, with
//! a floor measured in the same run (an asset through the same server and headers, no store).
//!
//!   cargo bench -p socialcare-benches --bench console
//!
//! Prints p50/p95/p99 per page. The seeded store is kept in target/bench-console/ and reused.
//! Not criterion: the target is a p95, which criterion does not report.

use chrono::{Duration, Utc};
use socialcare_app::api::{self, ApiState};
use socialcare_console::ConsoleSettings;
use socialcare_domain::access::{ApiKey, Role, key_hash};
use socialcare_domain::ingest::{InboundEvent, IngestOutcome, ingest_with};
use socialcare_domain::ownership::{Assignment, Teams, assign};
use socialcare_domain::ports::{ApiKeyStore, SessionStore, SettingsStore};
use socialcare_domain::sessions::Session;
use socialcare_domain::sla::{Policies, Policy, Targets};
use socialcare_domain::threading::Rules;
use socialcare_domain::{
    Actor, Author, Channel, Direction, NormalizedMessage, Source, TicketId, TicketStatus, lifecycle,
};
use socialcare_sqlite::{Database, SqliteStore};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const TICKETS: u32 = 10_000;
const MESSAGES_PER_TICKET: u32 = 5;
const REQUESTS: usize = 300;
const AGENT_KEY: &str = "sk_bench_console_sally";
const SESSION_TOKEN: &str = "bench-session-token-0000000000000000000000";
/// Bumped when the seed changes, so an old store is not reused.
const SEED_VERSION: u32 = 1;

fn message(ticket: u32, n: u32, at: chrono::DateTime<Utc>) -> NormalizedMessage {
    NormalizedMessage {
        source: Source::Integration,
        account: "bench".into(),
        channel: Channel::Private,
        direction: Direction::Inbound,
        external_id: format!("bench-{ticket}-{n}"),
        in_reply_to: None,
        thread_id: None,
        conversation_id: None,
        recipient_id: None,
        author: Author {
            id: format!("customer-{ticket}"),
            name: Some(format!("Customer {ticket}")),
            handle: None,
            email: None,
            followers: None,
            verified_email: false,
        },
        text: format!("My order {ticket} never arrived and nobody answers, message {n} of mine"),
        attachments: vec![],
        created_at: at,
        callback_url: Some("https://crm.example/hooks/replies".into()),
        found_by: None,
        subject: None,
        quoted: None,
        html: None,
    }
}

async fn seed(store: &SqliteStore) -> Vec<TicketId> {
    let targets = Targets {
        first_response_minutes: 60,
        next_response_minutes: 120,
        resolution_minutes: 24 * 60,
    };
    let policies = Policies {
        policies: BTreeMap::from([(
            "bench".to_string(),
            Policy {
                targets: BTreeMap::from([("normal".to_string(), targets)]),
                calendar: None,
                warn_at_percent: 80,
                escalation_url: None,
                followups: Default::default(),
            },
        )]),
    };
    store.put_sla_policies(&policies).await.unwrap();
    store
        .create_key(&ApiKey::new(AGENT_KEY, "sally", Role::Agent, Utc::now()))
        .await
        .unwrap();
    let rules = Rules {
        policies,
        ..Rules::default()
    };
    let start = Utc::now() - Duration::days(3);
    let mut ids = Vec::new();
    let began = Instant::now();
    for ticket in 0..TICKETS {
        let opened = start + Duration::seconds(i64::from(ticket) * 20);
        let mut id = None;
        for n in 0..MESSAGES_PER_TICKET {
            let event = InboundEvent {
                message: message(ticket, n, opened + Duration::minutes(i64::from(n))),
                received_at: opened,
            };
            if let IngestOutcome::Opened { ticket_id, .. } =
                ingest_with(store, &event, &rules).await.unwrap()
            {
                id = Some(ticket_id);
            }
        }
        let id = id.expect("the first message opens the ticket");
        let at = opened + Duration::minutes(10);
        let agent = Actor::Agent { id: "sally".into() };
        match ticket % 10 {
            0 | 1 => {
                lifecycle::change_status(store, &id, TicketStatus::Resolved, agent, at)
                    .await
                    .unwrap();
            }
            2 => {
                lifecycle::change_status(store, &id, TicketStatus::PendingCustomer, agent, at)
                    .await
                    .unwrap();
            }
            3 | 4 => {
                let sallys = Assignment {
                    agent: Some("sally".into()),
                    team: None,
                };
                assign(store, &id, &sallys, &Teams::default(), agent, at)
                    .await
                    .unwrap();
            }
            _ => {}
        }
        ids.push(id);
        if ticket % 1000 == 999 {
            eprintln!("seeded {} tickets in {:?}", ticket + 1, began.elapsed());
        }
    }
    ids
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(http: &reqwest::Client, base: &str, path: &str) -> (f64, f64, f64, usize) {
    let mut took = Vec::with_capacity(REQUESTS);
    let mut bytes = 0;
    for _ in 0..REQUESTS {
        let began = Instant::now();
        let answer = http
            .get(format!("{base}{path}"))
            .header("cookie", format!("sc_session={SESSION_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        bytes = answer.bytes().await.unwrap().len();
        took.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        percentile(&took, 0.5),
        percentile(&took, 0.95),
        percentile(&took, 0.99),
        bytes,
    )
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-console");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("console-v{SEED_VERSION}.db"));
    let ids_path = dir.join(format!("console-v{SEED_VERSION}.ids"));
    let fresh = !path.exists() || !ids_path.exists();
    if fresh {
        let _ = std::fs::remove_file(&path);
    }
    let store = SqliteStore::new(Database::open(&path).unwrap());
    let ids: Vec<TicketId> = if fresh {
        let ids = seed(&store).await;
        let text: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        std::fs::write(&ids_path, text.join("\n")).unwrap();
        ids
    } else {
        std::fs::read_to_string(&ids_path)
            .unwrap()
            .lines()
            .filter_map(TicketId::parse)
            .collect()
    };
    let now = Utc::now();
    // A session of this run (a reused store holds the last run's).
    store
        .delete_session(&socialcare_domain::sessions::session_id(SESSION_TOKEN))
        .await
        .unwrap();
    store
        .create_session(&Session::open(
            SESSION_TOKEN,
            "csrf",
            &key_hash(AGENT_KEY),
            "sally",
            Role::Agent,
            now,
        ))
        .await
        .unwrap();
    let state = Arc::new(ApiState::new(store, "sk_bench_bootstrap"));
    let app = socialcare_app::error::json_errors(api::routes(state.clone()).merge(
        socialcare_console::routes(state, ConsoleSettings::default(), None),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = login.find("rel=\"stylesheet\" href=\"").unwrap() + 23;
    let css = login[start..].split('"').next().unwrap().to_string();
    let ticket = &ids[ids.len() / 2];
    println!(
        "console pages, {TICKETS} tickets and {} messages on SQLite, {REQUESTS} sequential requests each",
        TICKETS * MESSAGES_PER_TICKET
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>9}",
        "page", "p50 ms", "p95 ms", "p99 ms", "bytes"
    );
    for (name, path) in [
        ("floor: an asset", css.as_str()),
        ("inbox, all open (100 rows)", "/?view=open"),
        ("inbox, mine", "/?view=mine"),
        ("inbox rows (the refresh)", "/inbox/rows?view=open"),
        ("inbox, resolved", "/?view=resolved"),
        ("ticket page (5 messages)", &format!("/tickets/{ticket}")),
        ("report, last 30 days", "/report"),
    ] {
        let (p50, p95, p99, bytes) = measure(&http, &base, path).await;
        println!("{name:<34} {p50:>8.2} {p95:>8.2} {p99:>8.2} {bytes:>9}");
    }
}
