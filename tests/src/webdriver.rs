//! Headless Chromium for the console's browser tests: Debian's `chromium` driven by its
//! `chromedriver` over WebDriver (fantoccini), on a free loopback port, stopped at the end.
//! The test command installs both when they are missing.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct Browser {
    pub client: Client,
    driver: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where the browser tests leave their screenshots.
pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Self {
        let binary = ["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|b| std::process::Command::new(b).arg("--version").output().is_ok())
            .expect("chromedriver is installed (apt-get install chromium chromium-driver; ./infra/test does)");
        let port = free_port();
        let driver = Command::new(binary)
            .arg(format!("--port={port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        for _ in 0..100 {
            if reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"), "--no-first-run", "--disable-extensions",
            ]}),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Self { client, driver }
    }

    /// What the page wrote to the browser's console since the last call (Chromium's log).
    pub async fn console_entries(&self) -> Vec<Value> {
        match self.client.issue_cmd(BrowserLog).await {
            Ok(Value::Array(entries)) => entries,
            other => panic!("the browser log could not be read: {other:?}"),
        }
    }

    /// Fails when the page wrote a warning or an error to the browser's console.
    pub async fn assert_quiet_console(&self) {
        let entries = self.console_entries().await;
        let loud: Vec<&Value> = entries
            .iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .collect();
        assert!(loud.is_empty(), "the browser's console: {loud:?}");
    }

    /// Saves a screenshot of the page as `name`.png; fails on a blank page.
    pub async fn screenshot(&self, name: &str) {
        let text: String = self
            .client
            .execute("return document.body.innerText", vec![])
            .await
            .expect("the page's text")
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!text.trim().is_empty(), "{name}: a blank page");
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(screenshots().join(format!("{name}.png")), png).expect("saved");
    }

    pub async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}

/// Chromium's `POST /session/{id}/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Polls `script` on the page until it returns true (at most ~15 s).
pub async fn eventually(browser: &Browser, what: &str, script: &str) {
    for _ in 0..150 {
        let holds = browser
            .client
            .execute(script, vec![])
            .await
            .expect("the script runs");
        if holds == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never happened");
}

/// Clicks the button that reads `label`.
pub async fn press(browser: &Browser, label: &str) {
    browser
        .client
        .find(fantoccini::Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no button {label}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The text of the first element `css` selects.
pub async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Signs in to the console at `base` with `key`, on to the inbox.
pub async fn sign_in(browser: &Browser, base: &str, key: &str) {
    let client = &browser.client;
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(fantoccini::Locator::Id("key"))
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
    press(browser, "Sign in").await;
    eventually(browser, "signed in", "return location.pathname === '/'").await;
}
