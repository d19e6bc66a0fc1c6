//! The configuration in the store (issue 17): accounts and teams managed through the API,
//! checked whole, versioned with their authors, in force without a restart; the file imported
//! once; on DynamoDB, a change seen by every container within its time to live.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use socialcare_app::accounts::Platform;
use socialcare_app::configuration::{self, ConfigurationCache, Import, LoadError};
use socialcare_aws::DynamoStore;
use socialcare_domain::Source;
use socialcare_domain::ports::ConfigurationStore;
use socialcare_sqlite::{Database, SqliteStore};
use socialcare_tests::emulator;
use socialcare_tests::events::{x_activity_mention, x_signature};
use socialcare_tests::runner::Driver;
use std::time::Duration;

const BRAND: &str = "1100000000000000001";
const X_SECRET: &str = "x-consumer-secret-for-configuration";
const ADMIN: &str = "sk_configuration_admin";

/// Posts a mention of the brand signed by X; the webhook's tally.
async fn mention(driver: &Driver, id: u64, text: &str) -> Value {
    let body = serde_json::to_vec(&x_activity_mention(id, text, Utc::now())).unwrap();
    let signature = x_signature(X_SECRET, &body);
    let (status, tally) = driver
        .post_raw(
            "/webhooks/x",
            &[("x-twitter-webhooks-signature", signature)],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tally}");
    tally
}

