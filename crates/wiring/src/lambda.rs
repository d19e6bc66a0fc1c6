//! The Lambda functions' wiring: clients from the environment (`AWS_ENDPOINT_URL` points them
//! at the emulator), names from the template's variables, secrets from Secrets Manager, each
//! read once per container.

use crate::{WebhookSecrets, WiringError};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use futures::TryFutureExt;
use socialcare_app::api::ApiState;
use socialcare_app::bootstrap::{Reload, ReloadError};
use socialcare_app::configuration::{self, ConfigurationCache, Import, LoadError};
use socialcare_app::integrations::IntegrationDirectory;
use socialcare_app::listening::Lookup;
use socialcare_app::metrics::StoreUsage;
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::Worker;
use socialcare_app::scheduler::{ScheduleError, Scheduler};
use socialcare_app::tokens::Observer;
use socialcare_aws::{
    CapacityMeter, DynamoStore, EventBus, KmsSealer, MailBucket, SecretError, SesSender, SqsQueue,
    StreamChange, optional_secret, secret_string, secret_strings,
};
use socialcare_domain::ports::{StoreError, SystemClock};
use socialcare_domain::replies::SendPolicy;
use socialcare_platforms::{Credentials, HttpNotifier, HttpPlatform, OutboundGuard};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long the scheduler's searches may take of its minute (its timeout is 60 s).
const SEARCH_BUDGET: Duration = Duration::from_secs(30);

/// How long a Lambda container trusts what it read of the registered integrations.
const INTEGRATIONS_TTL: Duration = Duration::from_secs(60);

/// A variable the template always sets.
fn variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|e| panic!("{name} is set: {e:?}"))
}

/// The SDK clients of one container.
pub struct Lambda {
    secrets: aws_sdk_secretsmanager::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    /// What `dynamodb` consumed, as DynamoDB answers it.
    consumed: CapacityMeter,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    kms: aws_sdk_kms::Client,
    /// For the clients only one function uses, made by that function.
    config: aws_config::SdkConfig,
}

