//! Wires the handlers to a backend and runs them: the HTTP server, the ingest consumer, the
//! sender, the reminder scheduler and the reminders worker.

use crate::Settings;
use crate::credentials;
use crate::credentials::Credentials;
use crate::sample::{self, WithSampleCustomer};
use crate::sealer::LocalSealer;
use anyhow::Context;
use socialcare_app::api;
use socialcare_app::configuration::{ConfigurationCache, Import, LoadError};
use socialcare_app::ingest::Consumer;
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::listening::Lookup;
use socialcare_app::outbox::Outbox;
use socialcare_app::scheduler::Scheduler;
use socialcare_app::sender::Sender;
use socialcare_app::tokens::Observer;
use socialcare_app::webhook;
use socialcare_aws::{DynamoStore, SqsQueue};
use socialcare_console::ConsoleSettings;
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::ports::{Clock, Queue, StoreError, SystemClock, WebhookStore};
use socialcare_platforms::OutboundGuard;
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_wiring::WebhookSecrets;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A started runner: where it listens, what it printed, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// Where it listens, the credentials when generated, and a ready-to-paste signed request.
    pub banner: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The ingest consumer, the sender, the scheduler, the reminders worker, the events.
    workers: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        for worker in &self.workers {
            worker.abort();
        }
        self.server.await??;
        Ok(())
    }
}

/// Starts the HTTP server and the ingest consumer on the configured backend.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let credentials = credentials::load_or_create(&settings.data)?;
    match (settings.aws, settings.backend.as_str()) {
        (true, _) | (false, "aws") => on_aws(&settings, credentials).await,
        (false, "sqlite") => on_sqlite(&settings, credentials).await,
        (false, other) => anyhow::bail!("unknown SOCIALCARE_BACKEND {other:?}: use sqlite or aws"),
    }
}

async fn on_sqlite(settings: &Settings, credentials: Credentials) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&settings.data)?;
    let path = settings.data.join("socialcare.db");
    let fresh = !path.exists();
    let db = Database::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let backend = format!("embedded SQLite at {}", path.display());
    // A newcomer's first start (a new store, credentials made now): one sample complaint to
    // answer in the console.
    if fresh && credentials.generated {
        let now = SystemClock.now();
        let _queued = webhook::enqueue(
            &SqliteQueue::inbound(db.clone()),
            sample::complaint(now),
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("queueing the sample complaint: {}", e.message))?;
    }
    let store = SqliteStore::new(db.clone());
    serve(
        settings,
        credentials,
        &backend,
        store.clone(),
        Some(store),
        Queues {
            inbound: SqliteQueue::inbound(db.clone()),
            outbox: SqliteQueue::outbox(db.clone()),
            reminders: SqliteQueue::reminders(db),
        },
    )
    .await
}

async fn on_aws(settings: &Settings, credentials: Credentials) -> anyhow::Result<Running> {
    let config = socialcare_aws::load_config().await;
    let table = std::env::var("TABLE_NAME").context("--aws needs TABLE_NAME")?;
    let queue_url = std::env::var("INBOUND_QUEUE_URL").context("--aws needs INBOUND_QUEUE_URL")?;
    let outbox_url = std::env::var("OUTBOX_QUEUE_URL").context("--aws needs OUTBOX_QUEUE_URL")?;
    let reminders_url =
        std::env::var("REMINDERS_QUEUE_URL").context("--aws needs REMINDERS_QUEUE_URL")?;
    let backend =
        format!("DynamoDB table {table}, SQS queues {queue_url}, {outbox_url} and {reminders_url}");
    let sqs = aws_sdk_sqs::Client::new(&config);
    serve(
        settings,
        credentials,
        &backend,
        DynamoStore::connect(&config, table),
        // On AWS the events function reads the table's stream; this runner hears nothing.
        None::<SqliteStore>,
        Queues {
            inbound: SqsQueue::new(sqs.clone(), queue_url),
            outbox: SqsQueue::new(sqs.clone(), outbox_url),
            reminders: SqsQueue::new(sqs, reminders_url),
        },
    )
    .await
}

/// The queues of a backend.
struct Queues<Q> {
    inbound: Q,
    outbox: Q,
    reminders: Q,
}

