//! Meta: Facebook Login (`{login}/{version}/dialog/oauth`, the code exchange and the
//! long-lived token at `GET /{version}/oauth/access_token`), the pages the brand's user
//! manages with their page tokens and linked Instagram accounts (`GET /me/accounts`), the
//! check of a page token (`GET /me`), and the page's webhook subscription
//! (`/{page-id}/subscribed_apps`). Every Graph call that carries an access token carries its
//! `appsecret_proof` too.

use super::{ConnectError, Reply, base_url, path_id, required, send, text, words};
use crate::credentials::ConfigError;
use crate::{Endpoints, client_builder, describe};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

const PLATFORM: &str = "Meta";

/// The page webhook fields socialcare needs: posts and comments on the page (`feed`),
/// Messenger conversations (`messages`), and mentions of the page (`mention`).
pub const SUBSCRIBED_FIELDS: [&str; 3] = ["feed", "messages", "mention"];

/// The permissions the login asks for: list the pages and their tokens, subscribe them to
/// webhooks, read and answer their comments and messages, and the same for their linked
/// Instagram accounts.
pub const LOGIN_SCOPES: [&str; 9] = [
    "pages_show_list",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_messaging",
    "business_management",
    "instagram_basic",
    "instagram_manage_comments",
    "instagram_manage_messages",
];

/// How many answers of `/me/accounts` are read at most, of [`ACCOUNTS_PER_ANSWER`] pages
/// each: a user who manages more pages sees the first thousand. (Fifty pages with their
/// tokens are some 20 KB, well within what is read of an answer.)
const MAX_ACCOUNT_ANSWERS: usize = 20;
const ACCOUNTS_PER_ANSWER: u32 = 50;

/// Meta error codes that mean the token was refused: invalid or expired access token (190),
/// session key invalid (102).
const REFUSED_CODES: [i64; 2] = [190, 102];

/// A user access token from Facebook Login; `expires_in` seconds from when it was given.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaUserToken {
    pub access_token: String,
    pub expires_in: Option<u64>,
}

impl fmt::Debug for MetaUserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaUserToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A Facebook page the user manages, with the page token that acts as the page, and the
/// Instagram professional account linked to it, if any.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPage {
    pub id: String,
    pub name: String,
    pub access_token: String,
    pub instagram: Option<InstagramAccount>,
}

impl fmt::Debug for ManagedPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedPage")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("access_token", &"<redacted>")
            .field("instagram", &self.instagram)
            .finish()
    }
}

/// An Instagram professional account linked to a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstagramAccount {
    pub id: String,
    pub username: String,
}

/// What a page token acts as, from `GET /me` with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIdentity {
    pub id: String,
    pub name: String,
}

/// Connects brands' Facebook pages and Instagram accounts to the Meta app.
pub struct MetaConnect {
    client: reqwest::Client,
    app_id: String,
    app_secret: String,
    graph: String,
    version: String,
    login: String,
    timeout: Duration,
}