impl Lambda {
    /// Logging on, then the SDK configuration and clients from the environment.
    pub async fn start() -> Self {
        socialcare_app::logging::init();
        let config = socialcare_aws::lambda_config().await;
        let (dynamodb, consumed) = socialcare_aws::measured_client(&config);
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            dynamodb,
            consumed,
            streams: aws_sdk_dynamodbstreams::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            config,
        }
    }

    /// The sealer of the accounts' tokens: the key `TOKEN_KEY_ID` (none on a stack from
    /// before it, which keeps its tokens in the credentials secret).
    pub fn sealer(&self) -> Option<KmsSealer> {
        let key = std::env::var("TOKEN_KEY_ID")
            .ok()
            .filter(|v| !v.is_empty())?;
        Some(KmsSealer::new(self.kms.clone(), key))
    }

    /// The ticket store, the table `TABLE_NAME`.
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(
            self.dynamodb.clone(),
            self.streams.clone(),
            variable("TABLE_NAME"),
        )
    }

    /// The queue whose URL the variable `url_variable` holds.
    pub fn queue(&self, url_variable: &str) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), variable(url_variable))
    }

    /// The secret whose ARN the variable `arn_variable` holds.
    pub async fn secret(&self, arn_variable: &str) -> Result<String, SecretError> {
        secret_string(&self.secrets, &variable(arn_variable)).await
    }

    /// The same for a secret the deployment may leave off (the variable unset or empty).
    pub async fn optional_secret(&self, arn_variable: &str) -> Result<Option<String>, SecretError> {
        optional_secret(&self.secrets, arn_variable).await
    }

    /// The accounts and teams in the table, read again within a minute of a change. The
    /// `AccountsConfig` secret (`ACCOUNTS_SECRET_ARN`) is read only while the table has none,
    /// and imported as its first version (by the functions that may write it: not the
    /// internet-facing webhook, which waits for another function's import).
    pub async fn configuration(&self) -> Result<ConfigurationCache, WiringError> {
        let import = || async {
            let text = self
                .optional_secret("ACCOUNTS_SECRET_ARN")
                .await
                .map_err(|e| LoadError::Source(e.to_string()))?;
            Ok(text.map(|text| Import {
                text,
                origin: "the AccountsConfig secret".into(),
            }))
        };
        Ok(ConfigurationCache::load(self.store(), configuration::LAMBDA_TTL, import).await?)
    }

    /// The same, without importing: what the table holds (nothing yet, until another function
    /// imports the secret, is seen within a minute).
    pub async fn stored_configuration(&self) -> Result<ConfigurationCache, WiringError> {
        let none = || std::future::ready(Ok(None));
        Ok(ConfigurationCache::load(self.store(), configuration::LAMBDA_TTL, none).await?)
    }

    /// The secrets whose ARNs these variables hold (a variable unset or empty has none), read
    /// in one request.
    pub async fn secrets_of(&self, variables: &[&str]) -> Result<Secrets, WiringError> {
        let arns: Vec<(String, String)> = variables
            .iter()
            .filter_map(|variable| {
                let arn = std::env::var(variable).ok().filter(|v| !v.is_empty())?;
                Some((variable.to_string(), arn))
            })
            .collect();
        let ids: Vec<String> = arns.iter().map(|(_, arn)| arn.clone()).collect();
        let mut values = match ids.is_empty() {
            true => Default::default(),
            false => secret_strings(&self.secrets, &ids).await?,
        };
        Ok(Secrets(
            arns.into_iter()
                .filter_map(|(variable, arn)| Some((variable, values.remove(&arn)?)))
                .collect(),
        ))
    }

    /// The registered integrations of `store`; a change is seen within a minute.
    fn integrations(store: &DynamoStore) -> IntegrationDirectory {
        IntegrationDirectory::of(store.clone(), INTEGRATIONS_TTL)
    }

    /// The `webhook` function's router. Its secrets and the configuration are read at once
    /// (each is a round trip to another service at cold start).
    pub async fn webhook(&self) -> Result<Router, WiringError> {
        const SECRETS: [&str; 4] = [
            "X_CONSUMER_SECRET_ARN",
            "META_APP_SECRET_ARN",
            "META_VERIFY_TOKEN_ARN",
            "INTEGRATION_SECRET_ARN",
        ];
        let (mut read, configuration) =
            futures::try_join!(self.secrets_of(&SECRETS), self.stored_configuration())?;
        let integration_secret = read.required("INTEGRATION_SECRET_ARN")?;
        let (x_consumer_secret, meta_app_secret, meta_verify_token) = (
            read.optional("X_CONSUMER_SECRET_ARN"),
            read.optional("META_APP_SECRET_ARN"),
            read.optional("META_VERIFY_TOKEN_ARN"),
        );
        let secrets = WebhookSecrets {
            x_consumer_secret,
            meta_app_secret,
            meta_verify_token,
        };
        let state = crate::webhook_state(
            self.queue("INBOUND_QUEUE_URL"),
            &integration_secret,
            secrets,
            configuration,
            OutboundGuard::from_env(),
            // Without them, registered sources would not be refused: no table, no start.
            Self::integrations(&self.store()),
            Some(Observer::new(self.store()).webhook_seen()),
        );
        Ok(crate::http_app(socialcare_app::webhook::routes(Arc::new(
            state,
        ))))
    }

    /// The `api` function's state (the console's too). The bootstrap key (`API_KEY_SECRET_ARN`)
    /// is read again every five minutes. Its secrets and the configuration are read at once.
    pub async fn api_state(&self) -> Result<ApiState<DynamoStore>, WiringError> {
        let key_arn = variable("API_KEY_SECRET_ARN");
        const SECRETS: [&str; 4] = [
            "API_KEY_SECRET_ARN",
            // For the first rotation of the default integration, which replaces this secret.
            "INTEGRATION_SECRET_ARN",
            "X_CONSUMER_SECRET_ARN",
            "META_APP_SECRET_ARN",
        ];
        let (mut read, configuration) =
            futures::try_join!(self.secrets_of(&SECRETS), self.configuration())?;
        let api_key = read.required("API_KEY_SECRET_ARN")?;
        let (integration_secret, x_secret, meta_secret) = (
            read.optional("INTEGRATION_SECRET_ARN"),
            read.optional("X_CONSUMER_SECRET_ARN"),
            read.optional("META_APP_SECRET_ARN"),
        );
        let reload: Reload = {
            let secrets = self.secrets.clone();
            Arc::new(move || {
                let (secrets, key_arn) = (secrets.clone(), key_arn.clone());
                Box::pin(async move {
                    secret_string(&secrets, &key_arn)
                        .await
                        .map_err(ReloadError::from)
                })
            })
        };
        let state = crate::api_state(
            self.store(),
            &api_key,
            Some(reload),
            integration_secret.as_deref(),
            configuration,
            Outbox::new(self.queue("OUTBOX_QUEUE_URL")),
            Outbox::new(self.queue("REMINDERS_QUEUE_URL")),
        );
        let Some(sealer) = self.sealer() else {
            return Ok(state);
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let x_app = var("X_CONSUMER_KEY").zip(x_secret);
        let meta_app = var("META_APP_ID").zip(meta_secret);
        let connectors = crate::connectors(x_app, meta_app, var("PUBLIC_URL"), sealer)?;
        Ok(state.with_connectors(connectors))
    }

    /// Reads X as the app, made when first needed (a reply to a post no webhook delivered, a
    /// search): its secret is read then, not at start. The app is `X_CONSUMER_KEY` with
    /// `X_CONSUMER_SECRET_ARN` (not the platform credentials, which hold every account's
    /// posting tokens: only the sender reads those). Each call within `timeout`.
    fn x_lookup(&self, timeout: Duration) -> Lookup {
        let secrets = self.secrets.clone();
        Lookup::lazy(Box::new(move || {
            let secrets = secrets.clone();
            Box::pin(async move {
                let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
                let x_consumer = match (var("X_CONSUMER_KEY"), var("X_CONSUMER_SECRET_ARN")) {
                    (Some(key), Some(arn)) => {
                        let secret = secret_string(&secrets, &arn)
                            .await
                            .map_err(|e| e.to_string())?;
                        Some((key, secret))
                    }
                    _ => None,
                };
                let credentials =
                    crate::with_app_credentials(Credentials::default(), x_consumer, None);
                crate::x_listener(&credentials, timeout).map_err(|e| e.to_string())
            })
        }))
    }

    /// The `ingest` function.
    pub async fn ingest(&self) -> Result<IngestFunction, WiringError> {
        Ok(IngestFunction {
            consumed: self.consumed.clone(),
            configuration: self.configuration().await?,
            outbox: Outbox::new(self.queue("OUTBOX_QUEUE_URL")),
            // Short: a batch's other messages wait while a fetch does.
            lookup: self.x_lookup(Duration::from_secs(3)),
            store: self.store(),
        })
    }

    /// The `sender` function; platform tokens from `PLATFORM_CREDENTIALS_SECRET_ARN`. Its
    /// secrets are read at once.
    pub async fn sender(&self) -> Result<SenderFunction, WiringError> {
        let mut read = self
            .secrets_of(&[
                "INTEGRATION_SECRET_ARN",
                "PLATFORM_CREDENTIALS_SECRET_ARN",
                "X_CONSUMER_SECRET_ARN",
                "META_APP_SECRET_ARN",
            ])
            .await?;
        let integration_secret = read.required("INTEGRATION_SECRET_ARN")?;
        let (credentials, x_secret, meta_app_secret) = (
            read.optional("PLATFORM_CREDENTIALS_SECRET_ARN"),
            read.optional("X_CONSUMER_SECRET_ARN"),
            read.optional("META_APP_SECRET_ARN"),
        );
        let credentials = match credentials {
            Some(text) => Credentials::parse(&text)?,
            None => Credentials::default(),
        };
        let x_consumer = std::env::var("X_CONSUMER_KEY")
            .ok()
            .filter(|v| !v.is_empty())
            .zip(x_secret);
        let credentials = crate::with_app_credentials(credentials, x_consumer, meta_app_secret);
        let store = self.store();
        let mut platform = crate::platform(
            credentials,
            &integration_secret,
            OutboundGuard::from_env(),
            &Self::integrations(&store),
        )?;
        if let Some(sealer) = self.sealer() {
            platform = crate::platform_with_tokens(platform, store.clone(), sealer);
        }
        // E-mail replies go through SES where the stack receives mail (EmailDomain).
        if std::env::var("EMAIL_BUCKET").is_ok_and(|v| !v.is_empty()) {
            platform = platform.with_mail(ses_transport(SesSender::new(&self.config)));
        }
        Ok(SenderFunction {
            store,
            platform,
            outbox: self.queue("OUTBOX_QUEUE_URL"),
            policy: SendPolicy::default(),
        })
    }

    /// The files e-mails came with, where the stack receives mail (`EMAIL_BUCKET`).
    pub fn attachment_files(&self) -> Option<socialcare_app::attachments::Files> {
        let bucket = std::env::var("EMAIL_BUCKET")
            .ok()
            .filter(|v| !v.is_empty())?;
        Some(Arc::new(FilesInBucket(MailBucket::new(
            &self.config,
            bucket,
        ))))
    }

    /// The `email` function: what SES received for the mailboxes, read from `EMAIL_BUCKET`.
    pub async fn email(&self) -> Result<EmailFunction, WiringError> {
        Ok(EmailFunction {
            bucket: StoredInBucket(MailBucket::new(&self.config, variable("EMAIL_BUCKET"))),
            inbound: self.queue("INBOUND_QUEUE_URL"),
            configuration: self.configuration().await?,
        })
    }

    /// The `reminders` function.
    pub async fn reminders(&self) -> Result<RemindersFunction, WiringError> {
        let (integration_secret, configuration) = futures::try_join!(
            self.secret("INTEGRATION_SECRET_ARN")
                .map_err(WiringError::from),
            self.configuration(),
        )?;
        let store = self.store();
        let worker = crate::reminders_worker(
            configuration,
            &integration_secret,
            OutboundGuard::from_env(),
            &Self::integrations(&store),
        )?;
        Ok(RemindersFunction {
            store,
            queue: self.queue("REMINDERS_QUEUE_URL"),
            outbox: Outbox::new(self.queue("OUTBOX_QUEUE_URL")),
            worker,
        })
    }

    /// The `scheduler` function.
    pub fn scheduler(&self) -> SchedulerFunction {
        SchedulerFunction {
            store: self.store(),
            queue: self.queue("REMINDERS_QUEUE_URL"),
            inbound: self.queue("INBOUND_QUEUE_URL"),
            outbox: self.queue("OUTBOX_QUEUE_URL"),
            scheduler: Scheduler::default(),
            configuration: Default::default(),
            lookup: self.x_lookup(socialcare_platforms::DEFAULT_TIMEOUT),
        }
    }
}

