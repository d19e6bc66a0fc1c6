//! The brand accounts a deployment serves: which X user ids, Facebook pages and Instagram
//! accounts it receives webhooks for, with their settings, and the teams. One document, kept
//! versioned in the store and changed through the admin API and the console
//! ([`crate::configuration`]); the same document as TOML (a file for the local runner,
//! `SOCIALCARE_CONFIG`, or the `AccountsConfig` secret on AWS) is imported once, into a store
//! that has none yet:
//!
//! ```toml
//! [[accounts]]
//! platform = "x"                 # x | facebook | instagram | email
//! id = "1100000000000000001"     # X user id, Facebook page id, Instagram account id, mailbox
//! handle = "acme_care"
//! name = "Acme Care"
//!
//! [[teams]]
//! name = "support"
//! members = ["sally", "tim"]     # agents, by the names of their API keys
//! lead = "sally"
//! ```
//!
//! Each account acknowledges new public complaints unless told otherwise:
//!
//! ```toml
//! [accounts.acknowledgement]     # belongs to the [[accounts]] entry above it
//! enabled = true                 # the default
//! language = "en"                # the text used when there is none in the customer's language
//! texts = { en = "Thanks {{customer.name}}, we're on it.", es = "Gracias {{customer.name}}, ya lo estamos viendo." }
//! ```
//!
//! Triage and spike detection, with their defaults:
//!
//! ```toml
//! [accounts.triage]
//! high_reach_followers = 10000   # one priority level up from this many followers
//! negative = -0.5                # a complaint this negative (VADER compound) is at least high
//! praise = 0.5                   # this positive, with thanks, is praise
//! extra_urgent_terms = []        # the account's own urgent words (a product name in an outage)
//!
//! [accounts.spikes]
//! enabled = true
//! window_minutes = 10            # counting window
//! baseline_windows = 12          # the windows before it that make the baseline
//! factor = 4.0                   # a spike is this many times the baseline...
//! floor = 20                     # ...and at least this many new complaints in the window
//! ignore_terms = []              # words never a topic: your brand and product names
//! ```
//!
//! `answer_praise_and_noise = true` in an `[[accounts]]` entry opens praise and noise as tickets
//! that need an answer (by default they are stored, closed).
//!
//! What an X account hears without being addressed: its search queries, in X's own syntax,
//! polled by the scheduler through recent search (complaints and questions become tickets;
//! praise and noise are counted on the account's page, unless `answer_praise_and_noise`):
//!
//! ```toml
//! [accounts.listening]
//! queries = ["acme -from:acme_care -is:retweet", "\"acme fibre\" lang:en"]   # at most 10
//! every_minutes = 5              # the default
//! ```
//!
//! `link_same_email = true` in an `[[accounts]]` entry merges, as its messages come, two
//! customers who write from the same verified e-mail address (an authenticated e-mail, an
//! integrator's customer with `email_verified`); by default they are suggested as one person
//! on their tickets, like two who gave the same phone or order number.
//!
//! `retention_days = 90` in an `[[accounts]]` entry deletes each closed ticket of the account,
//! with its messages and trail, 90 days after it was resolved (the scheduler's hourly purge);
//! without it, tickets are kept.
//!
//! How fast an incident's status update may post replies for the account: at most `posts` in
//! any `per_seconds` (defaults: X 100 per 900 s, the Pro tier's limit for posts; Facebook and
//! Instagram 200 per 3600 s; integrations 600 per 60 s). Set it to your API tier's limit, or
//! lower to leave room for the agents' own replies:
//!
//! ```toml
//! [accounts.pace]
//! posts = 100
//! per_seconds = 900
//! ```

