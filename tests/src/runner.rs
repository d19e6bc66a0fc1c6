//! Drives a running `socialcare-local` over HTTP, the way an integrator and an agent would.

use crate::events::signature;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use socialcare_local::{Running, Settings};
use std::time::Duration;

pub struct Driver {
    pub running: Running,
    pub base: String,
    pub integration_secret: String,
    pub api_key: String,
    http: reqwest::Client,
}

impl Driver {
    /// Starts the runner on a free loopback port with the given backend and credentials.
    pub async fn start(data: &std::path::Path, aws: bool, secret: &str, api_key: &str) -> Self {
        Self::start_with_config(data, aws, secret, api_key, None).await
    }

    /// The same, serving the brand accounts of a SOCIALCARE_CONFIG file.
    pub async fn start_with_config(
        data: &std::path::Path,
        aws: bool,
        secret: &str,
        api_key: &str,
        config: Option<std::path::PathBuf>,
    ) -> Self {
        Self::start_with_files(data, aws, secret, api_key, config, None).await
    }

    /// The same, also posting replies with the credentials of a platform credentials file.
    pub async fn start_with_files(
        data: &std::path::Path,
        aws: bool,
        secret: &str,
        api_key: &str,
        config: Option<std::path::PathBuf>,
        platform_credentials: Option<std::path::PathBuf>,
    ) -> Self {
        // The runner reads its credentials from the environment, as a user would set them.
        // SAFETY: set before anything else in this test process reads the environment.
        unsafe {
            std::env::set_var("SOCIALCARE_INTEGRATION_SECRET", secret);
            std::env::set_var("SOCIALCARE_API_KEY", api_key);
        }
        let settings = Settings {
            addr: "127.0.0.1:0".parse().unwrap(),
            data: data.to_path_buf(),
            aws,
            backend: "sqlite".into(),
            config,
            platform_credentials,
            // The fake integrators and escalation targets listen on loopback.
            allow_private_targets: true,
            public_url: None,
        };
        let running = socialcare_local::start(settings)
            .await
            .expect("runner starts");
        Self {
            base: format!("http://{}", running.addr),
            running,
            integration_secret: secret.into(),
            api_key: api_key.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The runner serving the brand `accounts` (a SOCIALCARE_CONFIG document) with the X API
    /// faked at `x_api`: webhooks from X are signed with `x_consumer_secret`, and the brand
    /// account `1100000000000000001` posts with credentials named after `name`
    /// (`ck-<name>`, `cs-<name>`, `ats-<name>`). The temporary folder lives as long as it.
    pub async fn start_with_fake_x(
        name: &str,
        api_key: &str,
        accounts: &str,
        x_api: &str,
        x_consumer_secret: &str,
    ) -> (tempfile::TempDir, Self) {
        Self::start_with_fake_x_on(false, name, api_key, accounts, x_api, x_consumer_secret).await
    }

    /// The same on DynamoDB and SQS when `aws` (the stack's names in the environment).
    pub async fn start_with_fake_x_on(
        aws: bool,
        name: &str,
        api_key: &str,
        accounts: &str,
        x_api: &str,
        x_consumer_secret: &str,
    ) -> (tempfile::TempDir, Self) {
        const BRAND: &str = "1100000000000000001";
        let data = tempfile::tempdir().unwrap();
        let config = data.path().join("socialcare.toml");
        std::fs::write(&config, accounts).unwrap();
        let credentials = data.path().join("platforms.toml");
        std::fs::write(
            &credentials,
            format!(
                "[x]\nconsumer_key = \"ck-{name}\"\nconsumer_secret = \"cs-{name}\"\n[[x.accounts]]\nid = \"{BRAND}\"\naccess_token = \"{BRAND}-at\"\naccess_token_secret = \"ats-{name}\"\n"
            ),
        )
        .unwrap();
        // SAFETY: set before the runner reads the environment; a test process runs one test.
        unsafe {
            std::env::set_var("X_CONSUMER_SECRET", x_consumer_secret);
            std::env::set_var("X_API_BASE_URL", x_api);
        }
        let driver = Self::start_with_files(
            data.path(),
            aws,
            &format!("whsec_{name}"),
            api_key,
            Some(config),
            Some(credentials),
        )
        .await;
        (data, driver)
    }

    /// Posts an X Account Activity delivery signed with `x_consumer_secret`; it must be taken.
    pub async fn post_x(&self, body: &Value, x_consumer_secret: &str) {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = crate::events::x_signature(x_consumer_secret, &bytes);
        let (status, answer) = self
            .post_raw(
                "/webhooks/x",
                &[("x-twitter-webhooks-signature", signature)],
                bytes,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    /// Posts a signed integrator event; returns the status and the JSON answer.
    pub async fn post_generic(
        &self,
        body: &Value,
        signed_at: DateTime<Utc>,
    ) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let response = self
            .http
            .post(format!("{}/webhooks/generic", self.base))
            .header("content-type", "application/json")
            .header(
                "x-socialcare-signature",
                signature(&self.integration_secret, signed_at, &bytes),
            )
            .body(bytes)
            .send()
            .await
            .expect("runner answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts raw bytes to a webhook path with extra headers; returns the status and JSON answer.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("runner answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST` JSON to an API path with the API key.
    pub async fn post_api(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .expect("runner answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Any method on an API path with the API key, with a JSON body or none.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("runner answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET` an API path with the API key.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .expect("runner answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls the ticket list until `ready` holds for it (the consumer works in the background).
    pub async fn tickets_when(&self, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..100 {
            let (status, body) = self.get("/v1/tickets").await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let tickets = body["tickets"].as_array().cloned().unwrap_or_default();
            if ready(&tickets) {
                return tickets;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("tickets never reached the expected state");
    }
}