/// The router, knowing the public origin of each request: the domain API Gateway received it
/// on (the connect flows send the platforms back there).
pub fn with_request_origin(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(
        |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
            let domain = match request
                .extensions()
                .get::<lambda_http::request::RequestContext>()
            {
                Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
                    context.domain_name.clone()
                }
                _ => None,
            };
            if let Some(domain) = domain {
                request
                    .extensions_mut()
                    .insert(socialcare_app::connect::PublicOrigin(format!(
                        "https://{domain}"
                    )));
            }
            next.run(request).await
        },
    ))
}

/// A function's secrets, by the variables that name them.
pub struct Secrets(std::collections::HashMap<String, String>);

impl Secrets {
    /// One the template always sets.
    pub fn required(&mut self, variable: &str) -> Result<String, WiringError> {
        self.0
            .remove(variable)
            .ok_or_else(|| WiringError::MissingSecret(variable.to_string()))
    }

    /// One the deployment may leave off; an empty value is none.
    pub fn optional(&mut self, variable: &str) -> Option<String> {
        self.0.remove(variable).filter(|v| !v.is_empty())
    }
}

/// Serves an SQS event source with `handle`, which reports the records to deliver again.
pub async fn serve_sqs<F, R>(handle: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(SqsEvent) -> R,
    R: Future<Output = SqsBatchResponse>,
{
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            Ok::<SqsBatchResponse, lambda_runtime::Error>(handle(event.payload).await)
        },
    ))
    .await
}

