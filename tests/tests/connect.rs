//! Connecting accounts from the console (issue 17), through `socialcare-local` against the
//! fakes of X and Meta (which check every OAuth 1.0a signature and `appsecret_proof`): the X
//! flow stores a working token and subscribes the account; the Meta flow stores the chosen
//! page's token (and its Instagram account's) and subscribes the page; a refused token shows
//! on the health view; a callback from another browser, or twice, connects nothing.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use socialcare_tests::browser::Visitor;
use socialcare_tests::events::{x_activity_mention, x_signature};
use socialcare_tests::fake_meta::{FAKE_META_APP_ID, FAKE_META_APP_SECRET, FakeMeta};
use socialcare_tests::fake_x::{FAKE_X_CONSUMER_KEY, FAKE_X_CONSUMER_SECRET, FakeX};
use socialcare_tests::runner::Driver;
use std::time::Duration;

const ADMIN: &str = "sk_connect_admin_key_000";
const BRAND: &str = "1100000000000000001";

/// The runner with the platforms' apps set to the fakes'.
async fn start(x: Option<&FakeX>, meta: Option<&FakeMeta>) -> (tempfile::TempDir, Driver) {
    // SAFETY: set before the runner reads the environment; a test process runs one test.
    unsafe {
        if let Some(x) = x {
            std::env::set_var("X_API_BASE_URL", x.url());
            std::env::set_var("X_CONSUMER_KEY", FAKE_X_CONSUMER_KEY);
            std::env::set_var("X_CONSUMER_SECRET", FAKE_X_CONSUMER_SECRET);
        }
        if let Some(meta) = meta {
            std::env::set_var("META_GRAPH_BASE_URL", meta.url());
            std::env::set_var("META_LOGIN_BASE_URL", meta.url());
            std::env::set_var("META_APP_ID", FAKE_META_APP_ID);
            std::env::set_var("META_APP_SECRET", FAKE_META_APP_SECRET);
        }
    }
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), false, "whsec_connect", ADMIN).await;
    (data, driver)
}

async fn admin(driver: &Driver) -> Visitor {
    let mut visitor = Visitor::new(&driver.base);
    let signed_in = visitor.sign_in(ADMIN).await;
    assert!(signed_in.status.is_redirection(), "{}", signed_in.body);
    visitor
}

/// What the platform's page does when the admin agrees: its redirect back to us.
async fn platform_page(url: &str) -> String {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND, "{url}");
    answer.headers()["location"].to_str().unwrap().to_string()
}

/// The path and query of a URL of ours.
fn ours(driver: &Driver, url: &str) -> String {
    url.strip_prefix(&driver.base)
        .unwrap_or_else(|| panic!("{url} is not the runner's"))
        .to_string()
}

