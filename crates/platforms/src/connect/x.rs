//! X: the OAuth 1.0a three-legged flow (`POST /oauth/request_token`, `GET /oauth/authorize`,
//! `POST /oauth/access_token`), the check of the granted token (`GET /2/users/me`), the app's
//! bearer token (`POST /oauth2/token`), and the Account Activity webhook and subscriptions
//! (`/2/webhooks`, `/2/account_activity/webhooks/:id/subscriptions/all`).
//!
//! Requests made as the app or as a user are signed with OAuth 1.0a HMAC-SHA1; none of them
//! carries query or form parameters, so the signature covers the `oauth_*` parameters only
//! (a JSON body is never signed).

use super::{ConnectError, Reply, base_url, path_id, required, send, text, words};
use crate::credentials::ConfigError;
use crate::{Endpoints, client_builder, describe};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

const PLATFORM: &str = "X";

/// X error codes that mean a credential was refused: could not authenticate you (32), invalid
/// or expired token (89), unable to verify your credentials (99), bad authentication data
/// (215).
const REFUSED_CODES: [i64; 4] = [32, 89, 99, 215];

/// A request token: what the brand's user authorizes on X's page. Kept between
/// [`XConnect::request_token`] and [`XConnect::access_token`] (the callback names it by
/// `token`); its secret signs the exchange.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestToken {
    pub token: String,
    pub secret: String,
}

impl fmt::Debug for RequestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What the brand's user granted: the access token (and secret) the app acts with as that
/// user, and who the user is as X said it at the exchange.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XUserToken {
    pub token: String,
    pub secret: String,
    pub user_id: String,
    pub screen_name: String,
}

impl fmt::Debug for XUserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XUserToken")
            .field("token", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("screen_name", &self.screen_name)
            .finish()
    }
}

/// The user a token acts as, from `GET /2/users/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XUser {
    pub id: String,
    pub username: String,
    pub name: String,
}

/// The app's own (application-only) bearer token, for the webhook endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct AppBearer(String);

impl AppBearer {
    pub fn token(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AppBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppBearer(<redacted>)")
    }
}

/// A webhook registered for the app: X sends the Account Activity of every subscribed user
/// to `url`; `valid` is whether its last CRC check passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub valid: bool,
}

/// Connects brands' X accounts to the app with the consumer key and secret.
pub struct XConnect {
    client: reqwest::Client,
    consumer_key: String,
    consumer_secret: String,
    api: String,
    authorize: String,
    timeout: Duration,
    /// The app's bearer token once asked for: X gives the same one until it is invalidated.
    bearer: Mutex<Option<AppBearer>>,
}