impl Lambda {
    /// The `events` function: the table's stream to the bus `EVENT_BUS_NAME`.
    pub fn events(&self) -> EventsFunction {
        EventsFunction::new(
            self.store(),
            EventBus::new(
                aws_sdk_eventbridge::Client::new(&self.config),
                variable("EVENT_BUS_NAME"),
            ),
            self.queue("REMINDERS_QUEUE_URL"),
        )
    }
}

/// Events: what the table's stream reports becomes events on the EventBridge bus, and
/// deliveries to the webhook subscriptions that want them (jobs on the reminders queue).
pub struct EventsFunction {
    store: DynamoStore,
    bus: EventBus,
    jobs: SqsQueue,
}

impl EventsFunction {
    pub fn new(store: DynamoStore, bus: EventBus, jobs: SqsQueue) -> Self {
        Self { store, bus, jobs }
    }

    /// Publishes the events of a batch of stream records; an error fails the batch, which
    /// Lambda gives again (split in halves, up to the mapping's retries, then to the dead
    /// letters): the events put before the error are put again, with the same ids.
    pub async fn handle(&self, changes: &[StreamChange]) -> Result<usize, StoreError> {
        let events = self.store.domain_events(changes).await?;
        self.bus.publish(&events).await?;
        socialcare_app::deliveries::fan_out(&self.store, &self.jobs, &events)
            .await
            .map_err(|e| match e {
                socialcare_app::deliveries::DeliveryError::Store(e) => e,
                other => StoreError::unavailable(other.to_string()),
            })?;
        Ok(events.len())
    }
}