async fn until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_x_account_is_connected_posts_with_its_token_and_a_refusal_shows() {
    let x = FakeX::start().await;
    let (_data, driver) = start(Some(&x), None).await;
    let mut visitor = admin(&driver).await;

    let settings = visitor.get("/settings/accounts").await;
    assert!(
        settings.body.contains("Connect X account"),
        "{}",
        settings.body
    );
    let started = visitor.get("/settings/connect/x").await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let authorize = started.location().unwrap().to_string();
    assert!(
        authorize.starts_with(&format!("{}/oauth/authorize?oauth_token=", x.url())),
        "{authorize}"
    );
    assert!(
        started
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("sc_connect=")
                && c.contains("SameSite=Lax")
                && c.contains("HttpOnly")),
        "{:?}",
        started.set_cookies()
    );
    let callback = platform_page(&authorize).await;

    // Another browser cannot finish it: without a binding cookie, nor with its own (from a
    // connection it started itself), and trying does not spend the admin's.
    let mut stranger = admin(&driver).await;
    let refused = stranger.get(&ours(&driver, &callback)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let own = stranger.get("/settings/connect/x").await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    assert!(stranger.cookies.contains_key("sc_connect"));
    let refused = stranger.get(&ours(&driver, &callback)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("another browser"), "{}", refused.body);
    // What no platform sends is refused before the store is asked (no 5xx to alarm on).
    let long = "A".repeat(3_000);
    let odd = stranger
        .get(&format!(
            "/settings/connect/x/callback?oauth_token={long}&oauth_verifier=v"
        ))
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST, "{}", odd.body);

    let connected = visitor.get(&ours(&driver, &callback)).await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.body);
    assert!(connected.body.contains("@acme_care"), "{}", connected.body);
    assert!(
        connected.body.contains("data-subscribed=\"true\""),
        "{}",
        connected.body
    );
    // Once: the same answer again connects nothing.
    let again = visitor.get(&ours(&driver, &callback)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.body.contains("used already"), "{}", again.body);

    // X checked our webhook with a CRC before registering it, and the account is subscribed.
    let webhooks = x.webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].url, format!("{}/webhooks/x", driver.base));
    assert!(webhooks[0].valid);
    assert!(
        x.crc_checks().iter().all(|check| check.passed),
        "{:?}",
        x.crc_checks()
    );
    assert_eq!(x.crc_checks().len(), 1);
    assert_eq!(x.subscribed_user_ids(&webhooks[0].id), [BRAND]);
    assert!(x.refusals().is_empty(), "{:?}", x.refusals());

    // The account is configured, by the admin, and its health says so; no token is shown.
    let (_, account) = driver.get(&format!("/v1/accounts/x/{BRAND}")).await;
    assert_eq!(account["handle"], "acme_care");
    assert_eq!(account["name"], "Acme Care");
    let (_, changes) = driver.get("/v1/configuration/changes").await;
    assert_eq!(
        changes["changes"][0]["summary"],
        format!("connected x account {BRAND}")
    );
    assert_eq!(changes["changes"][0]["by"], "bootstrap");
    let (status, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["token"]["set"], true);
    assert_eq!(health["token"]["valid"], true);
    assert_eq!(health["token"]["acts_as"], "@acme_care");
    assert_eq!(health["token"]["set_by"], "bootstrap");
    assert_eq!(health["subscribed"], true);
    assert_eq!(health["last_post_at"], Value::Null);
    let issued = x.access_tokens();
    assert_eq!(issued.len(), 1);
    assert!(!health.to_string().contains(&issued[0].token));
    assert!(!health.to_string().contains(&issued[0].secret));

    // The next signed webhook becomes a ticket; a reply is posted with the connected token.
    let body = serde_json::to_vec(&x_activity_mention(
        1_995_000_000_000_000_001,
        "@acme_care my bill is wrong",
        Utc::now(),
    ))
    .unwrap();
    let signature = x_signature(FAKE_X_CONSUMER_SECRET, &body);
    let (status, tally) = driver
        .post_raw(
            "/webhooks/x",
            &[("x-twitter-webhooks-signature", signature)],
            body,
        )
        .await;
    assert_eq!(
        (status, tally["queued"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{tally}"
    );
    let tickets = driver.tickets_when(|t| t.len() == 1).await;
    let ticket = tickets[0]["id"].as_str().unwrap().to_string();
    let (status, reply) = driver
        .post_api(
            &format!("/v1/tickets/{ticket}/replies"),
            &json!({"text": "Sorry! Checking your bill now.", "channel": "public"}),
        )
        .await;
    assert!(status.is_success(), "{reply}");
    // The acknowledgement first (the account acknowledges by default), then the reply: both
    // signed with the connected token.
    until("the reply is posted", async || x.tweets().len() == 2).await;
    let tweets = x.tweets();
    assert!(tweets.iter().all(|(user, _)| user == BRAND), "{tweets:?}");
    assert!(
        tweets[0].1["text"]
            .as_str()
            .unwrap()
            .starts_with("Thanks for reaching out")
    );
    assert_eq!(tweets[1].1["text"], "Sorry! Checking your bill now.");
    assert_eq!(
        tweets[1].1["reply"]["in_reply_to_tweet_id"],
        "1995000000000000001"
    );
    until("the post is on the health view", async || {
        let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
        health["last_post_at"].is_string() && health["last_webhook_at"].is_string()
    })
    .await;

    // X refuses the token from now on: the next reply fails and the health view says so.
    x.refuse_token(&issued[0].token);
    let (status, reply) = driver
        .post_api(
            &format!("/v1/tickets/{ticket}/replies"),
            &json!({"text": "One more thing.", "channel": "public"}),
        )
        .await;
    assert!(status.is_success(), "{reply}");
    until("the refusal is on the health view", async || {
        let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
        health["token"]["valid"] == false
    })
    .await;
    let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
    assert_eq!(health["token"]["set"], true);
    let refusal = health["refusal"].as_str().unwrap();
    assert!(
        refusal.contains("401") && refusal.contains("Invalid or expired token"),
        "{refusal}"
    );
    let page = visitor.get(&format!("/settings/accounts/x/{BRAND}")).await;
    assert!(
        page.body.contains("data-token=\"refused\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Invalid or expired token"),
        "{}",
        page.body
    );

    // Removing the account forgets its token too.
    let (status, _) = driver
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/accounts/x/{BRAND}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = driver
        .post_api("/v1/accounts", &json!({"platform": "x", "id": BRAND}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
    assert_eq!(health["token"]["set"], false, "{health}");
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_facebook_page_and_its_instagram_account_are_connected_and_subscribed() {
    let meta = FakeMeta::start().await;
    let (_data, driver) = start(None, Some(&meta)).await;
    let mut visitor = admin(&driver).await;

    let started = visitor.get("/settings/connect/meta").await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let login = started.location().unwrap().to_string();
    assert!(login.contains("/dialog/oauth?"), "{login}");
    assert!(
        login.contains(&format!("client_id={FAKE_META_APP_ID}")),
        "{login}"
    );
    let callback = platform_page(&login).await;
    let chooser = visitor.get(&ours(&driver, &callback)).await;
    assert_eq!(chooser.status, StatusCode::OK, "{}", chooser.body);
    for shown in ["Acme Care", "Acme Outlet", "Acme Labs", "@acme.care"] {
        assert!(chooser.body.contains(shown), "{shown}: {}", chooser.body);
    }
    let page = meta.pages()[0].clone();
    let choice = chooser.hidden("choice");
    // Meta's words come back in a query anyone can write: shown as text, not markup.
    let hostile = visitor
        .get(
            "/settings/connect/meta/callback?error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .await;
    assert_eq!(hostile.status, StatusCode::BAD_REQUEST, "{}", hostile.body);
    assert!(
        hostile.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        hostile.body
    );
    assert!(!hostile.body.contains("<script>alert"), "{}", hostile.body);
    // Another browser cannot choose, with or without a binding of its own.
    let mut stranger = admin(&driver).await;
    let refused = stranger
        .post(
            "/settings/connect/meta/page",
            &[("choice", &choice), ("page_id", &page.id)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let own = stranger.get("/settings/connect/meta").await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    let refused = stranger
        .post(
            "/settings/connect/meta/page",
            &[("choice", &choice), ("page_id", &page.id)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    let connected = visitor
        .post(
            "/settings/connect/meta/page",
            &[("choice", &choice), ("page_id", &page.id)],
        )
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.body);
    assert!(connected.body.contains("Acme Care"), "{}", connected.body);
    assert!(connected.body.contains("@acme.care"), "{}", connected.body);
    assert_eq!(
        meta.subscribed_fields(&page.id),
        Some(vec![
            "feed".to_string(),
            "messages".to_string(),
            "mention".to_string()
        ])
    );
    assert!(meta.refusals().is_empty(), "{:?}", meta.refusals());

    let (_, accounts) = driver.get("/v1/accounts").await;
    let listed: Vec<(String, String)> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["platform"].as_str().unwrap().to_string(),
                a["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let instagram = page.instagram.clone().unwrap();
    assert_eq!(
        listed,
        [
            ("facebook".to_string(), page.id.clone()),
            ("instagram".to_string(), instagram.id.clone())
        ]
    );
    for (platform, id, acts_as) in [
        ("facebook", &page.id, "Acme Care"),
        ("instagram", &instagram.id, "@acme.care"),
    ] {
        let (_, health) = driver
            .get(&format!("/v1/accounts/{platform}/{id}/health"))
            .await;
        assert_eq!(health["token"]["set"], true, "{health}");
        assert_eq!(health["token"]["valid"], true, "{health}");
        assert_eq!(health["token"]["acts_as"], acts_as, "{health}");
        assert_eq!(health["subscribed"], true, "{health}");
        assert!(!health.to_string().contains(&page.access_token));
    }
    driver.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_set_by_hand_is_checked_with_the_platform_first() {
    let x = FakeX::start().await;
    let (_data, driver) = start(Some(&x), None).await;
    let (status, _) = driver
        .post_api("/v1/accounts", &json!({"platform": "x", "id": BRAND}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, refused) = driver
        .call(
            reqwest::Method::PUT,
            &format!("/v1/accounts/x/{BRAND}/token"),
            Some(&json!({"access_token": "1100-made-up", "access_token_secret": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "platform_refused");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X refused"),
        "{refused}"
    );
    let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
    assert_eq!(health["token"]["set"], false, "nothing stored");
    let (status, body) = driver
        .call(
            reqwest::Method::PUT,
            "/v1/accounts/x/42/token",
            Some(&json!({"access_token": "a", "access_token_secret": "b"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = driver
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/accounts/x/{BRAND}/token"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    driver.running.stop().await.unwrap();
}