impl fmt::Debug for MetaConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaConnect")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .field("graph", &self.graph)
            .field("version", &self.version)
            .field("login", &self.login)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl MetaConnect {
    /// The Graph API at `endpoints.meta_graph` and `endpoints.meta_version`; the login
    /// dialog at `https://www.facebook.com` until [`with_login_base`](Self::with_login_base)
    /// says otherwise.
    pub fn new(
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
        endpoints: &Endpoints,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let version = endpoints.meta_version.trim().trim_matches('/').to_string();
        if !is_version(&version) {
            return Err(ConfigError::Address {
                name: "Graph API version",
                url: endpoints.meta_version.clone(),
                reason: "it is not of the form v21.0".into(),
            });
        }
        let client = client_builder(timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(describe(e)))?;
        Ok(Self {
            client,
            app_id: required("the Meta app id", app_id.into())?,
            app_secret: required("the Meta app secret", app_secret.into())?,
            graph: base_url("Graph API", &endpoints.meta_graph)?,
            version,
            login: "https://www.facebook.com".into(),
            timeout,
        })
    }

    /// Where the login dialog is (`/{version}/dialog/oauth` below it).
    pub fn with_login_base(self, base: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            login: base_url("Facebook login dialog", base)?,
            ..self
        })
    }

    /// The login dialog to send the brand's user to. Meta sends them back to `redirect_uri`
    /// with `code` and the same `state` (or with `error` when they decline).
    pub fn login_url(&self, redirect_uri: &str, state: &str, scopes: &[&str]) -> String {
        let mut url = format!("{}/{}/dialog/oauth?", self.login, self.version);
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", &self.app_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state)
                .append_pair("response_type", "code")
                .append_pair("scope", &scopes.join(","))
                .finish(),
        );
        url
    }

    /// The user token for the `code` the dialog gave, with the same `redirect_uri` it was
    /// given to.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<MetaUserToken, ConnectError> {
        let params = [
            ("client_id", self.app_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_secret", self.app_secret.as_str()),
            ("code", code),
        ];
        self.token("oauth/access_token", &params, "the code").await
    }

    /// The long-lived user token (about 60 days) for a short-lived one.
    pub async fn long_lived(&self, user: &MetaUserToken) -> Result<MetaUserToken, ConnectError> {
        let params = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.app_secret.as_str()),
            ("fb_exchange_token", user.access_token.as_str()),
        ];
        self.token("oauth/access_token", &params, "the long-lived token")
            .await
    }

    /// The pages the user manages, with their tokens and linked Instagram accounts, every
    /// answer of the list followed (on the Graph API's own address only, and at most
    /// [`MAX_ACCOUNT_ANSWERS`] of them). A page without a token (the user may not act as it)
    /// is left out.
    pub async fn pages(&self, user: &MetaUserToken) -> Result<Vec<ManagedPage>, ConnectError> {
        let limit = ACCOUNTS_PER_ANSWER.to_string();
        let fields = "id,name,access_token,instagram_business_account{id,username}";
        let mut url = self.graph_url(
            "me/accounts",
            &user.access_token,
            &[("fields", fields), ("limit", limit.as_str())],
        )?;
        let mut pages = Vec::new();
        for answer in 1..=MAX_ACCOUNT_ANSWERS {
            let reply = self.send(self.client.get(url.clone())).await?;
            let json = self.success(&reply, "the pages")?;
            let Some(items) = json.get("data").and_then(Value::as_array) else {
                return Err(unexpected("answered the pages without a data list"));
            };
            pages.extend(items.iter().filter_map(managed_page));
            let Some(next) = text(&json, "/paging/next") else {
                return Ok(pages);
            };
            if answer == MAX_ACCOUNT_ANSWERS {
                tracing::warn!(
                    pages = pages.len(),
                    "the user manages more pages than are read; the rest are left out"
                );
                break;
            }
            url = self.next_url(next, &user.access_token)?;
        }
        Ok(pages)
    }

    /// What `page_token` acts as, asked of Meta with the token itself: it must be the page
    /// `page_id` (a user token, or another page's, is not believed).
    pub async fn verify_page(
        &self,
        page_id: &str,
        page_token: &str,
    ) -> Result<PageIdentity, ConnectError> {
        let page_id = path_id("the page", page_id)?;
        let url = self.graph_url("me", page_token, &[("fields", "id,name")])?;
        let reply = self.send(self.client.get(url)).await?;
        let json = self.success(&reply, "the page")?;
        let identity = PageIdentity {
            id: text(&json, "/id")
                .ok_or_else(|| unexpected("answered the page without its id"))?
                .to_string(),
            name: text(&json, "/name").unwrap_or_default().to_string(),
        };
        if identity.id != page_id {
            return Err(unexpected(&format!(
                "says the token acts as {}, not as page {page_id}",
                identity.id
            )));
        }
        Ok(identity)
    }

    /// Subscribes the app to the page's webhook fields [`SUBSCRIBED_FIELDS`].
    pub async fn subscribe_page(
        &self,
        page_id: &str,
        page_token: &str,
    ) -> Result<(), ConnectError> {
        let edge = format!("{}/subscribed_apps", path_id("the page", page_id)?);
        let fields = SUBSCRIBED_FIELDS.join(",");
        let url = self.graph_url(&edge, page_token, &[("subscribed_fields", fields.as_str())])?;
        let reply = self.send(self.client.post(url)).await?;
        let json = self.success(&reply, "the subscription")?;
        match json.get("success").and_then(Value::as_bool) {
            Some(true) => Ok(()),
            _ => Err(unexpected(
                "did not answer the subscription with success true",
            )),
        }
    }

    /// Whether the app is subscribed to every one of [`SUBSCRIBED_FIELDS`] of the page.
    pub async fn page_subscribed(
        &self,
        page_id: &str,
        page_token: &str,
    ) -> Result<bool, ConnectError> {
        let edge = format!("{}/subscribed_apps", path_id("the page", page_id)?);
        let url = self.graph_url(&edge, page_token, &[])?;
        let reply = self.send(self.client.get(url)).await?;
        let json = self.success(&reply, "the subscriptions")?;
        let Some(apps) = json.get("data").and_then(Value::as_array) else {
            return Err(unexpected("answered the subscriptions without a data list"));
        };
        let ours = apps
            .iter()
            .find(|app| text(app, "/id") == Some(self.app_id.as_str()));
        let fields: Vec<&str> = ours
            .and_then(|app| app.get("subscribed_fields"))
            .and_then(Value::as_array)
            .map(|fields| fields.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ok(SUBSCRIBED_FIELDS.iter().all(|field| fields.contains(field)))
    }
}