/// The changes of a stream batch as Lambda delivers it (removals tell nothing).
pub fn stream_changes(
    records: &[aws_lambda_events::event::dynamodb::EventRecord],
) -> Vec<StreamChange> {
    records
        .iter()
        .filter(|record| matches!(record.event_name.as_str(), "INSERT" | "MODIFY"))
        .map(|record| StreamChange {
            inserted: record.event_name == "INSERT",
            image: record.change.new_image.clone().into(),
        })
        .collect()
}

/// Ingest: inbound events become messages on tickets; acknowledgements go on the outbox.
pub struct IngestFunction {
    store: DynamoStore,
    consumed: CapacityMeter,
    configuration: ConfigurationCache,
    outbox: Outbox,
    lookup: Lookup,
}

impl IngestFunction {
    /// Ingests the batch, then emits what the store consumed since the last batch (the
    /// configuration's reads included) with the number of messages ingested.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let configuration = self.configuration.current().await;
        let received = event.records.len();
        let response = socialcare_app::ingest::handle_sqs_event(
            &self.store,
            &configuration.rules,
            Some(&self.outbox),
            Some(&self.lookup),
            event,
        )
        .await;
        let consumed = self.consumed.take();
        let usage = StoreUsage {
            messages: received.saturating_sub(response.batch_item_failures.len()) as u64,
            write_units: consumed.write_units,
            index_write_units: consumed.index_write_units,
            read_units: consumed.read_units,
        };
        socialcare_app::metrics::store_usage("ingest", &usage);
        response
    }
}

/// The sender: posts the outbox's replies and takes incident updates' steps.
pub struct SenderFunction {
    store: DynamoStore,
    platform: HttpPlatform,
    outbox: SqsQueue,
    policy: SendPolicy,
}

impl SenderFunction {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let (store, platform, outbox) = (&self.store, &self.platform, &self.outbox);
        socialcare_app::sender::handle_sqs_event(
            store,
            platform,
            outbox,
            event,
            &SystemClock,
            &self.policy,
        )
        .await
    }
}

/// Sends e-mail replies through SES v2; what SES refuses as asked is permanent.
fn ses_transport(ses: SesSender) -> socialcare_platforms::mail::SendMail {
    Arc::new(move |mail: socialcare_platforms::mail::OutgoingMail| {
        let ses = ses.clone();
        Box::pin(async move {
            match ses.send(&mail.from, &mail.to, mail.raw).await {
                // SES sent it with a Message-ID of its own: the reply is known by that one.
                Ok(ses_message_id) if !ses_message_id.is_empty() => {
                    Ok(ses.message_id_of(&ses_message_id))
                }
                // Taken, but by which id is not known: no other reply may share it.
                Ok(_) => Err(socialcare_domain::replies::PostError::Unknown(
                    "SES took the mail without a message id".into(),
                )),
                Err(e) => Err(match e.failure {
                    socialcare_domain::ports::Failure::Invalid => {
                        socialcare_domain::replies::PostError::Permanent(e.to_string())
                    }
                    _ => socialcare_domain::replies::PostError::Transient(e.to_string()),
                }),
            }
        })
    })
}

/// The mail bucket as the e-mail intake reads it.
pub struct StoredInBucket(MailBucket);

impl socialcare_app::email::StoredMail for StoredInBucket {
    async fn read(&self, ses_message_id: &str) -> Result<Vec<u8>, StoreError> {
        self.0
            .read(ses_message_id, socialcare_app::email::MAX_EMAIL_BYTES)
            .await
    }

    async fn keep_refused(&self, ses_message_id: &str, why: &str) -> Result<String, StoreError> {
        self.0.keep_refused(ses_message_id, why).await
    }

    async fn keep_file(
        &self,
        file: &socialcare_app::attachments::FileToKeep,
    ) -> Result<(), StoreError> {
        self.0.keep_file(&file.sha256, &file.bytes).await
    }
}

/// The mail bucket's kept files, as the console serves them.
pub struct FilesInBucket(pub MailBucket);