use serde::{Deserialize, Serialize};
use socialcare_domain::Source;
use socialcare_domain::acknowledgement::{Acknowledgement, AcknowledgementError, Acknowledgements};
use socialcare_domain::incidents::SpikeRules;
use socialcare_domain::listening::{AccountSearches, Listening, ListeningError};
use socialcare_domain::ownership::{Team, Teams};
use socialcare_domain::retention::Retention;
use socialcare_domain::threading::Rules;
use socialcare_domain::triage::TriageRules;
use socialcare_domain::updates::Pace;
use std::collections::{BTreeMap, HashMap};

/// A brand account and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub platform: Platform,
    /// The X user id, Facebook page id or Instagram account id.
    pub id: String,
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub acknowledgement: AcknowledgementConfig,
    /// How new complaints are triaged (the defaults when left out).
    #[serde(default)]
    pub triage: TriageRules,
    /// Whether praise and noise open tickets that need an answer, like complaints.
    #[serde(default)]
    pub answer_praise_and_noise: bool,
    /// How spikes of complaints are detected (the defaults when left out).
    #[serde(default)]
    pub spikes: SpikeRules,
    /// How fast incident updates may post (the platform's default when left out).
    #[serde(default)]
    pub pace: Option<Pace>,
    /// Days a closed ticket is kept after it was resolved (then it is deleted with its
    /// messages and trail); kept for good when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// What the account hears without being addressed: its search queries (X accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening: Option<Listening>,
    /// Whether a message to the account merges its customer with another who writes from the
    /// same verified e-mail address (by default such customers are only suggested as one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_same_email: bool,
}

/// How an account acknowledges new public complaints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementConfig {
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub language: Option<String>,
    #[serde(default)]
    pub texts: BTreeMap<String, String>,
}

fn enabled() -> bool {
    true
}

impl Default for AcknowledgementConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            language: None,
            texts: BTreeMap::new(),
        }
    }
}

impl AcknowledgementConfig {
    /// What the account says; the built-in English text when it gives none.
    fn acknowledgement(&self) -> Acknowledgement {
        match self.texts.is_empty() {
            true => Acknowledgement::default(),
            false => Acknowledgement {
                language: self
                    .language
                    .clone()
                    .or_else(|| self.texts.keys().next().cloned())
                    .unwrap_or_else(|| "en".into()),
                texts: self.texts.clone(),
            },
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    X,
    Facebook,
    Instagram,
    /// A mailbox: its address is the account's id.
    Email,
}

impl Platform {
    /// The platform of a path segment: `x`, `facebook` or `instagram`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "x" => Some(Platform::X),
            "facebook" => Some(Platform::Facebook),
            "instagram" => Some(Platform::Instagram),
            "email" => Some(Platform::Email),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.source().as_str()
    }

    pub fn source(self) -> Source {
        match self {
            Platform::X => Source::X,
            Platform::Facebook => Source::Facebook,
            Platform::Instagram => Source::Instagram,
            Platform::Email => Source::Email,
        }
    }
}

/// The whole document: the accounts and the teams, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountsDocument {
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub teams: Vec<Team>,
}

impl AccountsDocument {
    /// The account's place in the list.
    pub fn account(&self, platform: Platform, id: &str) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.platform == platform && a.id == id)
    }

    /// The team's place in the list.
    pub fn team(&self, name: &str) -> Option<usize> {
        self.teams.iter().position(|t| t.name == name)
    }
}