/// How often the local scheduler looks at the due index: reminders fire within about a
/// second of their time (on AWS the schedule runs every minute and the queue delay does the
/// rest).
const SCHEDULE_EVERY: Duration = Duration::from_secs(1);
/// How often the local scheduler adds the store's change log to the report's counters (on
/// DynamoDB; the embedded store counts in each change): as on AWS, since a report read
/// catches up first anyway.
const COUNT_REPORT_EVERY: Duration = Duration::from_secs(60);
/// Inbound consumers at once. Two were measured slower on a 2-core machine (the 10,000-message
/// SQLite burst: ingest 759/s and webhook p99 177 ms, against 864–1,081/s and 21–144 ms with
/// one), so one, until a machine with more cores says otherwise.
const INGEST_CONSUMERS: usize = 1;

/// Where the runner reads the events for webhook subscribers: the embedded store's change log.
trait EventFeed: Send + Sync + 'static {
    fn unread(
        &self,
    ) -> impl Future<Output = Result<(Vec<DomainEvent>, Option<i64>), StoreError>> + Send;
    fn mark_read(&self, seq: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl EventFeed for SqliteStore {
    async fn unread(&self) -> Result<(Vec<DomainEvent>, Option<i64>), StoreError> {
        self.unread_events(100).await
    }
    async fn mark_read(&self, seq: i64) -> Result<(), StoreError> {
        self.mark_events_read(seq).await
    }
}

/// How often the runner looks for new events when it found none.
const EVENTS_EVERY: Duration = Duration::from_millis(250);

/// Turns the feed's events into deliveries to the webhook subscriptions, in order, for good.
async fn dispatch_events<S: WebhookStore, Q: Queue, F: EventFeed>(store: S, jobs: Q, feed: F) {
    loop {
        let handled = async {
            let (events, Some(last)) = feed.unread().await? else {
                return Ok::<bool, anyhow::Error>(false);
            };
            socialcare_app::deliveries::fan_out(&store, &jobs, &events).await?;
            feed.mark_read(last).await?;
            Ok(true)
        };
        match handled.await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(EVENTS_EVERY).await,
            Err(e) => {
                tracing::error!(error = %e, "events for webhook subscribers failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn serve<S, Q, F>(
    settings: &Settings,
    credentials: Credentials,
    backend: &str,
    store: S,
    feed: Option<F>,
    Queues {
        inbound,
        outbox,
        reminders,
    }: Queues<Q>,
) -> anyhow::Result<Running>
where
    S: api::Store + Clone + 'static,
    Q: Queue + Clone + 'static,
    F: EventFeed,
{
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("listening on {}", settings.addr))?;
    let addr = listener.local_addr()?;
    // Where the platforms send an admin back and deliver webhooks: a tunnel's address when
    // real accounts are connected to this runner.
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    // One cache for every handler of the process: a change saved through the API or the
    // console is in force at once. The file is imported only into a store that has none.
    let import = || async {
        let Some(path) = &settings.config else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            LoadError::Source(format!("reading SOCIALCARE_CONFIG {}: {e}", path.display()))
        })?;
        Ok(Some(Import {
            text,
            origin: format!("SOCIALCARE_CONFIG ({})", path.display()),
        }))
    };
    let configuration =
        ConfigurationCache::load(store.clone(), Duration::from_secs(5), import).await?;
    if let (Some(path), Some(version)) = (&settings.config, configuration.version()) {
        tracing::info!(version, file = %path.display(), "the stored configuration is in force; SOCIALCARE_CONFIG is imported only into a store that has none");
    }
    let platform_credentials = match &settings.platform_credentials {
        Some(path) => socialcare_platforms::Credentials::parse(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("platform credentials {}", path.display()))?,
        None => Default::default(),
    };
    let guard = match settings.allow_private_targets {
        true => OutboundGuard::allowing_private_targets(),
        false => OutboundGuard::strict(),
    };
    // Registered integrations, seen at once: their secrets check what they send and sign
    // what is sent to them.
    let integrations = IntegrationDirectory::of(store.clone(), Duration::ZERO);
    // New setups keep only the apps' credentials in the environment and connect each
    // account's token from the console, sealed with the data directory's key.
    let secret = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let x_consumer = secret("X_CONSUMER_KEY").zip(secret("X_CONSUMER_SECRET"));
    let platform_credentials = socialcare_wiring::with_app_credentials(
        platform_credentials,
        x_consumer,
        secret("META_APP_SECRET"),
    );
    let sealer = LocalSealer::load_or_create(&settings.data)?;
    // Reads X as the app: the accounts' searches, and the posts replies answer that no webhook
    // delivered.
    let lookup = Arc::new(Lookup::ready(socialcare_wiring::x_listener(
        &platform_credentials,
        Duration::from_secs(5),
    )?));
    let platform = socialcare_wiring::platform_with_tokens(
        socialcare_wiring::platform(
            platform_credentials,
            &credentials.integration_secret,
            guard,
            &integrations,
        )?,
        store.clone(),
        sealer.clone(),
    )
    // E-mail replies are written to the data directory, one file a message, for the mail
    // system to send (or to read).
    .with_mail(socialcare_platforms::mail::folder_transport(
        settings.data.join("sent-email"),
    ));
    let worker = socialcare_wiring::reminders_worker(
        configuration.clone(),
        &credentials.integration_secret,
        guard,
        &integrations,
    )?;
    // The files e-mails come with, beside the store.
    let attachment_files =
        socialcare_app::attachments::FolderFiles::shared(settings.data.join("email-attachments"));
    let webhook_state = socialcare_app::webhook::WebhookState {
        // An e-mail refused is kept beside the store, for inspection.
        refused_mail: Some(socialcare_app::email::keep_in_folder(
            settings.data.join("refused-email"),
        )),
        attachment_files: Some(attachment_files.clone()),
        ..socialcare_wiring::webhook_state(
            inbound.clone(),
            &credentials.integration_secret,
            WebhookSecrets {
                x_consumer_secret: secret("X_CONSUMER_SECRET"),
                meta_app_secret: secret("META_APP_SECRET"),
                meta_verify_token: secret("META_VERIFY_TOKEN"),
            },
            configuration.clone(),
            guard,
            integrations,
            Some(Observer::new(store.clone()).webhook_seen()),
        )
    };
    let webhooks = webhook::routes(Arc::new(webhook_state));
    let api_state = Arc::new(
        socialcare_wiring::api_state(
            store.clone(),
            &credentials.api_key,
            None,
            Some(&credentials.integration_secret),
            configuration.clone(),
            Outbox::new(outbox.clone()),
            Outbox::new(reminders.clone()),
        )
        .with_guard(guard)
        .with_connectors(socialcare_wiring::connectors(
            secret("X_CONSUMER_KEY").zip(secret("X_CONSUMER_SECRET")),
            secret("META_APP_ID").zip(secret("META_APP_SECRET")),
            Some(public_url.clone()),
            sealer,
        )?),
    );
    // The console over the same state: behind an https tunnel, Secure and __Host- cookies;
    // over plain http locally, neither.
    let https = public_url.starts_with("https://");
    let console = socialcare_console::routes(
        api_state.clone(),
        ConsoleSettings { https },
        Some(attachment_files.clone()),
    );
    let api = api::routes(api_state);
    let app = socialcare_wiring::http_app(webhooks.merge(api).merge(console));

    let banner = banner(addr, backend, &credentials, &settings.data);

    let consumer = Consumer {
        configuration: configuration.clone(),
        outbox: Some(Outbox::new(outbox.clone())),
        lookup: Some(lookup.clone()),
        ..Consumer::default()
    };
    // Like the event source mapping's pollers, there may be several: a customer's messages
    // stay in order (the queue holds back a group with a message in flight), and their
    // commits share group commits.
    let ingesting = (0..INGEST_CONSUMERS)
        .map(|_| {
            let (consumer, inbound, store) = (consumer.clone(), inbound.clone(), store.clone());
            tokio::spawn(async move {
                loop {
                    if let Err(e) = consumer.once(&inbound, &store).await {
                        tracing::error!(error = %e, "inbound queue unavailable; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            })
        })
        .collect::<Vec<_>>();
    let scheduling = {
        let (store, reminders, inbound) = (store.clone(), reminders.clone(), inbound.clone());
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let scheduler = Scheduler::default();
            let configuration = configuration;
            let mut counted = std::time::Instant::now();
            loop {
                let now = SystemClock.now();
                if let Err(e) = scheduler.run(&store, &reminders, now).await {
                    tracing::error!(error = %e, "scheduler failed; retrying");
                }
                if let Err(e) = scheduler.announce_incidents(&store, &reminders, now).await {
                    tracing::error!(error = %e, "incident notices failed; retrying");
                }
                let searches = &configuration.current().await.searches;
                // Instagram's hashtags: polled by the sender, with the page tokens.
                if let Err(e) =
                    socialcare_app::listening::queue_hashtag_polls(&store, &outbox, searches, now)
                        .await
                {
                    tracing::error!(error = %e, "hashtag polls not queued; retrying");
                }
                if searches.iter().any(|s| s.ticketable())
                    && let Some(listener) = lookup.get().await
                {
                    let listened = socialcare_app::listening::listen(
                        &store,
                        listener,
                        &inbound,
                        searches,
                        now,
                        Duration::from_secs(10),
                    );
                    match listened.await {
                        Ok(listened) if listened.requests > 0 => tracing::info!(
                            requests = listened.requests,
                            queued = listened.queued,
                            heard = listened.heard,
                            failed = listened.failed,
                            "searches polled"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "searches failed; retrying"),
                    }
                }
                if counted.elapsed() >= COUNT_REPORT_EVERY {
                    counted = std::time::Instant::now();
                    if let Err(e) = scheduler.count_report(&store).await {
                        tracing::error!(error = %e, "counting the report failed; retrying");
                    }
                }
                if scheduler.purge_due(now) {
                    let retention = &configuration.current().await.retention;
                    match scheduler.purge(&store, retention, now).await {
                        Ok(purged) if purged.tickets > 0 => {
                            tracing::info!(
                                tickets = purged.tickets,
                                messages = purged.messages,
                                "closed tickets past their retention deleted"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "purging expired tickets failed; retrying")
                        }
                    }
                }
                tokio::time::sleep(SCHEDULE_EVERY).await;
            }
        })
    };
    let dispatching =
        feed.map(|feed| tokio::spawn(dispatch_events(store.clone(), reminders.clone(), feed)));
    let reminding = {
        let (store, outbox) = (store.clone(), Outbox::new(outbox.clone()));
        tokio::spawn(async move {
            loop {
                let round = worker.once(
                    &store,
                    &reminders,
                    &outbox,
                    Duration::from_secs(1),
                    &SystemClock,
                );
                if let Err(e) = round.await {
                    tracing::error!(error = %e, "reminders queue unavailable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
    };
    let platform = WithSampleCustomer(platform);
    let sending = tokio::spawn(async move {
        let sender = Sender::default();
        loop {
            if let Err(e) = sender.once(&outbox, &store, &platform, &SystemClock).await {
                tracing::error!(error = %e, "outbox queue unavailable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        banner,
        server,
        workers: ingesting
            .into_iter()
            .chain([sending, scheduling, reminding])
            .chain(dispatching)
            .collect(),
        stop,
    })
}

fn banner(addr: SocketAddr, backend: &str, credentials: &Credentials, data: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let base = format!("http://{addr}");
    let _ = writeln!(out, "socialcare-local listening on {base} ({backend})");
    let _ = writeln!(
        out,
        "\nThe agent console: open {base}/ and sign in with the API key below."
    );
    if credentials.generated {
        let _ = writeln!(
            out,
            "\nCredentials (generated now, shown this once, kept in {}):",
            data.join(credentials::FILE).display()
        );
        let _ = writeln!(
            out,
            "  export SOCIALCARE_INTEGRATION_SECRET={} SOCIALCARE_API_KEY={}",
            credentials.integration_secret, credentials.api_key
        );
        let _ = writeln!(
            out,
            "\nA sample complaint from Ann Example waits in the inbox: answer it from the console."
        );
    } else {
        let _ = writeln!(
            out,
            "\nCredentials: set in the environment, or kept in {} (load them with `set -a; . {0}; set +a`)",
            data.join(credentials::FILE).display()
        );
    }
    let _ = writeln!(
        out,
        "\nSend an integrator's event, signed, as your systems would:"
    );
    let _ = writeln!(
        out,
        r#"  t=$(date +%s); body='{{"id":"sample-'$t'","source":"demo","customer":{{"id":"ann","name":"Ann Example","handle":"ann"}},"text":"My internet has been down since this morning. Can you help?","created_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}}'; curl -sS -X POST {base}/webhooks/generic -H 'Content-Type: application/json' -H "X-Socialcare-Signature: t=$t,v1=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$SOCIALCARE_INTEGRATION_SECRET" -r | cut -d' ' -f1)" -d "$body""#
    );
    let _ = writeln!(out, "\nSee the ticket:");
    let _ = writeln!(
        out,
        r#"  curl -sS -H "Authorization: Bearer $SOCIALCARE_API_KEY" {base}/v1/tickets"#
    );
    out
}