impl socialcare_app::attachments::AttachmentFiles for FilesInBucket {
    fn keep<'a>(
        &'a self,
        file: &'a socialcare_app::attachments::FileToKeep,
    ) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.0.keep_file(&file.sha256, &file.bytes))
    }

    fn read<'a>(
        &'a self,
        sha256: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.0.read_file(sha256))
    }
}

/// E-mail in: each message SES received is read from the bucket and queued for ingest.
pub struct EmailFunction {
    bucket: StoredInBucket,
    inbound: SqsQueue,
    configuration: ConfigurationCache,
}

impl EmailFunction {
    /// One SES event (one message); an error makes Lambda try it again.
    pub async fn handle(
        &self,
        event: aws_lambda_events::event::ses::SimpleEmailEvent,
    ) -> Result<(), String> {
        for record in &event.records {
            let taken = socialcare_app::email::take_stored(
                &self.bucket,
                &self.inbound,
                &self.configuration,
                record,
                chrono::Utc::now(),
            )
            .await?;
            tracing::info!(ses_message_id = ?record.ses.mail.message_id, ?taken, "e-mail taken");
        }
        Ok(())
    }
}

/// The reminders worker: acts on reminders as they come due and sends notices.
pub struct RemindersFunction {
    store: DynamoStore,
    queue: SqsQueue,
    outbox: Outbox,
    worker: Worker<HttpNotifier>,
}

impl RemindersFunction {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let (store, queue, outbox) = (&self.store, &self.queue, &self.outbox);
        self.worker
            .handle_sqs_event(store, queue, outbox, event, &SystemClock)
            .await
    }
}

/// The scheduler: moves reminders coming due onto the reminders queue, and queues the notices
/// of new incidents.
pub struct SchedulerFunction {
    store: DynamoStore,
    queue: SqsQueue,
    /// Where what the searches found goes, like a webhook's messages.
    inbound: SqsQueue,
    /// Where the polls of Instagram's hashtags go, for the sender (which holds page tokens).
    outbox: SqsQueue,
    scheduler: Scheduler,
    /// Read at the first run, not at start.
    configuration: tokio::sync::OnceCell<ConfigurationCache>,
    /// Made when an account first has a search to run.
    lookup: Lookup,
}

impl SchedulerFunction {
    /// One run; an error stops it (what it had moved stays moved).
    pub async fn run(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), ScheduleError> {
        let (store, queue) = (&self.store, &self.queue);
        let moved = self.scheduler.run(store, queue, now).await?;
        let announced = self.scheduler.announce_incidents(store, queue, now).await?;
        let counted = self.scheduler.count_report(store).await?;
        tracing::info!(
            moved,
            announced,
            counted,
            "reminders and incident notices queued, report counted"
        );
        let configuration = self
            .configuration
            .get_or_try_init(|| async {
                let none = || async { Ok(None) };
                ConfigurationCache::load(store.clone(), configuration::LAMBDA_TTL, none).await
            })
            .await
            .map_err(|e| match e {
                LoadError::Store(e) => ScheduleError::Store(e),
                other => ScheduleError::Store(StoreError::invalid(other.to_string())),
            })?
            .current()
            .await;
        if self.scheduler.purge_due(now) {
            let retention = &configuration.retention;
            let purged = self.scheduler.purge(store, retention, now).await?;
            tracing::info!(
                tickets = purged.tickets,
                messages = purged.messages,
                "closed tickets past their retention deleted"
            );
        }
        match socialcare_app::listening::queue_hashtag_polls(
            store,
            &self.outbox,
            &configuration.searches,
            now,
        )
        .await
        {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "hashtag polls queued for the sender"),
            Err(e) => tracing::error!(error = %e, "hashtag polls not queued"),
        }
        // Last, within what is left of the minute; a failure is logged, the next run polls
        // again (each query's state says where it stands).
        if configuration.searches.iter().any(|s| s.ticketable())
            && let Some(listener) = self.lookup.get().await
        {
            let listened = socialcare_app::listening::listen(
                store,
                listener,
                &self.inbound,
                &configuration.searches,
                now,
                SEARCH_BUDGET,
            )
            .await;
            match listened {
                Ok(listened) => tracing::info!(
                    requests = listened.requests,
                    queued = listened.queued,
                    heard = listened.heard,
                    failed = listened.failed,
                    "searches polled"
                ),
                Err(e) => tracing::error!(error = %e, "searches failed"),
            }
        }
        Ok(())
    }
}