/// Why the accounts document is refused; the message names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{section} configuration: {error}")]
    Syntax {
        section: &'static str,
        error: toml::de::Error,
    },
    #[error("teams configuration: team {0:?} needs a name and members")]
    IncompleteTeam(String),
    #[error("teams configuration: team {0:?}: escalation_url must be an https:// URL")]
    EscalationUrl(String),
    #[error("teams configuration: team {team:?} escalates to {next:?}, which is not a team")]
    UnknownEscalation { team: String, next: String },
    #[error("accounts configuration: an account has an empty id")]
    EmptyId,
    #[error(
        "accounts configuration: email account {0:?}: the id is the mailbox's address, in lowercase (support@acme.example)"
    )]
    Mailbox(String),
    #[error("accounts configuration: {platform:?} account {id} is listed twice")]
    ListedTwice { platform: Platform, id: String },
    #[error("accounts configuration: acknowledgement of {platform:?} account {id}: {error}")]
    Acknowledgement {
        platform: Platform,
        id: String,
        error: AcknowledgementError,
    },
    #[error("accounts configuration: triage of {platform:?} account {id}: {error}")]
    Triage {
        platform: Platform,
        id: String,
        error: &'static str,
    },
    #[error("accounts configuration: spikes of {platform:?} account {id}: {error}")]
    Spikes {
        platform: Platform,
        id: String,
        error: &'static str,
    },
    #[error(
        "accounts configuration: retention_days of {platform:?} account {id} must be 1 to 36500"
    )]
    Retention { platform: Platform, id: String },
    #[error("accounts configuration: pace of {platform:?} account {id}: {error}")]
    Pace {
        platform: Platform,
        id: String,
        error: &'static str,
    },
    #[error("accounts configuration: {platform:?} account {id}: {error}")]
    Listening {
        platform: Platform,
        id: String,
        error: ListeningError,
    },
    #[error(
        "accounts configuration: {platform:?} account {id}: listening queries are for X accounts (a search of X, with its operators) and Instagram accounts (hashtags)"
    )]
    ListeningPlatform { platform: Platform, id: String },
}

fn document(text: &str, section: &'static str) -> Result<AccountsDocument, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Syntax { section, error })
}

/// The whole document, checked: the accounts (whose webhooks are ours) and the rules they
/// set (teams, acknowledgements, triage, spikes, paces), with the document they came from.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub accounts: Accounts,
    pub rules: Rules,
    /// How long each account keeps its closed tickets.
    pub retention: Retention,
    /// What each account listens for, with what decides which results are ticketed.
    pub searches: Vec<AccountSearches>,
    pub document: AccountsDocument,
}

impl Configuration {
    /// The TOML document, checked whole.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::of(document(text, "accounts")?)
    }

    /// The document, checked whole: the same checks, and messages, whichever way it came.
    pub fn of(document: AccountsDocument) -> Result<Self, ConfigError> {
        let teams = teams_of(document.teams.clone())?;
        let accounts = Accounts::of(document.accounts.clone())?;
        let rules = rules_of(teams, &accounts)?;
        let retention = retention_of(&accounts)?;
        let searches = searches_of(&accounts)?;
        Ok(Self {
            accounts,
            rules,
            retention,
            searches,
            document,
        })
    }
}

fn searches_of(accounts: &Accounts) -> Result<Vec<AccountSearches>, ConfigError> {
    let mut searches = Vec::new();
    let mut listening: Vec<&Account> = accounts
        .by_id
        .values()
        .filter(|account| account.listening.is_some())
        .collect();
    listening.sort_by(|a, b| a.id.cmp(&b.id));
    for account in listening {
        let Some(listens) = &account.listening else {
            continue;
        };
        let (platform, id) = (account.platform, account.id.clone());
        // X searches with its own operators; Instagram by hashtag.
        let checked = match platform {
            Platform::X => listens.check(),
            Platform::Instagram => listens.check_hashtags(),
            _ => return Err(ConfigError::ListeningPlatform { platform, id }),
        };
        checked.map_err(|error| ConfigError::Listening {
            platform,
            id: id.clone(),
            error,
        })?;
        if listens.queries.is_empty() {
            continue;
        }
        searches.push(AccountSearches {
            source: platform.source(),
            account: id,
            listening: listens.clone(),
            triage: account.triage.clone(),
            ticket_everything: account.answer_praise_and_noise,
        });
    }
    Ok(searches)
}