impl MetaConnect {
    /// A token endpoint's answer: `{"access_token", "token_type", "expires_in"}`.
    async fn token(
        &self,
        path: &str,
        params: &[(&str, &str)],
        what: &str,
    ) -> Result<MetaUserToken, ConnectError> {
        let address = format!("{}/{}/{path}", self.graph, self.version);
        let url = reqwest::Url::parse_with_params(&address, params)
            .map_err(|e| ConnectError::Invalid(format!("the Graph API address {address}: {e}")))?;
        let reply = self.send(self.client.get(url)).await?;
        let json = self.success(&reply, what)?;
        let access_token = text(&json, "/access_token")
            .ok_or_else(|| unexpected(&format!("answered {what} without an access_token")))?;
        Ok(MetaUserToken {
            access_token: access_token.to_string(),
            expires_in: json.get("expires_in").and_then(Value::as_u64),
        })
    }

    /// `{graph}/{version}/{path}?…&access_token=…&appsecret_proof=…`.
    fn graph_url(
        &self,
        path: &str,
        token: &str,
        params: &[(&str, &str)],
    ) -> Result<reqwest::Url, ConnectError> {
        let address = format!("{}/{}/{path}", self.graph, self.version);
        let mut url = reqwest::Url::parse_with_params(&address, params)
            .map_err(|e| ConnectError::Invalid(format!("the Graph API address {address}: {e}")))?;
        self.authorize(&mut url, token)?;
        Ok(url)
    }

    /// Sets the token and its proof on `url`, in place of any it had.
    fn authorize(&self, url: &mut reqwest::Url, token: &str) -> Result<(), ConnectError> {
        let proof = crate::meta::appsecret_proof(&self.app_secret, token)
            .map_err(|e| ConnectError::Invalid(e.to_string()))?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| name != "access_token" && name != "appsecret_proof")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("access_token", token)
            .append_pair("appsecret_proof", &proof);
        Ok(())
    }

    /// The `paging.next` of a list, when it is on the Graph API's own address: a next page
    /// elsewhere would be handed the token. (Meta's `next` names the token itself; it is set
    /// again here, with its proof.)
    fn next_url(&self, next: &str, token: &str) -> Result<reqwest::Url, ConnectError> {
        let mut url = reqwest::Url::parse(next)
            .map_err(|_| unexpected("answered a next page that is not a URL"))?;
        let graph = reqwest::Url::parse(&self.graph)
            .map_err(|e| ConnectError::Invalid(format!("the Graph API address: {e}")))?;
        if url.origin() != graph.origin() {
            let place = match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                (None, _) => "no host".to_string(),
            };
            return Err(unexpected(&format!(
                "answered a next page at another address ({} {place}, not the Graph API's); it was not followed",
                url.scheme()
            )));
        }
        url.set_fragment(None);
        self.authorize(&mut url, token)?;
        Ok(url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ConnectError> {
        send(PLATFORM, self.timeout, request).await
    }

    /// The success body as JSON, or Meta's error.
    fn success(&self, reply: &Reply, what: &str) -> Result<Value, ConnectError> {
        match reply.status.is_success() {
            true => reply.success_json(PLATFORM, what),
            false => Err(error(reply)),
        }
    }
}

