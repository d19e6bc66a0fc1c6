//! Onboarding in a real headless Chromium (issue 17): an admin adds an X account in the
//! console and its next signed webhook becomes a ticket without a restart; connects the
//! account through X's OAuth pages (the fake X, on another site than the console, so the
//! browser's SameSite rules are the real ones) and sees it subscribed; a token X refuses
//! shows on the account's health view.

use chrono::Utc;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;
use socialcare_tests::events::{x_activity_mention, x_signature};
use socialcare_tests::fake_x::{FAKE_X_CONSUMER_KEY, FAKE_X_CONSUMER_SECRET, FakeX};
use socialcare_tests::runner::Driver;
use socialcare_tests::webdriver::{Browser, eventually, press, sign_in, text_of};
use std::time::Duration;

const KEY: &str = "sk_connect_browser_key_01";
const BRAND: &str = "1100000000000000001";

/// How long each step of the onboarding took, printed (run with `--no-capture` to see it):
/// a report of this run, not a limit.
struct Steps(std::time::Instant, Vec<(&'static str, Duration)>);

impl Steps {
    fn done(&mut self, step: &'static str) {
        self.1.push((step, self.0.elapsed()));
        self.0 = std::time::Instant::now();
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        for (step, took) in &self.1 {
            eprintln!(
                "onboarding step: {step}: {:.0} ms",
                took.as_secs_f64() * 1000.0
            );
        }
    }
}

async fn field(browser: &Browser, id: &str, text: &str) {
    browser
        .client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no field {id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_adds_and_connects_an_x_account_in_the_browser() {
    let x = FakeX::start().await;
    // The fake X answers on `localhost`, the console on `127.0.0.1`: two sites.
    let x_site = x.url().replace("127.0.0.1", "localhost");
    assert_ne!(x_site, x.url(), "{x_site}");
    // SAFETY: set before the runner reads the environment; a test process runs one test.
    unsafe {
        std::env::set_var("X_API_BASE_URL", &x_site);
        std::env::set_var("X_CONSUMER_KEY", FAKE_X_CONSUMER_KEY);
        std::env::set_var("X_CONSUMER_SECRET", FAKE_X_CONSUMER_SECRET);
    }
    let mut steps = Steps(std::time::Instant::now(), Vec::new());
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(data.path(), false, "whsec_connect_browser", KEY).await;
    steps.done("the runner starts on a new store");
    let browser = Browser::start(1280, 900).await;
    let client = &browser.client;
    steps.done("(the test's browser starts)");
    sign_in(&browser, &driver.base, KEY).await;
    steps.done("sign in to the console");

    // Added by hand: taken at once.
    client
        .goto(&format!("{}/settings/accounts", driver.base))
        .await
        .unwrap();
    field(&browser, "account-id", BRAND).await;
    field(&browser, "account-handle", "acme_care").await;
    press(&browser, "Add account").await;
    eventually(
        &browser,
        "the account is added",
        "return document.body.textContent.includes('Account added')",
    )
    .await;
    assert!(text_of(&browser, "#accounts").await.contains("@acme_care"));
    steps.done("add the X account by hand");
    let body = serde_json::to_vec(&x_activity_mention(
        1_996_000_000_000_000_001,
        "@acme_care no signal since noon",
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
    assert_eq!(status, StatusCode::OK, "{tally}");
    assert_eq!(tally["queued"], 1, "{tally}");
    driver.tickets_when(|t| t.len() == 1).await;
    steps.done("its next webhook is a ticket");

    // Connected through X's pages and back.
    client
        .find(Locator::LinkText("Connect X account"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        &browser,
        "X sends the admin back, connected",
        "return document.title.startsWith('Account connected')",
    )
    .await;
    assert_eq!(
        client
            .find(Locator::Css("[data-subscribed]"))
            .await
            .unwrap()
            .attr("data-subscribed")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert!(text_of(&browser, "#connected").await.contains("@acme_care"));
    steps.done("connect it through X's pages (token checked, webhook CRC, subscription)");
    browser.screenshot("connected").await;
    let webhooks = x.webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(x.subscribed_user_ids(&webhooks[0].id), [BRAND]);

    // The health view, signed in again by following our own link.
    client
        .find(Locator::LinkText("Back to accounts and teams"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css(&format!(
            "a[href='/settings/accounts/x/{BRAND}']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        &browser,
        "the account's page",
        "return !!document.querySelector('#health')",
    )
    .await;
    let token = client.find(Locator::Css("[data-token]")).await.unwrap();
    assert_eq!(
        token.attr("data-token").await.unwrap().as_deref(),
        Some("valid")
    );
    assert!(token.text().await.unwrap().contains("as @acme_care"));
    steps.done("open its health view");

    // X refuses the token: the next reply fails, and the health view says so.
    x.refuse_token(&x.access_tokens()[0].token);
    let (_, tickets) = driver.get("/v1/tickets").await;
    let ticket = tickets["tickets"][0]["id"].as_str().unwrap().to_string();
    let (status, reply) = driver
        .post_api(
            &format!("/v1/tickets/{ticket}/replies"),
            &json!({"text": "Checking the mast near you now.", "channel": "public"}),
        )
        .await;
    assert!(status.is_success(), "{reply}");
    for _ in 0..100 {
        let (_, health) = driver.get(&format!("/v1/accounts/x/{BRAND}/health")).await;
        if health["token"]["valid"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.refresh().await.unwrap();
    let token = client.find(Locator::Css("[data-token]")).await.unwrap();
    assert_eq!(
        token.attr("data-token").await.unwrap().as_deref(),
        Some("refused")
    );
    assert!(
        text_of(&browser, "[data-refusal]")
            .await
            .contains("Invalid or expired token")
    );
    browser.screenshot("health-refused").await;
    browser.assert_quiet_console().await;
    browser.stop().await;
    driver.running.stop().await.unwrap();
}