fn retention_of(accounts: &Accounts) -> Result<Retention, ConfigError> {
    let mut retention = Retention::default();
    for account in accounts.by_id.values() {
        match account.retention_days {
            None => {}
            Some(days) if days == 0 || days > socialcare_domain::retention::MOST_DAYS => {
                return Err(ConfigError::Retention {
                    platform: account.platform,
                    id: account.id.clone(),
                });
            }
            Some(days) => retention.keep(account.platform.source(), &account.id, days),
        }
    }
    Ok(retention)
}

/// The teams of the same document.
pub fn parse_teams(text: &str) -> Result<Teams, ConfigError> {
    teams_of(document(text, "teams")?.teams)
}

fn teams_of(teams: Vec<Team>) -> Result<Teams, ConfigError> {
    for team in &teams {
        if team.name.trim().is_empty() || team.members.is_empty() {
            return Err(ConfigError::IncompleteTeam(team.name.clone()));
        }
        if let Some(url) = &team.escalation_url
            && !socialcare_domain::sla::is_https(url)
        {
            return Err(ConfigError::EscalationUrl(team.name.clone()));
        }
        if let Some(next) = &team.escalates_to
            && !teams.iter().any(|t| &t.name == next)
        {
            return Err(ConfigError::UnknownEscalation {
                team: team.name.clone(),
                next: next.clone(),
            });
        }
    }
    Ok(Teams::new(teams))
}

/// Threading, ownership and acknowledgement rules of the accounts.
fn rules_of(teams: Teams, accounts: &Accounts) -> Result<Rules, ConfigError> {
    let mut acknowledgements = Acknowledgements::default();
    for account in accounts.by_id.values() {
        if !account.acknowledgement.enabled {
            continue;
        }
        let acknowledgement = account.acknowledgement.acknowledgement();
        acknowledgement
            .check()
            .map_err(|error| ConfigError::Acknowledgement {
                platform: account.platform,
                id: account.id.clone(),
                error,
            })?;
        acknowledgements.insert(account.platform.source(), &account.id, acknowledgement);
    }
    let mut rules = Rules {
        teams,
        acknowledgements,
        ..Rules::default()
    };
    for account in accounts.by_id.values() {
        account
            .triage
            .check()
            .map_err(|error| ConfigError::Triage {
                platform: account.platform,
                id: account.id.clone(),
                error,
            })?;
        account
            .spikes
            .check()
            .map_err(|error| ConfigError::Spikes {
                platform: account.platform,
                id: account.id.clone(),
                error,
            })?;
        let id = account.id.clone();
        if let Some(pace) = account.pace {
            pace.check().map_err(|error| ConfigError::Pace {
                platform: account.platform,
                id: account.id.clone(),
                error,
            })?;
            rules.paces.0.insert(id.clone(), pace);
        }
        rules.triage.insert(id.clone(), account.triage.clone());
        rules
            .spikes
            .by_account
            .insert(id.clone(), account.spikes.clone());
        if account.link_same_email {
            rules.link_same_email.insert(id.clone());
        }
        if account.platform == Platform::Email {
            rules.mailboxes.insert(id.clone());
        }
        if account.answer_praise_and_noise {
            rules.answer_everything.insert(id);
        }
    }
    Ok(rules)
}

/// An address as mailboxes are matched: one plain address, in lowercase (as mail is read).
fn is_mailbox(id: &str) -> bool {
    socialcare_webhooks::email::is_address(id) && id.to_lowercase() == id
}

/// The configured accounts, looked up by (source, platform id).
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    by_id: HashMap<(Source, String), Account>,
}