/// `v21.0`.
fn is_version(version: &str) -> bool {
    let Some(number) = version.strip_prefix('v') else {
        return false;
    };
    let mut parts = number.split('.');
    let digits = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

fn unexpected(message: &str) -> ConnectError {
    ConnectError::Unexpected {
        platform: PLATFORM,
        message: message.to_string(),
    }
}

/// One entry of `/me/accounts`, when it has what acting as the page needs.
fn managed_page(json: &Value) -> Option<ManagedPage> {
    let id = text(json, "/id").filter(|id| crate::is_platform_id(id))?;
    let Some(access_token) = text(json, "/access_token") else {
        tracing::debug!(page = id, "a page without a page token is left out");
        return None;
    };
    let instagram = json.get("instagram_business_account").and_then(|account| {
        Some(InstagramAccount {
            id: text(account, "/id")?.to_string(),
            username: text(account, "/username").unwrap_or_default().to_string(),
        })
    });
    Some(ManagedPage {
        id: id.to_string(),
        name: text(json, "/name").unwrap_or_default().to_string(),
        access_token: access_token.to_string(),
        instagram,
    })
}

/// Meta's error, in its words: `error.message` (else the body itself).
fn error(reply: &Reply) -> ConnectError {
    let status = reply.status.as_u16();
    let json = reply.json();
    let code = json
        .as_ref()
        .and_then(|json| json.pointer("/error/code")?.as_i64());
    let message = json
        .as_ref()
        .and_then(|json| text(json, "/error/message"))
        .map(words)
        .unwrap_or_else(|| match reply.status.is_redirection() {
            true => "Meta answered with a redirect, which is not followed".to_string(),
            false => reply.excerpt(),
        });
    let refused = status == 401 || code.is_some_and(|code| REFUSED_CODES.contains(&code));
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn connect() -> MetaConnect {
        MetaConnect::new(
            "1234567890",
            "app-secret-value",
            &Endpoints::default(),
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
    fn the_login_dialog_names_the_app_the_return_the_state_and_the_scopes() {
        let url = connect().login_url(
            "https://care.example.com/console/connect/meta?x=1",
            "st&te=1",
            &["pages_show_list", "pages_messaging"],
        );
        assert_eq!(
            url,
            "https://www.facebook.com/v21.0/dialog/oauth?client_id=1234567890\
             &redirect_uri=https%3A%2F%2Fcare.example.com%2Fconsole%2Fconnect%2Fmeta%3Fx%3D1\
             &state=st%26te%3D1&response_type=code&scope=pages_show_list%2Cpages_messaging"
        );
        let local = connect().with_login_base("http://127.0.0.1:9000/").unwrap();
        assert!(
            local
                .login_url("r", "s", &LOGIN_SCOPES)
                .starts_with("http://127.0.0.1:9000/v21.0/dialog/oauth?client_id=1234567890&")
        );
    }

    #[test]
    fn every_graph_call_carries_the_token_and_its_proof() {
        let connect = connect();
        let url = connect
            .graph_url("me/accounts", "user-token", &[("fields", "id,name")])
            .unwrap();
        let proof = crate::meta::appsecret_proof("app-secret-value", "user-token").unwrap();
        assert_eq!(
            url.as_str(),
            format!(
                "https://graph.facebook.com/v21.0/me/accounts?fields=id%2Cname&access_token=user-token&appsecret_proof={proof}"
            )
        );
    }

    #[test]
    fn follows_a_next_page_only_on_the_graph_apis_address() {
        let connect = connect();
        let next = connect
            .next_url(
                "https://graph.facebook.com/v21.0/me/accounts?access_token=old&limit=100&after=QVFI#x",
                "user-token",
            )
            .unwrap();
        let pairs: Vec<(String, String)> = next.query_pairs().into_owned().collect();
        let proof = crate::meta::appsecret_proof("app-secret-value", "user-token").unwrap();
        assert_eq!(
            pairs,
            [
                ("limit".to_string(), "100".to_string()),
                ("after".to_string(), "QVFI".to_string()),
                ("access_token".to_string(), "user-token".to_string()),
                ("appsecret_proof".to_string(), proof),
            ]
        );
        assert_eq!(next.fragment(), None);
        for elsewhere in [
            "https://graph.evil.example/v21.0/me/accounts?after=1",
            "http://graph.facebook.com/v21.0/me/accounts?after=1",
            "https://graph.facebook.com:8443/v21.0/me/accounts?after=1",
        ] {
            let error = connect.next_url(elsewhere, "user-token").unwrap_err();
            assert!(
                error.to_string().contains("it was not followed"),
                "{elsewhere}: {error}"
            );
            assert!(!error.to_string().contains("user-token"));
        }
        assert!(connect.next_url("not a url", "t").is_err());
    }

    #[test]
    fn reads_managed_pages_and_their_instagram_accounts() {
        let json: Value = serde_json::from_str(
            r#"{"data":[
                {"id":"104000000000001","name":"Acme Care","access_token":"EAAP1","instagram_business_account":{"id":"17841400000000001","username":"acme.care"}},
                {"id":"104000000000002","name":"Acme Outlet","access_token":"EAAP2"},
                {"id":"104000000000003","name":"No token"},
                {"id":"1/2","name":"Not an id","access_token":"EAAP4"}
            ]}"#,
        )
        .unwrap();
        let pages: Vec<ManagedPage> = json["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(managed_page)
            .collect();
        assert_eq!(
            pages,
            [
                ManagedPage {
                    id: "104000000000001".into(),
                    name: "Acme Care".into(),
                    access_token: "EAAP1".into(),
                    instagram: Some(InstagramAccount {
                        id: "17841400000000001".into(),
                        username: "acme.care".into(),
                    }),
                },
                ManagedPage {
                    id: "104000000000002".into(),
                    name: "Acme Outlet".into(),
                    access_token: "EAAP2".into(),
                    instagram: None,
                },
            ]
        );
    }

    #[test]
    fn metas_errors_are_told_in_its_words() {
        let expired = error(&reply(
            400,
            r#"{"error":{"message":"Error validating access token: Session has expired on Sunday, 22-Nov-26 12:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"A1"}}"#,
        ));
        assert!(expired.is_refused());
        assert_eq!(expired.platform_code(), Some(190));
        assert_eq!(
            expired.to_string(),
            "Meta refused the credentials (400, code 190): Error validating access token: Session has expired on Sunday, 22-Nov-26 12:00:00 PST."
        );
        let used = error(&reply(
            400,
            r#"{"error":{"message":"This authorization code has been used.","type":"OAuthException","code":100,"error_subcode":36009}}"#,
        ));
        assert_eq!(
            used,
            ConnectError::Failed {
                platform: "Meta",
                status: 400,
                code: Some(100),
                message: "This authorization code has been used.".into(),
            }
        );
        let page_token = error(&reply(
            403,
            r#"{"error":{"message":"(#210) A page access token is required to request this resource.","type":"OAuthException","code":210}}"#,
        ));
        assert!(!page_token.is_refused());
        let gateway = error(&reply(502, ""));
        assert_eq!(gateway.platform_message(), Some("HTTP 502 Bad Gateway"));
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
            if let Some(json) = reply.json() {
                let _ = managed_page(&json);
                let _ = connect().success(&reply, "the pages");
            }
        }

        #[test]
        fn metas_words_reach_the_caller_whatever_they_are(
            message in "[a-zA-Z0-9 #().,:'-]{1,80}",
            code in proptest::prelude::any::<i32>(),
        ) {
            let message = message.trim().to_string();
            proptest::prop_assume!(!message.is_empty());
            let body = serde_json::json!({ "error": { "message": message, "type": "OAuthException", "code": code } });
            let error = error(&reply(400, &body.to_string()));
            proptest::prop_assert_eq!(error.platform_message(), Some(message.as_str()));
            proptest::prop_assert_eq!(error.is_refused(), code == 190 || code == 102);
        }
    }

    #[test]
    fn versions_are_checked() {
        assert!(is_version("v21.0"));
        for bad in ["21.0", "v21", "v21.", "v.0", "v21.0.1", "va.b", ""] {
            assert!(!is_version(bad), "{bad}");
        }
        let odd = Endpoints {
            meta_version: "latest".into(),
            ..Endpoints::default()
        };
        assert!(matches!(
            MetaConnect::new("1", "s", &odd, Duration::from_secs(1)),
            Err(ConfigError::Address { .. })
        ));
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let page = ManagedPage {
            id: "1".into(),
            name: "Acme".into(),
            access_token: "EAAPageToken".into(),
            instagram: None,
        };
        let user = MetaUserToken {
            access_token: "EAAUserToken".into(),
            expires_in: Some(5183944),
        };
        let shown = format!("{:?} {page:?} {user:?}", connect());
        for secret in ["app-secret-value", "EAAPageToken", "EAAUserToken"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("5183944"));
    }
}
