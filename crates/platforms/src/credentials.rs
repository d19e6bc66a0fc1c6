//! The platform credentials: the X app and the brand accounts it acts for, the Meta app and
//! the pages (and Instagram accounts) it acts for. Stored as TOML in one secret on AWS and in
//! a file locally.

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;

/// Why the credentials could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, or not of the expected shape (an unknown or missing field). Only the parser's
    /// message and the place are kept: the line itself may hold a secret.
    #[error(
        "the platform credentials are not valid TOML of the expected shape (line {line}): {message}"
    )]
    Invalid { line: usize, message: String },
    #[error("the platform credentials leave {field} empty")]
    Empty { field: String },
    #[error("the platform credentials list {section} id {id} twice")]
    Duplicate { section: &'static str, id: String },
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
    /// A platform address that cannot be used as the base of its API's URLs.
    #[error("the {name} address {url:?} cannot be used: {reason}")]
    Address {
        name: &'static str,
        url: String,
        reason: String,
    },
}

/// Everything needed to post as the brands. Either section may be left out when socialcare
/// does not serve that platform.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default)]
    pub x: Option<XCredentials>,
    #[serde(default)]
    pub meta: Option<MetaCredentials>,
}

/// The X app (its consumer key) and the brand accounts that authorized it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XCredentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    #[serde(default)]
    pub accounts: Vec<XAccount>,
}

/// A brand's X account: its user id and the access token it granted the app.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XAccount {
    pub id: String,
    pub access_token: String,
    pub access_token_secret: String,
}

/// The Meta app (its secret signs every call) and the pages it posts as.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaCredentials {
    pub app_secret: String,
    #[serde(default)]
    pub pages: Vec<MetaPage>,
}

/// A Facebook page or Instagram account and its page access token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaPage {
    pub id: String,
    pub access_token: String,
}

impl Credentials {
    /// Reads and checks the TOML document.
    pub fn parse(toml_text: &str) -> Result<Self, ConfigError> {
        let credentials: Credentials = toml::from_str(toml_text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let line = toml_text
                .get(..offset)
                .map_or(1, |before| before.matches('\n').count() + 1);
            ConfigError::Invalid {
                line,
                message: e.message().trim().to_string(),
            }
        })?;
        credentials.check()?;
        Ok(credentials)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(x) = &self.x {
            non_empty("x.consumer_key", &x.consumer_key)?;
            non_empty("x.consumer_secret", &x.consumer_secret)?;
            let mut seen = HashSet::new();
            for account in &x.accounts {
                non_empty("an x.accounts id", &account.id)?;
                let field = |name| format!("{name} of X account {}", account.id);
                non_empty(&field("access_token"), &account.access_token)?;
                non_empty(&field("access_token_secret"), &account.access_token_secret)?;
                unique(&mut seen, "x.accounts", &account.id)?;
            }
        }
        if let Some(meta) = &self.meta {
            non_empty("meta.app_secret", &meta.app_secret)?;
            let mut seen = HashSet::new();
            for page in &meta.pages {
                non_empty("a meta.pages id", &page.id)?;
                let field = format!("access_token of Meta page {}", page.id);
                non_empty(&field, &page.access_token)?;
                unique(&mut seen, "meta.pages", &page.id)?;
            }
        }
        Ok(())
    }

    /// The app credentials and the account's token, when both are configured.
    pub fn x_account(&self, id: &str) -> Option<(&XCredentials, &XAccount)> {
        let x = self.x.as_ref()?;
        x.accounts
            .iter()
            .find(|account| account.id == id)
            .map(|account| (x, account))
    }

    /// The app secret and the page's token, when both are configured.
    pub fn meta_page(&self, id: &str) -> Option<(&MetaCredentials, &MetaPage)> {
        let meta = self.meta.as_ref()?;
        meta.pages
            .iter()
            .find(|page| page.id == id)
            .map(|page| (meta, page))
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), ConfigError> {
    match value.trim().is_empty() {
        true => Err(ConfigError::Empty {
            field: field.to_string(),
        }),
        false => Ok(()),
    }
}

fn unique<'a>(
    seen: &mut HashSet<&'a str>,
    section: &'static str,
    id: &'a str,
) -> Result<(), ConfigError> {
    match seen.insert(id) {
        true => Ok(()),
        false => Err(ConfigError::Duplicate {
            section,
            id: id.to_string(),
        }),
    }
}