impl Accounts {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::of(document(text, "accounts")?.accounts)
    }

    fn of(entries: Vec<Account>) -> Result<Self, ConfigError> {
        let mut by_id = HashMap::new();
        for account in entries {
            if account.id.trim().is_empty() {
                return Err(ConfigError::EmptyId);
            }
            if account.platform == Platform::Email && !is_mailbox(&account.id) {
                return Err(ConfigError::Mailbox(account.id));
            }
            let key = (account.platform.source(), account.id.clone());
            if by_id.insert(key, account.clone()).is_some() {
                return Err(ConfigError::ListedTwice {
                    platform: account.platform,
                    id: account.id,
                });
            }
        }
        Ok(Self { by_id })
    }

    pub fn get(&self, source: Source, id: &str) -> Option<&Account> {
        self.by_id.get(&(source, id.to_string()))
    }

    /// Every account, by platform and id.
    pub fn all(&self) -> Vec<&Account> {
        let mut all: Vec<&Account> = self.by_id.values().collect();
        all.sort_by(|a, b| {
            (a.platform.source().as_str(), &a.id).cmp(&(b.platform.source().as_str(), &b.id))
        });
        all
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn parse_rules(text: &str) -> Result<Rules, String> {
        Configuration::parse(text)
            .map(|configuration| configuration.rules)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_accounts_of_every_platform() {
        let accounts = Accounts::parse(
            r#"
            [[accounts]]
            platform = "x"
            id = "1100000000000000001"
            handle = "acme_care"
            name = "Acme Care"

            [[accounts]]
            platform = "facebook"
            id = "1234567890321"

            [[accounts]]
            platform = "instagram"
            id = "17841452691600098"
            handle = "acme"
            "#,
        )
        .unwrap();
        assert_eq!(accounts.len(), 3);
        let x = accounts.get(Source::X, "1100000000000000001").unwrap();
        assert_eq!(x.handle.as_deref(), Some("acme_care"));
        assert_eq!(x.name.as_deref(), Some("Acme Care"));
        assert!(accounts.get(Source::Facebook, "1234567890321").is_some());
        assert!(
            accounts
                .get(Source::Instagram, "17841452691600098")
                .is_some()
        );
        // the same id on another platform is another account
        assert!(
            accounts
                .get(Source::Facebook, "1100000000000000001")
                .is_none()
        );
    }

    #[test]
    fn reads_teams_beside_the_accounts() {
        let teams = parse_teams(
            "[[teams]]\nname = \"support\"\nmembers = [\"sally\", \"tim\"]\nlead = \"sally\"",
        )
        .unwrap();
        let support = teams.get("support").unwrap();
        assert_eq!(support.members, ["sally", "tim"]);
        assert_eq!(support.lead.as_deref(), Some("sally"));
        assert_eq!(teams.of_member("tim").unwrap().name, "support");
        assert!(parse_teams("[[teams]]\nname = \"empty\"\nmembers = []").is_err());
        assert_eq!(parse_teams("").unwrap(), Teams::default());
    }

    #[test]
    fn accounts_acknowledge_unless_told_not_to() {
        let rules = parse_rules(
            r#"
            [[accounts]]
            platform = "x"
            id = "1"

            [[accounts]]
            platform = "facebook"
            id = "2"
            [accounts.acknowledgement]
            language = "es"
            texts = { es = "Gracias {{customer.name}}", en = "Thanks {{customer.name}}" }

            [[accounts]]
            platform = "instagram"
            id = "3"
            [accounts.acknowledgement]
            enabled = false
            "#,
        )
        .unwrap();
        let mut expected = Acknowledgements::default();
        expected.insert(Source::X, "1", Acknowledgement::default());
        expected.insert(
            Source::Facebook,
            "2",
            Acknowledgement {
                language: "es".into(),
                texts: BTreeMap::from([
                    ("en".to_string(), "Thanks {{customer.name}}".to_string()),
                    ("es".to_string(), "Gracias {{customer.name}}".to_string()),
                ]),
            },
        );
        assert_eq!(rules.acknowledgements, expected);

        let typo = parse_rules(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.acknowledgement]\ntexts = { en = \"Hi {{customer.nam}}\" }",
        )
        .unwrap_err();
        assert!(typo.contains("customer.nam"), "{typo}");
        let no_default = parse_rules(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.acknowledgement]\nlanguage = \"fr\"\ntexts = { en = \"Hi\" }",
        )
        .unwrap_err();
        assert!(no_default.contains("\"fr\""), "{no_default}");
    }

    #[test]
    fn accounts_tune_triage_and_spikes() {
        let rules = parse_rules(
            r#"
            [[accounts]]
            platform = "x"
            id = "1"
            answer_praise_and_noise = true
            [accounts.triage]
            high_reach_followers = 500
            extra_urgent_terms = ["fibre box"]
            [accounts.spikes]
            floor = 50
            factor = 3.0
            [accounts.pace]
            posts = 50
            per_seconds = 900

            [[accounts]]
            platform = "facebook"
            id = "2"
            "#,
        )
        .unwrap();
        let one = rules.triage_of("1");
        assert_eq!(one.high_reach_followers, 500);
        assert_eq!(one.extra_urgent_terms, ["fibre box"]);
        assert_eq!(one.negative, TriageRules::default().negative);
        assert_eq!(rules.triage_of("2"), &TriageRules::default());
        let spikes = rules.spikes.of("1");
        assert_eq!((spikes.floor, spikes.factor), (50, 3.0));
        assert_eq!(spikes.window_minutes, 10);
        assert_eq!(rules.spikes.of("2"), &SpikeRules::default());
        assert_eq!(rules.answer_everything, BTreeSet::from(["1".to_string()]));
        let pace = |posts, per_seconds| Pace { posts, per_seconds };
        assert_eq!(rules.paces.of("1", Source::X), pace(50, 900));
        assert_eq!(rules.paces.of("2", Source::Facebook), pace(200, 3600));

        let too_slow = parse_rules(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.pace]\nposts = 5\nper_seconds = 900",
        )
        .unwrap_err();
        assert!(
            too_slow.contains("pace") && too_slow.contains("at least 12"),
            "{too_slow}"
        );

        let refused = parse_rules(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.spikes]\nfactor = 0.5",
        )
        .unwrap_err();
        assert!(refused.contains("factor"), "{refused}");
        let unknown =
            parse_rules("[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.spikes]\nflor = 5")
                .unwrap_err();
        assert!(unknown.contains("flor"), "{unknown}");
    }

    /// Review of issue 17: TOML takes `nan` and `inf`, which JSON (the store's form) writes as
    /// null and cannot read back: an import of one stopped every function at its next start.
    #[test]
    fn thresholds_that_are_not_numbers_are_refused() {
        for (section, field) in [
            ("triage", "negative"),
            ("triage", "praise"),
            ("spikes", "factor"),
        ] {
            for value in ["nan", "inf", "-inf"] {
                let text = format!(
                    "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.{section}]\n{field} = {value}"
                );
                let error = parse_rules(&text).unwrap_err();
                assert!(
                    error.contains(section) && error.contains(field),
                    "{text}: {error}"
                );
            }
        }
        let refused = parse_rules(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.triage]\nnegative = -1.5",
        )
        .unwrap_err();
        assert!(refused.contains("from -1 to 1"), "{refused}");
    }

    /// Whatever the checks accept is stored as JSON and read back the same.
    #[test]
    fn a_whole_document_survives_the_stores_json() {
        let configuration = Configuration::parse(
            r#"
            [[accounts]]
            platform = "x"
            id = "1"
            handle = "acme"
            name = "Acme"
            answer_praise_and_noise = true
            [accounts.acknowledgement]
            enabled = true
            language = "es"
            texts = { es = "Gracias {{customer.name}}", en = "Thanks" }
            [accounts.triage]
            high_reach_followers = 500
            negative = -0.25
            praise = 0.75
            extra_urgent_terms = ["fibre box"]
            [accounts.spikes]
            enabled = false
            window_minutes = 5
            baseline_windows = 6
            factor = 2.5
            floor = 7
            ignore_terms = ["acme"]
            [accounts.pace]
            posts = 50
            per_seconds = 900

            [[teams]]
            name = "support"
            members = ["sally", "tim"]
            lead = "sally"
            escalation_url = "https://hooks.example.com/x"
            escalates_to = "tier2"

            [[teams]]
            name = "tier2"
            members = ["ann"]
            "#,
        )
        .unwrap();
        let json = serde_json::to_string(&configuration.document).unwrap();
        let back: AccountsDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back, configuration.document);
        Configuration::of(back).unwrap();
    }

    #[test]
    fn an_empty_document_has_no_accounts() {
        assert!(Accounts::parse("").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        for (text, says) in [
            (
                "[[accounts]]\nplatform = \"myspace\"\nid = \"1\"",
                "myspace",
            ),
            ("[[accounts]]\nplatform = \"x\"\nid = \" \"", "empty id"),
            (
                "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[[accounts]]\nplatform = \"x\"\nid = \"1\"",
                "twice",
            ),
            ("[[accounts]]\nplatform = \"x\"", "id"),
            ("accounts = 3", "accounts"),
        ] {
            let error = Accounts::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn each_account_keeps_its_closed_tickets_for_its_own_days() {
        let configuration = Configuration::parse(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\nretention_days = 90\n\
             [[accounts]]\nplatform = \"facebook\"\nid = \"1\"",
        )
        .unwrap();
        let mut expected = Retention::default();
        expected.keep(Source::X, "1", 90);
        assert_eq!(configuration.retention, expected);
        for days in [0, 36_501, u32::MAX] {
            let text =
                format!("[[accounts]]\nplatform = \"x\"\nid = \"1\"\nretention_days = {days}");
            let error = Configuration::parse(&text).unwrap_err().to_string();
            assert!(error.contains("retention_days"), "{days}: {error}");
        }
    }

    #[test]
    fn an_x_account_listens_for_its_queries_and_others_are_refused_with_why() {
        let configuration = Configuration::parse(
            "[[accounts]]\nplatform = \"x\"\nid = \"1\"\nanswer_praise_and_noise = true\n\
             [accounts.listening]\nqueries = [\"acme -from:acme\", \"acme fibre\"]\n\
             [[accounts]]\nplatform = \"x\"\nid = \"2\"\n\
             [accounts.listening]\nqueries = []",
        )
        .unwrap();
        assert_eq!(
            configuration.searches.len(),
            1,
            "an empty list polls nothing"
        );
        let searches = &configuration.searches[0];
        assert_eq!(searches.account, "1");
        assert_eq!(searches.source, Source::X);
        assert_eq!(
            searches.listening.queries,
            ["acme -from:acme", "acme fibre"]
        );
        assert_eq!(searches.listening.every_minutes, 5);
        assert!(searches.ticket_everything);
        let too_many: Vec<String> = (0..11).map(|n| format!("\"q{n}\"")).collect();
        for (text, says) in [
            (
                "[[accounts]]\nplatform = \"facebook\"\nid = \"1\"\n[accounts.listening]\nqueries = [\"acme\"]"
                    .to_string(),
                "listening queries are for X accounts",
            ),
            (
                format!(
                    "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.listening]\nqueries = [{}]",
                    too_many.join(",")
                ),
                "at most 10 queries",
            ),
            (
                "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.listening]\nqueries = [\" \"]"
                    .to_string(),
                "must not be empty",
            ),
            (
                "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.listening]\nqueries = [\"a\"]\nevery_minutes = 0"
                    .to_string(),
                "every_minutes",
            ),
            (
                "[[accounts]]\nplatform = \"x\"\nid = \"1\"\n[accounts.listening]\nquery = \"a\""
                    .to_string(),
                "unknown field",
            ),
        ] {
            let error = Configuration::parse(&text).unwrap_err().to_string();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }
}