impl fmt::Debug for XConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XConnect")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("api", &self.api)
            .field("authorize", &self.authorize)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl XConnect {
    /// The API at `endpoints.x_api`; the authorize page there too, until
    /// [`with_authorize_base`](Self::with_authorize_base) says otherwise.
    pub fn new(
        consumer_key: impl Into<String>,
        consumer_secret: impl Into<String>,
        endpoints: &Endpoints,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let api = base_url("X API", &endpoints.x_api)?;
        let client = client_builder(timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        Ok(Self {
            client,
            consumer_key: required("the X consumer key", consumer_key.into())?,
            consumer_secret: required("the X consumer secret", consumer_secret.into())?,
            authorize: api.clone(),
            api,
            timeout,
            bearer: Mutex::new(None),
        })
    }

    /// Where the page is that the brand's user authorizes the app on (`/oauth/authorize`
    /// below it).
    pub fn with_authorize_base(self, base: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            authorize: base_url("X authorize page", base)?,
            ..self
        })
    }

    /// Step 1: a request token whose authorization returns to `callback_url` (which must be
    /// one of the app's approved callback URLs). X must confirm the callback.
    pub async fn request_token(&self, callback_url: &str) -> Result<RequestToken, ConnectError> {
        let url = format!("{}/oauth/request_token", self.api);
        let authorization = self.sign("POST", &url, None, Some(callback_url), None);
        let request = self
            .client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .body("");
        let reply = self.send(request).await?;
        let form = self.form(&reply, "the request token")?;
        if form.get("oauth_callback_confirmed") != Some("true") {
            return Err(unexpected(
                "did not confirm the callback of the request token (oauth_callback_confirmed is not true)",
            ));
        }
        Ok(RequestToken {
            token: form.required("oauth_token", "the request token")?,
            secret: form.required("oauth_token_secret", "the request token")?,
        })
    }

    /// Step 2: the page to send the brand's user to. X sends them back to the callback with
    /// `oauth_token` (the request token's) and `oauth_verifier`.
    pub fn authorize_url(&self, request: &RequestToken) -> String {
        let mut url = format!("{}/oauth/authorize?oauth_token=", self.authorize);
        url.extend(url::form_urlencoded::byte_serialize(
            request.token.as_bytes(),
        ));
        url
    }

    /// Step 3: the access token, for the request token the user authorized and the verifier
    /// X gave the callback.
    pub async fn access_token(
        &self,
        request: &RequestToken,
        verifier: &str,
    ) -> Result<XUserToken, ConnectError> {
        let url = format!("{}/oauth/access_token", self.api);
        let token = Some((request.token.as_str(), request.secret.as_str()));
        let authorization = self.sign("POST", &url, token, None, Some(verifier));
        let request = self
            .client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .body("");
        let reply = self.send(request).await?;
        let what = "the access token";
        let form = self.form(&reply, what)?;
        Ok(XUserToken {
            token: form.required("oauth_token", what)?,
            secret: form.required("oauth_token_secret", what)?,
            user_id: form.required("user_id", what)?,
            screen_name: form.required("screen_name", what)?,
        })
    }

    /// The user `user` acts as, asked of X with the token itself: the check before a token
    /// is stored. A token that acts as another user than the exchange said is not believed.
    pub async fn verify(&self, user: &XUserToken) -> Result<XUser, ConnectError> {
        let url = format!("{}/2/users/me", self.api);
        let authorization = self.sign("GET", &url, Some(user_pair(user)), None, None);
        let request = self
            .client
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, authorization);
        let reply = self.send(request).await?;
        let json = self.success(&reply, "the user")?;
        let field = |name: &str| {
            text(&json, &format!("/data/{name}"))
                .map(str::to_string)
                .ok_or_else(|| unexpected(&format!("answered the user without data.{name}")))
        };
        let me = XUser {
            id: field("id")?,
            username: field("username")?,
            name: field("name")?,
        };
        if !user.user_id.is_empty() && me.id != user.user_id {
            return Err(unexpected(&format!(
                "says the token acts as user {}, not as user {} it was granted for",
                me.id, user.user_id
            )));
        }
        Ok(me)
    }

    /// The app's bearer token (client credentials grant), asked of X each time.
    pub async fn app_bearer(&self) -> Result<AppBearer, ConnectError> {
        let url = format!("{}/oauth2/token", self.api);
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let request = self
            .client
            .post(&url)
            .basic_auth::<String, String>(
                encode(&self.consumer_key),
                Some(encode(&self.consumer_secret)),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body("grant_type=client_credentials");
        let reply = self.send(request).await?;
        let json = self.success(&reply, "the bearer token")?;
        if !text(&json, "/token_type").is_some_and(|kind| kind.eq_ignore_ascii_case("bearer")) {
            return Err(unexpected(
                "answered the bearer token without token_type bearer",
            ));
        }
        let token = text(&json, "/access_token")
            .ok_or_else(|| unexpected("answered the bearer token without access_token"))?;
        Ok(AppBearer(token.to_string()))
    }

    /// The webhooks registered for the app.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, ConnectError> {
        let url = format!("{}/2/webhooks", self.api);
        let json = self
            .as_app(|client| client.get(&url), "the webhooks")
            .await?;
        match json.get("data") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(webhook).collect(),
            Some(_) => Err(unexpected(
                "answered the webhooks with a data that is not a list",
            )),
        }
    }

    /// Registers `url` as the app's webhook. X checks it first with a CRC `GET url?crc_token=`
    /// and registers it only if the answer is right.
    pub async fn register_webhook(&self, url: &str) -> Result<Webhook, ConnectError> {
        let address = format!("{}/2/webhooks", self.api);
        let body = json!({ "url": url });
        let json = self
            .as_app(
                |client| client.post(&address).json(&body),
                "the new webhook",
            )
            .await?;
        // The API reference gives the webhook itself; a `data` envelope is taken too.
        webhook(json.get("data").unwrap_or(&json))
    }

    /// Has X check the webhook again with a CRC (it stays invalid until one passes).
    pub async fn revalidate_webhook(&self, webhook_id: &str) -> Result<(), ConnectError> {
        let address = format!(
            "{}/2/webhooks/{}",
            self.api,
            path_id("the webhook", webhook_id)?
        );
        self.as_app(|client| client.put(&address), "the revalidation")
            .await
            .map(|_| ())
    }

    /// The app's webhook at `url`: the one already registered for it (checked again first if
    /// X marked it invalid), else a new one.
    pub async fn ensure_webhook(&self, url: &str) -> Result<Webhook, ConnectError> {
        let registered = self.webhooks().await?;
        let Some(existing) = registered.into_iter().find(|webhook| webhook.url == url) else {
            return self.register_webhook(url).await;
        };
        if existing.valid {
            return Ok(existing);
        }
        self.revalidate_webhook(&existing.id).await?;
        self.webhooks()
            .await?
            .into_iter()
            .find(|webhook| webhook.id == existing.id)
            .ok_or_else(|| {
                unexpected(&format!(
                    "no longer lists webhook {} after checking it again",
                    existing.id
                ))
            })
    }

    /// Subscribes the user's account to the webhook: X then sends it their activity.
    pub async fn subscribe(&self, webhook_id: &str, user: &XUserToken) -> Result<(), ConnectError> {
        let url = self.subscription_url(webhook_id)?;
        let authorization = self.sign("POST", &url, Some(user_pair(user)), None, None);
        let request = self
            .client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .json(&json!({}));
        let reply = self.send(request).await?;
        if reply.status.is_success() && reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let json = self.success(&reply, "the subscription")?;
        match json.pointer("/data/subscribed").and_then(Value::as_bool) {
            Some(false) => Err(unexpected(
                "answered the subscription with subscribed false",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the user's account is subscribed to the webhook.
    pub async fn subscription(
        &self,
        webhook_id: &str,
        user: &XUserToken,
    ) -> Result<bool, ConnectError> {
        let url = self.subscription_url(webhook_id)?;
        let authorization = self.sign("GET", &url, Some(user_pair(user)), None, None);
        let request = self
            .client
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, authorization);
        let reply = self.send(request).await?;
        let json = self.success(&reply, "the subscription")?;
        json.pointer("/data/subscribed")
            .and_then(Value::as_bool)
            .ok_or_else(|| unexpected("answered the subscription without data.subscribed"))
    }
}

impl XConnect {
    fn subscription_url(&self, webhook_id: &str) -> Result<String, ConnectError> {
        Ok(format!(
            "{}/2/account_activity/webhooks/{}/subscriptions/all",
            self.api,
            path_id("the webhook", webhook_id)?
        ))
    }

    /// The `Authorization` header of a request signed with the consumer credentials and, when
    /// given, a token's. `url` has no query.
    fn sign(
        &self,
        method: &str,
        url: &str,
        token: Option<(&str, &str)>,
        callback: Option<&str>,
        verifier: Option<&str>,
    ) -> String {
        let client = oauth1_request::Credentials::new(
            self.consumer_key.as_str(),
            self.consumer_secret.as_str(),
        );
        let mut builder =
            oauth1_request::Builder::<_, _, &str>::new(client, oauth1_request::HMAC_SHA1);
        builder
            .token(token.map(|(token, secret)| oauth1_request::Credentials::new(token, secret)))
            .callback(callback)
            .verifier(verifier)
            .version(true);
        builder.authorize(method, url, &())
    }

    /// A call as the app with its bearer token: the success body. A refused bearer token is
    /// forgotten, so that the next call asks X for the current one.
    async fn as_app(
        &self,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, ConnectError> {
        let bearer = self.bearer().await?;
        let reply = self
            .send(request(&self.client).bearer_auth(bearer.token()))
            .await?;
        let result = self.success(&reply, what);
        if result.as_ref().is_err_and(ConnectError::is_refused) {
            self.forget_bearer();
        }
        result
    }

    /// The app's bearer token: the one asked for before, or a new one.
    pub(crate) async fn bearer(&self) -> Result<AppBearer, ConnectError> {
        let cached = self
            .bearer
            .lock()
            .map(|bearer| bearer.clone())
            .ok()
            .flatten();
        if let Some(bearer) = cached {
            return Ok(bearer);
        }
        let bearer = self.app_bearer().await?;
        if let Ok(mut cache) = self.bearer.lock() {
            *cache = Some(bearer.clone());
        }
        Ok(bearer)
    }

    /// Forgets the bearer token X refused: the next call asks for the current one.
    pub(crate) fn forget_bearer(&self) {
        if let Ok(mut cache) = self.bearer.lock() {
            *cache = None;
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ConnectError> {
        send(PLATFORM, self.timeout, request).await
    }

    /// The success body as JSON, or X's error.
    fn success(&self, reply: &Reply, what: &str) -> Result<Value, ConnectError> {
        match reply.status.is_success() {
            true => reply.success_json(PLATFORM, what),
            false => Err(error(reply)),
        }
    }

    /// The success body as a form (the OAuth 1.0a endpoints answer `a=b&c=d`), or X's error.
    fn form(&self, reply: &Reply, what: &str) -> Result<Form, ConnectError> {
        if !reply.status.is_success() {
            return Err(error(reply));
        }
        let text = std::str::from_utf8(&reply.body)
            .map_err(|_| unexpected(&format!("answered {what} with a body that is not text")))?;
        Ok(Form::parse(text))
    }
}

fn user_pair(user: &XUserToken) -> (&str, &str) {
    (user.token.as_str(), user.secret.as_str())
}

fn unexpected(message: &str) -> ConnectError {
    ConnectError::Unexpected {
        platform: PLATFORM,
        message: message.to_string(),
    }
}

/// A webhook as the API describes it.
fn webhook(json: &Value) -> Result<Webhook, ConnectError> {
    let field = |name: &str| {
        text(json, &format!("/{name}"))
            .map(str::to_string)
            .ok_or_else(|| unexpected(&format!("answered a webhook without {name}")))
    };
    Ok(Webhook {
        id: field("id")?,
        url: field("url")?,
        valid: json
            .get("valid")
            .and_then(Value::as_bool)
            .ok_or_else(|| unexpected("answered a webhook without valid"))?,
    })
}

/// X's error, in its words: a v1.1-style `errors[0].message` (also in v2 problems, where it is
/// the most precise), a v2 problem's `detail` or `title`, an OAuth 2 `error_description` or
/// `error`, else the body itself (the OAuth 1.0a endpoints can answer plain text).
fn error(reply: &Reply) -> ConnectError {
    let status = reply.status.as_u16();
    let json = reply.json();
    let json = json.as_ref();
    let code = json.and_then(|json| json.pointer("/errors/0/code")?.as_i64());
    let message = json
        .and_then(|json| {
            [
                "/errors/0/message",
                "/detail",
                "/title",
                "/error_description",
                "/error",
            ]
            .iter()
            .find_map(|pointer| text(json, pointer))
        })
        .map(words)
        .unwrap_or_else(|| match reply.status.is_redirection() {
            true => "X answered with a redirect, which is not followed".to_string(),
            false => reply.excerpt(),
        });
    let oauth2_refusal = json
        .and_then(|json| text(json, "/error"))
        .is_some_and(|error| matches!(error, "invalid_token" | "invalid_client"));
    let refused =
        status == 401 || oauth2_refusal || code.is_some_and(|c| REFUSED_CODES.contains(&c));
    match refused {
        true => ConnectError::Refused {
            platform: PLATFORM,
            status,
            code,
            message,
        },
        false => ConnectError::Failed {
            platform: PLATFORM,
            status,
            code,
            message,
        },
    }
}

/// An `application/x-www-form-urlencoded` answer.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(text: &str) -> Self {
        Self(
            url::form_urlencoded::parse(text.trim().as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A field that must be there and not empty. The body is not quoted: it holds secrets.
    fn required(&self, name: &str, what: &str) -> Result<String, ConnectError> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .ok_or_else(|| unexpected(&format!("answered {what} without {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn connect() -> XConnect {
        XConnect::new(
            "ck",
            "cs-very-secret",
            &Endpoints {
                x_api: "https://api.x.com/".into(),
                ..Endpoints::default()
            },
            Duration::from_secs(1),
        )
        .unwrap()
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn the_authorize_page_names_the_request_token() {
        let request = RequestToken {
            token: "Z6eEdO8MOmk394WozF5oKyuAv855l4Mlqo7hhlSLik".into(),
            secret: "Kd75W4OQfb2oJTV0vzGzeXftVAwgMnEK9MumzYcM".into(),
        };
        assert_eq!(
            connect().authorize_url(&request),
            "https://api.x.com/oauth/authorize?oauth_token=Z6eEdO8MOmk394WozF5oKyuAv855l4Mlqo7hhlSLik"
        );
        let odd = RequestToken {
            token: "a b&c=d".into(),
            secret: String::new(),
        };
        let elsewhere = connect().with_authorize_base("https://x.com/").unwrap();
        assert_eq!(
            elsewhere.authorize_url(&odd),
            "https://x.com/oauth/authorize?oauth_token=a+b%26c%3Dd"
        );
    }

    #[test]
    fn reads_the_oauth_form_answers() {
        // X's documented answers of POST oauth/request_token and POST oauth/access_token.
        let form = Form::parse(
            "oauth_token=Z6eEdO8MOmk394WozF5oKyuAv855l4Mlqo7hhlSLik&oauth_token_secret=Kd75W4OQfb2oJTV0vzGzeXftVAwgMnEK9MumzYcM&oauth_callback_confirmed=true\n",
        );
        assert_eq!(form.get("oauth_callback_confirmed"), Some("true"));
        assert_eq!(
            form.required("oauth_token_secret", "the request token")
                .unwrap(),
            "Kd75W4OQfb2oJTV0vzGzeXftVAwgMnEK9MumzYcM"
        );
        let form = Form::parse(
            "oauth_token=6253282-eWudHldSbIaelX7swmsiHImEL4KinwaGloHANdrY&oauth_token_secret=2EEfA6BG5ly3sR3XjE0IBSnlQu4ZrUzPiYTmrkVU&user_id=6253282&screen_name=twitterapi",
        );
        assert_eq!(form.get("user_id"), Some("6253282"));
        assert_eq!(form.get("screen_name"), Some("twitterapi"));
        let missing = Form::parse("oauth_token=abc&oauth_token_secret=");
        let error = missing
            .required("oauth_token_secret", "the access token")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "X answered the access token without oauth_token_secret"
        );
        let encoded = Form::parse("screen_name=a%20b+c&user_id=1");
        assert_eq!(encoded.get("screen_name"), Some("a b c"));
    }

    #[test]
    fn an_unconfirmed_callback_is_an_error_that_quotes_no_secret() {
        let connect = connect();
        let reply = reply(
            200,
            "oauth_token=t&oauth_token_secret=very-secret-value&oauth_callback_confirmed=false",
        );
        let form = connect.form(&reply, "the request token").unwrap();
        assert_ne!(form.get("oauth_callback_confirmed"), Some("true"));
        // What request_token answers then:
        let error = unexpected(
            "did not confirm the callback of the request token (oauth_callback_confirmed is not true)",
        );
        assert!(!error.to_string().contains("very-secret-value"));
    }

    #[test]
    fn xs_errors_are_told_in_its_words() {
        let bad_signature = error(&reply(
            401,
            r#"{"errors":[{"code":32,"message":"Could not authenticate you."}]}"#,
        ));
        assert_eq!(
            bad_signature,
            ConnectError::Refused {
                platform: "X",
                status: 401,
                code: Some(32),
                message: "Could not authenticate you.".into(),
            }
        );
        let wrong_keys = error(&reply(
            403,
            r#"{"errors":[{"code":99,"label":"authenticity_token_error","message":"Unable to verify your credentials"}]}"#,
        ));
        assert!(wrong_keys.is_refused());
        assert_eq!(
            wrong_keys.platform_message(),
            Some("Unable to verify your credentials")
        );
        let problem = error(&reply(
            401,
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
        ));
        assert!(problem.is_refused());
        assert_eq!(problem.platform_message(), Some("Unauthorized"));
        let crc = error(&reply(
            400,
            r#"{"errors":[{"code":214,"message":"Webhook URL does not meet the requirements. Invalid CRC token or json response format."}]}"#,
        ));
        assert_eq!(
            crc.to_string(),
            "X answered 400, code 214: Webhook URL does not meet the requirements. Invalid CRC token or json response format."
        );
        assert!(!crc.is_refused());
        let v2 = error(&reply(
            403,
            r#"{"title":"Unsupported Authentication","detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.","type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403}"#,
        ));
        assert_eq!(
            v2.platform_message(),
            Some("Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.")
        );
        assert!(!v2.is_refused());
        let oauth2 = error(&reply(400, r#"{"error":"invalid_token"}"#));
        assert!(oauth2.is_refused());
        let plain = error(&reply(
            401,
            "Error processing your OAuth request: Invalid oauth_verifier parameter",
        ));
        assert_eq!(
            plain.platform_message(),
            Some("Error processing your OAuth request: Invalid oauth_verifier parameter")
        );
        let redirect = error(&reply(302, ""));
        assert_eq!(
            redirect.platform_message(),
            Some("X answered with a redirect, which is not followed")
        );
        let outage = error(&reply(503, "<html>Over capacity</html>"));
        assert_eq!(
            outage.to_string(),
            "X answered 503: <html>Over capacity</html>"
        );
    }

    proptest::proptest! {
        #[test]
        fn no_answer_makes_reading_it_panic(
            status in 100u16..600,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            let reply = Reply { status: StatusCode::from_u16(status).unwrap(), body, truncated: false };
            let error = error(&reply);
            proptest::prop_assert!(error.platform_message().is_some_and(|m| m.chars().count() <= 300));
            let connect = connect();
            let _ = connect.form(&reply, "the access token");
            if let Ok(json) = connect.success(&reply, "the webhooks") {
                let _ = webhook(&json);
            }
        }
    }

    #[test]
    fn reads_webhooks_as_the_api_reference_gives_them() {
        let json: Value = serde_json::from_str(
            r#"{"created_at":"2026-11-22T12:00:00.000Z","id":"1146654567674912769","url":"https://care.example.com/webhooks/x","valid":true}"#,
        )
        .unwrap();
        assert_eq!(
            webhook(&json).unwrap(),
            Webhook {
                id: "1146654567674912769".into(),
                url: "https://care.example.com/webhooks/x".into(),
                valid: true,
            }
        );
        let incomplete: Value = serde_json::from_str(r#"{"id":"1","url":"u"}"#).unwrap();
        assert_eq!(
            webhook(&incomplete).unwrap_err().to_string(),
            "X answered a webhook without valid"
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let connect = connect();
        let user = XUserToken {
            token: "6253282-eWudHldSbIaelX7swmsiHImEL4KinwaGloHANdrY".into(),
            secret: "2EEfA6BG5ly3sR3XjE0IBSnlQu4ZrUzPiYTmrkVU".into(),
            user_id: "6253282".into(),
            screen_name: "twitterapi".into(),
        };
        let request = RequestToken {
            token: "rt".into(),
            secret: "rts-secret".into(),
        };
        let shown = format!(
            "{connect:?} {user:?} {request:?} {:?}",
            AppBearer("AAAA-bearer".into())
        );
        for secret in [
            "cs-very-secret",
            "eWudHldSbIaelX7swmsiHImEL4KinwaGloHANdrY",
            "2EEfA6BG5ly3sR3XjE0IBSnlQu4ZrUzPiYTmrkVU",
            "rts-secret",
            "AAAA-bearer",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("twitterapi"));
    }

    #[test]
    fn refuses_empty_keys_and_unusable_bases() {
        let endpoints = Endpoints::default();
        assert!(matches!(
            XConnect::new("", "s", &endpoints, Duration::from_secs(1)),
            Err(ConfigError::Empty { .. })
        ));
        assert!(matches!(
            XConnect::new("k", " ", &endpoints, Duration::from_secs(1)),
            Err(ConfigError::Empty { .. })
        ));
        let queried = Endpoints {
            x_api: "https://api.x.com/?x=1".into(),
            ..Endpoints::default()
        };
        assert!(matches!(
            XConnect::new("k", "s", &queried, Duration::from_secs(1)),
            Err(ConfigError::Address { .. })
        ));
    }
}