async fn start(data: &std::path::Path, config: Option<std::path::PathBuf>) -> Driver {
    // SAFETY: set before the runner reads the environment; a test process runs one test.
    unsafe { std::env::set_var("X_CONSUMER_SECRET", X_SECRET) };
    Driver::start_with_config(data, false, "whsec_configuration", ADMIN, config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_added_through_the_api_takes_its_webhooks_at_once() {
    let data = tempfile::tempdir().unwrap();
    let driver = start(data.path(), None).await;

    // No account yet: X's delivery is answered, and dropped.
    let tally = mention(
        &driver,
        1_990_000_000_000_000_001,
        "@acme_care is anyone there?",
    )
    .await;
    assert_eq!(
        (tally["queued"].as_u64(), tally["dropped"].as_u64()),
        (Some(0), Some(1))
    );

    let (status, account) = driver
        .post_api(
            "/v1/accounts",
            &json!({"platform": "x", "id": BRAND, "handle": "acme_care", "name": "Acme Care"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["platform"], "x");
    assert_eq!(account["id"], BRAND);
    assert_eq!(account["handle"], "acme_care");
    assert_eq!(account["name"], "Acme Care");
    assert_eq!(account["acknowledgement"]["enabled"], true);
    assert_eq!(account["answer_praise_and_noise"], false);

    // The next signed webhook for it becomes a ticket: no restart.
    let tally = mention(
        &driver,
        1_990_000_000_000_000_002,
        "@acme_care my router is dead",
    )
    .await;
    assert_eq!(
        (tally["queued"].as_u64(), tally["dropped"].as_u64()),
        (Some(1), Some(0))
    );
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    assert_eq!(tickets[0]["account"], BRAND);
    assert_eq!(tickets[0]["source"], "x");

    // Refused whole, in the words of the file's checks, and nothing changes.
    let (status, refused) = driver
        .post_api(
            "/v1/accounts",
            &json!({"platform": "x", "id": "42", "pace": {"posts": 5, "per_seconds": 900}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_configuration");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("accounts configuration: pace of X account 42")
            && message.contains("at least 12"),
        "{message}"
    );
    let (status, twice) = driver
        .post_api("/v1/accounts", &json!({"platform": "x", "id": BRAND}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    assert_eq!(twice["error"]["code"], "account_exists");
    let (status, body) = driver
        .call(Method::PUT, "/v1/accounts/x/77", Some(&json!({"id": "78"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "path_mismatch");
    let (status, body) = driver.get("/v1/accounts/myspace/1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, list) = driver.get("/v1/accounts").await;
    assert_eq!(list["accounts"].as_array().unwrap().len(), 1);

    // Settings replaced with PUT (platform and id from the path).
    let (status, changed) = driver
        .call(
            Method::PUT,
            &format!("/v1/accounts/x/{BRAND}"),
            Some(
                &json!({"handle": "acme_care", "name": "Acme Care", "answer_praise_and_noise": true,
                         "pace": {"posts": 50, "per_seconds": 900}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["answer_praise_and_noise"], true);
    assert_eq!(changed["pace"], json!({"posts": 50, "per_seconds": 900}));

    // A team edited: the next assignment follows it.
    for agent in ["sally", "tim"] {
        let (status, key) = driver
            .post_api("/v1/api-keys", &json!({"name": agent, "role": "agent"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
    }
    let (status, team) = driver
        .call(
            Method::PUT,
            "/v1/teams/support",
            Some(&json!({"members": ["sally"], "lead": "sally"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(
        team,
        json!({"name": "support", "members": ["sally"], "lead": "sally", "escalation_url": null, "escalates_to": null})
    );
    let first = tickets[0]["id"].as_str().unwrap().to_string();
    let (status, assigned) = driver
        .post_api(
            &format!("/v1/tickets/{first}/assign"),
            &json!({"team": "support"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["ticket"]["owner"], "sally");
    let (status, team) = driver
        .call(
            Method::PUT,
            "/v1/teams/support",
            Some(&json!({"members": ["tim"], "lead": "tim"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    let (status, reassigned) = driver
        .post_api(
            &format!("/v1/tickets/{first}/assign"),
            &json!({"team": "support"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reassigned}");
    assert_eq!(
        reassigned["ticket"]["owner"], "tim",
        "the team now has tim alone"
    );

    // A team that escalates to no team is refused; removing a team another escalates to too.
    let (status, body) = driver
        .call(
            Method::PUT,
            "/v1/teams/night",
            Some(&json!({"members": ["tim"], "escalates_to": "day"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["message"],
        "teams configuration: team \"night\" escalates to \"day\", which is not a team"
    );
    let (status, body) = driver
        .call(
            Method::PUT,
            "/v1/teams/night",
            Some(&json!({"members": ["tim"], "escalates_to": "support"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = driver.call(Method::DELETE, "/v1/teams/support", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = driver.call(Method::DELETE, "/v1/teams/night", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Every change, newest first, with its author.
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    let summaries: Vec<(u64, &str, &str)> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["version"].as_u64().unwrap(),
                c["by"].as_str().unwrap(),
                c["summary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summaries,
        [
            (6, "bootstrap", "removed team night"),
            (5, "bootstrap", "added team night"),
            (4, "bootstrap", "changed team support"),
            (3, "bootstrap", "added team support"),
            (
                2,
                "bootstrap",
                &format!("changed x account {BRAND}") as &str
            ),
            (1, "bootstrap", &format!("added x account {BRAND}") as &str),
        ]
    );

    // Removed: its webhooks are dropped again; its ticket stays.
    let (status, _) = driver
        .call(Method::DELETE, &format!("/v1/accounts/x/{BRAND}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let tally = mention(&driver, 1_990_000_000_000_000_004, "@acme_care hello?").await;
    assert_eq!(tally["dropped"].as_u64(), Some(1));
    let (status, _) = driver.get(&format!("/v1/accounts/x/{BRAND}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Admins only.
    let (_, key) = driver
        .post_api("/v1/api-keys", &json!({"name": "ann", "role": "agent"}))
        .await;
    let agent_key = key["key"].as_str().unwrap().to_string();
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    let http = reqwest::Client::new();
    for (method, path, body) in [
        (Method::GET, "/v1/accounts".to_string(), None),
        (
            Method::POST,
            "/v1/accounts".into(),
            Some(json!({"platform": "x", "id": "9"})),
        ),
        (Method::GET, format!("/v1/accounts/x/{BRAND}"), None),
        (
            Method::PUT,
            format!("/v1/accounts/x/{BRAND}"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/v1/accounts/x/{BRAND}"), None),
        (
            Method::PUT,
            format!("/v1/accounts/x/{BRAND}/token"),
            Some(json!({"access_token": "a", "access_token_secret": "b"})),
        ),
        (
            Method::DELETE,
            format!("/v1/accounts/x/{BRAND}/token"),
            None,
        ),
        (Method::GET, format!("/v1/accounts/x/{BRAND}/health"), None),
        (Method::GET, "/v1/teams".into(), None),
        (Method::GET, "/v1/teams/support".into(), None),
        (
            Method::PUT,
            "/v1/teams/support".into(),
            Some(json!({"members": ["ann"]})),
        ),
        (Method::DELETE, "/v1/teams/support".into(), None),
        (Method::GET, "/v1/configuration/changes".into(), None),
    ] {
        let mut request = http
            .request(method.clone(), format!("{}{path}", driver.base))
            .bearer_auth(&agent_key);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    let (_, after) = driver.get("/v1/configuration/changes").await;
    assert_eq!(
        after["changes"], changes["changes"],
        "an agent changed nothing"
    );
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_is_imported_once_and_the_store_wins_after() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("socialcare.toml");
    std::fs::write(
        &config,
        format!("[[accounts]]\nplatform = \"x\"\nid = \"{BRAND}\"\nhandle = \"acme_care\"\n\n[[teams]]\nname = \"support\"\nmembers = [\"sally\"]\n"),
    )
    .unwrap();
    let driver = start(data.path(), Some(config.clone())).await;
    let (_, accounts) = driver.get("/v1/accounts").await;
    assert_eq!(accounts["accounts"][0]["id"], BRAND);
    assert_eq!(accounts["accounts"][0]["handle"], "acme_care");
    let (_, teams) = driver.get("/v1/teams").await;
    assert_eq!(teams["teams"][0]["members"], json!(["sally"]));
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    assert_eq!(changes["changes"].as_array().unwrap().len(), 1);
    assert_eq!(changes["changes"][0]["by"], "import");
    assert_eq!(
        changes["changes"][0]["summary"],
        format!("imported from SOCIALCARE_CONFIG ({})", config.display())
    );
    let tally = mention(
        &driver,
        1_990_000_000_000_000_011,
        "@acme_care the app crashes",
    )
    .await;
    assert_eq!(tally["queued"].as_u64(), Some(1));
    let (status, _) = driver.call(Method::DELETE, "/v1/teams/support", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    driver.running.stop().await.unwrap();

    // The file changes and the runner starts again: the store's version is in force.
    std::fs::write(
        &config,
        "[[accounts]]\nplatform = \"facebook\"\nid = \"1234567890321\"\n",
    )
    .unwrap();
    let driver = start(data.path(), Some(config.clone())).await;
    let (_, accounts) = driver.get("/v1/accounts").await;
    assert_eq!(accounts["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(accounts["accounts"][0]["id"], BRAND);
    let (_, teams) = driver.get("/v1/teams").await;
    assert_eq!(teams["teams"], json!([]));
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    assert_eq!(changes["changes"].as_array().unwrap().len(), 2);
    driver.running.stop().await.unwrap();
}

fn import(text: &str) -> impl FnOnce() -> std::future::Ready<Result<Option<Import>, LoadError>> {
    let import = Import {
        text: text.to_string(),
        origin: "the AccountsConfig secret".into(),
    };
    move || std::future::ready(Ok(Some(import)))
}

const ONE_ACCOUNT: &str = "[[accounts]]\nplatform = \"x\"\nid = \"1100000000000000001\"\n";

/// Every container starting at once imports the secret once; a refused one names it.
async fn imports_once<S: ConfigurationStore + Clone + 'static>(store: S) {
    let refused = ConfigurationCache::load(
        store.clone(),
        Duration::ZERO,
        import("[[accounts]]\nplatform = \"x\"\nid = \" \""),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the AccountsConfig secret: accounts configuration: an account has an empty id"
    );
    assert_eq!(store.configuration_version().await.unwrap(), None);
    let (a, b, c) = tokio::join!(
        ConfigurationCache::load(store.clone(), Duration::ZERO, import(ONE_ACCOUNT)),
        ConfigurationCache::load(store.clone(), Duration::ZERO, import(ONE_ACCOUNT)),
        ConfigurationCache::load(store.clone(), Duration::ZERO, import(ONE_ACCOUNT)),
    );
    for cache in [a.unwrap(), b.unwrap(), c.unwrap()] {
        assert_eq!(cache.version(), Some(1));
        assert!(cache.snapshot().accounts.get(Source::X, BRAND).is_some());
    }
    let changes = store.configuration_changes(10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].by, "import");
    assert_eq!(
        changes[0].summary,
        "imported from the AccountsConfig secret"
    );
}

#[tokio::test]
async fn the_secret_is_imported_once_on_sqlite() {
    imports_once(SqliteStore::new(Database::in_memory().unwrap())).await;
}

#[tokio::test]
async fn the_secret_is_imported_once_on_dynamodb() {
    let stack = emulator::deploy().await;
    imports_once(DynamoStore::connect(&stack.config, stack.table.clone())).await;
}

/// On DynamoDB, what one container changes another sees when its time to live is up, by
/// reading the version alone; before, it keeps what it has (no read per request).
#[tokio::test]
async fn a_change_reaches_every_container_within_its_time_to_live() {
    assert!(configuration::LAMBDA_TTL <= Duration::from_secs(60));
    let stack = emulator::deploy().await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let none = || std::future::ready(Ok(None));
    let api = ConfigurationCache::load(store.clone(), configuration::LAMBDA_TTL, none)
        .await
        .unwrap();
    let ingest_now = ConfigurationCache::load(store.clone(), Duration::ZERO, none)
        .await
        .unwrap();
    let ingest_soon = ConfigurationCache::load(store.clone(), Duration::from_millis(300), none)
        .await
        .unwrap();
    let ingest_later = ConfigurationCache::load(store.clone(), configuration::LAMBDA_TTL, none)
        .await
        .unwrap();
    assert_eq!(
        ingest_later
            .current()
            .await
            .rules
            .triage_of(BRAND)
            .high_reach_followers,
        10_000
    );

    let (version, _) = configuration::change(
        &store,
        &api,
        "sally",
        "added x account",
        Utc::now(),
        |document| {
            let account: socialcare_app::accounts::Account = serde_json::from_value(json!({
                "platform": "x", "id": BRAND, "triage": {"high_reach_followers": 500}
            }))
            .unwrap();
            document.accounts.push(account);
            Ok::<(), ()>(())
        },
    )
    .await
    .unwrap();
    assert_eq!(version, 1);
    assert_eq!(
        api.version(),
        Some(1),
        "the container that saved it uses it at once"
    );
    let seen = ingest_now.current().await;
    assert_eq!(seen.rules.triage_of(BRAND).high_reach_followers, 500);
    assert!(seen.accounts.get(Platform::X.source(), BRAND).is_some());
    assert_eq!(
        ingest_later
            .current()
            .await
            .rules
            .triage_of(BRAND)
            .high_reach_followers,
        10_000,
        "within its time to live, the cached one"
    );
    let mut waited = Duration::ZERO;
    while ingest_soon.version() != Some(1) {
        assert!(waited < Duration::from_secs(10), "never refreshed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
        ingest_soon.current().await;
    }
    assert_eq!(
        ingest_soon
            .snapshot()
            .rules
            .triage_of(BRAND)
            .high_reach_followers,
        500
    );
}