// The Debug impls show which accounts are configured and never a key, secret or token: the
// credentials end up in logs through the types that hold them.
const REDACTED: &str = "<redacted>";

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("x", &self.x)
            .field("meta", &self.meta)
            .finish()
    }
}

impl fmt::Debug for XCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XCredentials")
            .field("consumer_key", &REDACTED)
            .field("consumer_secret", &REDACTED)
            .field("accounts", &self.accounts)
            .finish()
    }
}

impl fmt::Debug for XAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XAccount")
            .field("id", &self.id)
            .field("access_token", &REDACTED)
            .field("access_token_secret", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for MetaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaCredentials")
            .field("app_secret", &REDACTED)
            .field("pages", &self.pages)
            .finish()
    }
}

impl fmt::Debug for MetaPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaPage")
            .field("id", &self.id)
            .field("access_token", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[x]
consumer_key = "ck-secret"
consumer_secret = "cs-secret"
[[x.accounts]]
id = "1234"
access_token = "at-secret"
access_token_secret = "ats-secret"

[meta]
app_secret = "app-secret"
[[meta.pages]]
id = "5678"
access_token = "page-secret"
"#;

    #[test]
    fn parses_both_sections_and_finds_accounts() {
        let credentials = Credentials::parse(FULL).unwrap();
        let (app, account) = credentials.x_account("1234").unwrap();
        assert_eq!(app.consumer_key, "ck-secret");
        assert_eq!(account.access_token_secret, "ats-secret");
        let (meta, page) = credentials.meta_page("5678").unwrap();
        assert_eq!(meta.app_secret, "app-secret");
        assert_eq!(page.access_token, "page-secret");
        assert!(credentials.x_account("5678").is_none());
        assert!(credentials.meta_page("1234").is_none());
    }

    #[test]
    fn either_section_may_be_left_out() {
        let credentials = Credentials::parse("[meta]\napp_secret = \"s\"\n").unwrap();
        assert!(credentials.x.is_none());
        assert!(credentials.x_account("1234").is_none());
        assert_eq!(Credentials::parse("").unwrap(), Credentials::default());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let shown = format!("{:?}", Credentials::parse(FULL).unwrap());
        assert!(!shown.contains("secret\""), "{shown}");
        assert!(shown.contains("1234") && shown.contains("5678"), "{shown}");
        assert!(shown.contains(REDACTED), "{shown}");
    }

    #[test]
    fn rejects_unknown_fields_naming_them_and_the_line() {
        let text = "[x]\nconsumer_key = \"a\"\nconsumer_secret = \"b\"\nconsumer_sekret = \"c\"\n";
        match Credentials::parse(text) {
            Err(ConfigError::Invalid { line, message }) => {
                assert_eq!(line, 4);
                assert!(message.contains("consumer_sekret"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let error = Credentials::parse("[linkedin]\nid = \"1\"\n").unwrap_err();
        assert!(error.to_string().contains("linkedin"), "{error}");
    }

    #[test]
    fn invalid_errors_do_not_echo_the_line() {
        // A missing quote: the parser would quote the line, secret and all.
        let error = Credentials::parse("[meta]\napp_secret = \"hunter2\n").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn rejects_missing_and_empty_fields() {
        let error =
            Credentials::parse("[meta]\n[[meta.pages]]\nid = \"1\"\naccess_token = \"t\"\n")
                .unwrap_err();
        assert!(error.to_string().contains("app_secret"), "{error}");
        let error = Credentials::parse(
            "[meta]\napp_secret = \"s\"\n[[meta.pages]]\nid = \"1\"\naccess_token = \" \"\n",
        )
        .unwrap_err();
        assert_eq!(
            error,
            ConfigError::Empty {
                field: "access_token of Meta page 1".into()
            }
        );
    }

    #[test]
    fn rejects_an_account_listed_twice() {
        let account =
            "[[x.accounts]]\nid = \"1\"\naccess_token = \"a\"\naccess_token_secret = \"b\"\n";
        let text =
            format!("[x]\nconsumer_key = \"k\"\nconsumer_secret = \"s\"\n{account}{account}");
        assert_eq!(
            Credentials::parse(&text).unwrap_err(),
            ConfigError::Duplicate {
                section: "x.accounts",
                id: "1".into()
            }
        );
    }
}
