//! `/settings/*` (admin): reply templates (list, create, edit with the check's message inline,
//! delete), API keys (create, shown once; revoke), the SLA policies document (edited whole, the
//! validation's message inline), and the brand accounts and teams (add, edit, remove, each
//! change checked whole and listed with its author).

use crate::Console;
use crate::format::when;
use crate::page::{self, Layout, render};
use crate::session::{Checked, Nothing, SignedIn};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use socialcare_app::accounts::{Account, Platform};
use socialcare_app::api::{self, NewKey, NewTemplate, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::access::Role;
use socialcare_domain::ownership::Team;
use socialcare_domain::sla::Policies;
use std::sync::Arc;

/// What a settings page shows on top: a notice or an error.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    notice: Option<&'static str>,
    error: Option<String>,
}

impl Outcome {
    fn failed(e: ApiError) -> Self {
        Self {
            status: Some(e.status),
            error: Some(e.message),
            ..Self::default()
        }
    }

    fn done(notice: &'static str) -> Self {
        Self {
            notice: Some(notice),
            ..Self::default()
        }
    }
}

/// Refuses (403, a page) a signed-in agent who is not an admin.
pub(crate) fn admin_only(signed_in: &SignedIn) -> Option<Response> {
    (signed_in.caller.role < Role::Admin).then(|| {
        page::error(
            StatusCode::FORBIDDEN,
            &format!(
                "Settings are for admins; {} has the {} role.",
                signed_in.caller.name,
                signed_in.caller.role.as_str()
            ),
            Some(signed_in.agent()),
            "/",
        )
    })
}

fn given(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// `GET /settings`
pub async fn index() -> Response {
    Redirect::to("/settings/templates").into_response()
}

// ---- templates

pub struct TemplateRow {
    pub id: String,
    pub language: Option<String>,
    pub text: String,
}

#[derive(Template)]
#[template(path = "settings_templates.html")]
struct TemplatesPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    templates: Vec<TemplateRow>,
    draft_id: String,
    draft_language: String,
    draft_text: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    text: String,
}

async fn templates_page<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    outcome: Outcome,
    draft: TemplateForm,
) -> Response {
    let templates = match console.api.store.list_templates().await {
        Ok(templates) => templates,
        Err(e) => return page::api_error(&ApiError::store(e), Some(signed_in.agent()), "/"),
    };
    let page = TemplatesPage {
        layout: Layout::new("Templates", Some(signed_in.agent()), "settings"),
        tab: "templates",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        templates: templates
            .into_iter()
            .map(|t| TemplateRow {
                id: t.id,
                language: t.language,
                text: t.text,
            })
            .collect(),
        draft_id: draft.id,
        draft_language: draft.language,
        draft_text: draft.text,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /settings/templates`
pub async fn templates<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    templates_page(
        &console,
        &signed_in,
        Outcome::default(),
        TemplateForm::default(),
    )
    .await
}

/// `POST /settings/templates`: a new template; a refused one comes back with the reason and
/// what was typed.
pub async fn create_template<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<TemplateForm>,
) -> Response {
    let request = NewTemplate {
        id: form.id.trim().to_string(),
        text: form.text.clone(),
        language: given(&form.language),
    };
    match api::create_template_by(&console.api, &signed_in.caller, request).await {
        Ok(_) => {
            templates_page(
                &console,
                &signed_in,
                Outcome::done("Template created."),
                TemplateForm::default(),
            )
            .await
        }
        Err(e) => templates_page(&console, &signed_in, Outcome::failed(e), form).await,
    }
}

#[derive(Template)]
#[template(path = "settings_template.html")]
struct TemplatePage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    id: String,
    draft_language: String,
    draft_text: String,
}

fn template_page(
    signed_in: &SignedIn,
    id: &str,
    outcome: Outcome,
    language: String,
    text: String,
) -> Response {
    let page = TemplatePage {
        layout: Layout::new(
            format!("Template {id}"),
            Some(signed_in.agent()),
            "settings",
        ),
        tab: "templates",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        id: id.to_string(),
        draft_language: language,
        draft_text: text,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /settings/templates/{id}`
pub async fn template<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    match console.api.store.get_template(&id).await {
        Ok(Some(t)) => template_page(
            &signed_in,
            &id,
            Outcome::default(),
            t.language.unwrap_or_default(),
            t.text,
        ),
        Ok(None) => page::error(
            StatusCode::NOT_FOUND,
            &format!("no template {id}"),
            Some(signed_in.agent()),
            "/settings/templates",
        ),
        Err(e) => page::api_error(
            &ApiError::store(e),
            Some(signed_in.agent()),
            "/settings/templates",
        ),
    }
}

/// `POST /settings/templates/{id}`: saves the text, checked first.
pub async fn save_template<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<TemplateForm>,
) -> Response {
    match api::replace_template_by(
        &console.api,
        &signed_in.caller,
        &id,
        &form.text,
        given(&form.language),
    )
    .await
    {
        Ok(t) => template_page(
            &signed_in,
            &id,
            Outcome::done("Template saved."),
            t.language.unwrap_or_default(),
            t.text,
        ),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            page::api_error(&e, Some(signed_in.agent()), "/settings/templates")
        }
        Err(e) => template_page(
            &signed_in,
            &id,
            Outcome::failed(e),
            form.language,
            form.text,
        ),
    }
}

/// `POST /settings/templates/{id}/delete`
pub async fn delete_template<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let outcome = match api::delete_template_by(&console.api, &signed_in.caller, &id).await {
        Ok(()) => Outcome::done("Template deleted."),
        Err(e) => Outcome::failed(e),
    };
    templates_page(&console, &signed_in, outcome, TemplateForm::default()).await
}

// ---- keys

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub created: String,
    pub revoked: Option<String>,
}

pub struct MadeKey {
    pub name: String,
    pub role: &'static str,
    pub key: String,
}

#[derive(Template)]
#[template(path = "settings_keys.html")]
struct KeysPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    keys: Vec<KeyRow>,
    made: Option<MadeKey>,
}

async fn keys_page<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    outcome: Outcome,
    made: Option<MadeKey>,
) -> Response {
    let keys = match console.api.store.list_keys().await {
        Ok(keys) => keys,
        Err(e) => return page::api_error(&ApiError::store(e), Some(signed_in.agent()), "/"),
    };
    let page = KeysPage {
        layout: Layout::new("API keys", Some(signed_in.agent()), "settings"),
        tab: "keys",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                name: k.name,
                role: k.role.as_str(),
                created: when(k.created_at),
                revoked: k.revoked_at.map(when),
            })
            .collect(),
        made,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /settings/keys`
pub async fn keys<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    keys_page(&console, &signed_in, Outcome::default(), None).await
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// `POST /settings/keys`: the new key, shown on the answer and never again.
pub async fn create_key<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<KeyForm>,
) -> Response {
    let role = match form.role.as_str() {
        "agent" => Role::Agent,
        "integrator" => Role::Integrator,
        "admin" => Role::Admin,
        other => {
            let e = ApiError::bad_request("invalid_key", format!("unknown role {other:?}"));
            return keys_page(&console, &signed_in, Outcome::failed(e), None).await;
        }
    };
    let request = NewKey {
        name: form.name,
        role,
    };
    match api::create_key_by(&console.api, &signed_in.caller, &request).await {
        Ok(view) => {
            let made = view.key.clone().map(|key| MadeKey {
                name: view.name.clone(),
                role: view.role.as_str(),
                key,
            });
            keys_page(&console, &signed_in, Outcome::default(), made).await
        }
        Err(e) => keys_page(&console, &signed_in, Outcome::failed(e), None).await,
    }
}

/// `POST /settings/keys/{id}/revoke`: the key and its console sessions stop working at once.
pub async fn revoke_key<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let outcome = match api::revoke_key_by(&console.api, &signed_in.caller, &id).await {
        Ok(()) => Outcome::done("Key revoked."),
        Err(e) => Outcome::failed(e),
    };
    keys_page(&console, &signed_in, outcome, None).await
}

// ---- SLA policies

#[derive(Template)]
#[template(path = "settings_sla.html")]
struct SlaPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    document: String,
}

fn sla_page(signed_in: &SignedIn, outcome: Outcome, document: String) -> Response {
    let page = SlaPage {
        layout: Layout::new("SLA policies", Some(signed_in.agent()), "settings"),
        tab: "sla",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        document,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

fn pretty(policies: &Policies) -> String {
    serde_json::to_string_pretty(policies).unwrap_or_default()
}

/// `GET /settings/sla`
pub async fn sla<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    match console.api.store.sla_policies().await {
        Ok(policies) => sla_page(&signed_in, Outcome::default(), pretty(&policies)),
        Err(e) => page::api_error(&ApiError::store(e), Some(signed_in.agent()), "/"),
    }
}

#[derive(Debug, Deserialize)]
pub struct SlaForm {
    #[serde(default)]
    document: String,
}

/// `POST /settings/sla`: the whole document, checked before it replaces the current one.
pub async fn save_sla<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<SlaForm>,
) -> Response {
    let policies: Policies = match serde_json::from_str(&form.document) {
        Ok(policies) => policies,
        Err(e) => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_policy",
                format!("the document is not valid: {e}"),
            );
            return sla_page(&signed_in, Outcome::failed(e), form.document);
        }
    };
    match api::put_policies_by(&console.api, &signed_in.caller, policies).await {
        Ok(saved) => sla_page(&signed_in, Outcome::done("Policies saved."), pretty(&saved)),
        Err(e) => sla_page(&signed_in, Outcome::failed(e), form.document),
    }
}

// ---- accounts and teams

pub struct AccountRow {
    pub platform: &'static str,
    pub id: String,
    pub handle: String,
    pub name: String,
}

pub struct TeamRow {
    pub name: String,
    pub members: String,
    pub lead: String,
    pub escalation: &'static str,
    pub escalates_to: String,
}

pub struct ChangeRow {
    pub version: u64,
    pub at: String,
    pub by: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "settings_accounts.html")]
struct AccountsPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    accounts: Vec<AccountRow>,
    teams: Vec<TeamRow>,
    changes: Vec<ChangeRow>,
    new_account: NewAccountForm,
    new_team: TeamForm,
}

/// How many changes the page lists.
const CHANGES_SHOWN: usize = 20;

async fn accounts_page<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    outcome: Outcome,
    new_account: NewAccountForm,
    new_team: TeamForm,
) -> Response {
    let read = futures::future::try_join(api::stored_document(&console.api), async {
        console
            .api
            .store
            .configuration_changes(CHANGES_SHOWN)
            .await
            .map_err(ApiError::store)
    })
    .await;
    let (document, changes) = match read {
        Ok(read) => read,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), "/"),
    };
    let page = AccountsPage {
        layout: Layout::new("Accounts and teams", Some(signed_in.agent()), "settings"),
        tab: "accounts",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        accounts: document
            .accounts
            .iter()
            .map(|a| AccountRow {
                platform: a.platform.as_str(),
                id: a.id.clone(),
                handle: a
                    .handle
                    .clone()
                    .map(|h| format!("@{h}"))
                    .unwrap_or_default(),
                name: a.name.clone().unwrap_or_default(),
            })
            .collect(),
        teams: document
            .teams
            .iter()
            .map(|t| TeamRow {
                name: t.name.clone(),
                members: t.members.join(", "),
                lead: t.lead.clone().unwrap_or_default(),
                escalation: if t.escalation_url.is_some() {
                    "set"
                } else {
                    "none"
                },
                escalates_to: t.escalates_to.clone().unwrap_or_default(),
            })
            .collect(),
        changes: changes
            .into_iter()
            .map(|c| ChangeRow {
                version: c.version,
                at: when(c.at),
                by: c.by,
                summary: c.summary,
            })
            .collect(),
        new_account,
        new_team,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /settings/accounts`: the accounts and teams, forms to add them, the changes made. A
/// team's escalation URL is not shown (it may carry a token), only whether it is set.
pub async fn accounts<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    accounts_page(
        &console,
        &signed_in,
        Outcome::default(),
        NewAccountForm::default(),
        TeamForm::default(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct NewAccountForm {
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub name: String,
}

/// `POST /settings/accounts`: adds an account with the default settings.
pub async fn create_account<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<NewAccountForm>,
) -> Response {
    let Some(platform) = Platform::named(form.platform.trim()) else {
        let e = ApiError::bad_request("invalid_platform", "choose X, Facebook or Instagram");
        return accounts_page(
            &console,
            &signed_in,
            Outcome::failed(e),
            form,
            TeamForm::default(),
        )
        .await;
    };
    let account: Account = match serde_json::from_value(serde_json::json!({
        "platform": platform,
        "id": form.id.trim(),
        "handle": given(form.handle.trim_start_matches('@')),
        "name": given(&form.name),
    })) {
        Ok(account) => account,
        Err(e) => {
            let e = ApiError::bad_request("invalid_body", e.to_string());
            return accounts_page(
                &console,
                &signed_in,
                Outcome::failed(e),
                form,
                TeamForm::default(),
            )
            .await;
        }
    };
    match api::create_account_by(&console.api, &signed_in.caller, account).await {
        Ok(_) => {
            accounts_page(
                &console,
                &signed_in,
                Outcome::done("Account added: its webhooks are taken from now on."),
                NewAccountForm::default(),
                TeamForm::default(),
            )
            .await
        }
        Err(e) => {
            accounts_page(
                &console,
                &signed_in,
                Outcome::failed(e),
                form,
                TeamForm::default(),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_account.html")]
struct AccountPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    platform: &'static str,
    id: String,
    handle: String,
    name: String,
    settings: String,
    health: Option<HealthRow>,
    searches: Vec<SearchRow>,
}

/// One of the account's searches, in words.
pub struct SearchRow {
    pub query: String,
    pub last_polled: String,
    /// When it polls next, or why it waits.
    pub next: String,
    pub error: Option<String>,
    pub found: u64,
    pub ticketed: u64,
    /// `12 praise, 30 noise`, or `none`.
    pub heard: String,
    pub latest: Vec<HeardRow>,
}

pub struct HeardRow {
    pub at: String,
    pub author: String,
    pub intent: String,
    pub text: String,
    pub href: Option<String>,
}

fn search_row(state: &socialcare_domain::search::SearchState) -> SearchRow {
    let heard: Vec<String> = state
        .heard
        .iter()
        .map(|(intent, count)| format!("{count} {intent}"))
        .collect();
    SearchRow {
        query: state.query.clone(),
        last_polled: state
            .last_polled_at
            .map(when)
            .unwrap_or_else(|| "never".into()),
        next: match state.next_poll_at {
            Some(at) if state.last_error.is_some() => format!("waits until {}", when(at)),
            Some(at) => when(at),
            None => "at the next run".into(),
        },
        error: state.last_error.clone(),
        found: state.found,
        ticketed: state.ticketed,
        heard: match heard.is_empty() {
            true => "none".into(),
            false => heard.join(", "),
        },
        latest: state
            .latest_heard
            .iter()
            .map(|heard| HeardRow {
                at: when(heard.at),
                author: heard
                    .author_handle
                    .as_ref()
                    .map(|handle| format!("@{handle}"))
                    .unwrap_or_default(),
                intent: heard.intent.clone(),
                text: heard.text.clone(),
                // The platform's own link (an Instagram permalink, checked when read), else
                // one made of the post's id.
                href: heard
                    .link
                    .clone()
                    .filter(|link| link.starts_with("https://"))
                    .or_else(|| crate::ticket::post_link(state.source, &heard.external_id)),
            })
            .collect(),
    }
}

/// The account's health, in words.
pub struct HealthRow {
    /// `valid`, `refused` or `none`.
    pub token: &'static str,
    pub token_text: String,
    pub refusal: Option<String>,
    pub subscription: String,
    pub last_webhook: String,
    pub last_post: String,
    pub rate: String,
}

fn health_row(health: &socialcare_app::connect::HealthView) -> HealthRow {
    let never =
        |at: Option<chrono::DateTime<chrono::Utc>>| at.map(when).unwrap_or_else(|| "never".into());
    let token = &health.token;
    let (state, text) = match (token.set, token.valid) {
        (false, _) => ("none", "not connected".to_string()),
        (true, true) => (
            "valid",
            format!(
                "connected{}, set by {} {}",
                token
                    .acts_as
                    .as_ref()
                    .map(|a| format!(" as {a}"))
                    .unwrap_or_default(),
                token.set_by.clone().unwrap_or_default(),
                token.set_at.map(when).unwrap_or_default()
            ),
        ),
        (true, false) => (
            "refused",
            "refused by the platform: connect the account again".to_string(),
        ),
    };
    HealthRow {
        token: state,
        token_text: text,
        refusal: (state == "refused")
            .then(|| health.refusal.clone())
            .flatten(),
        subscription: match health.subscribed {
            None => "not checked".into(),
            Some(subscribed) => format!(
                "{}{}",
                if subscribed { "yes" } else { "no" },
                health
                    .subscription_detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        },
        last_webhook: never(health.last_webhook_at),
        last_post: never(health.last_post_at),
        rate: match &health.rate_limit {
            Some(rate) => format!("{} of {} left", rate.remaining, rate.limit),
            None => "not reported".into(),
        },
    }
}

/// What the account page edits as JSON: everything but the platform, id, handle and name.
fn settings_json(account: &Account) -> String {
    let mut value = serde_json::to_value(account).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        for field in ["platform", "id", "handle", "name"] {
            object.remove(field);
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn account_page(
    signed_in: &SignedIn,
    outcome: Outcome,
    platform: Platform,
    form: AccountForm,
    (health, searches): (Option<HealthRow>, Vec<SearchRow>),
) -> Response {
    let page = AccountPage {
        layout: Layout::new(
            format!("{} account {}", platform.as_str(), form.id),
            Some(signed_in.agent()),
            "settings",
        ),
        tab: "accounts",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        platform: platform.as_str(),
        id: form.id,
        handle: form.handle,
        name: form.name,
        settings: form.settings,
        health,
        searches,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

fn platform_page(signed_in: &SignedIn, platform: &str) -> Result<Platform, Box<Response>> {
    Platform::named(platform).ok_or_else(|| {
        Box::new(page::error(
            StatusCode::NOT_FOUND,
            &format!("no platform {platform:?}"),
            Some(signed_in.agent()),
            "/settings/accounts",
        ))
    })
}

/// `GET /settings/accounts/{platform}/{id}`
pub async fn account<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path((platform, id)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    let platform = match platform_page(&signed_in, &platform) {
        Ok(platform) => platform,
        Err(page) => return *page,
    };
    let document = match api::stored_document(&console.api).await {
        Ok(document) => document,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), "/settings/accounts"),
    };
    let Some(at) = document.account(platform, &id) else {
        return page::error(
            StatusCode::NOT_FOUND,
            &format!("no {} account {id}", platform.as_str()),
            Some(signed_in.agent()),
            "/settings/accounts",
        );
    };
    let account = &document.accounts[at];
    let form = AccountForm {
        id: id.clone(),
        handle: account.handle.clone().unwrap_or_default(),
        name: account.name.clone().unwrap_or_default(),
        settings: settings_json(account),
    };
    let (health, searches) = account_state(&console.api, &signed_in, platform, &id).await;
    account_page(
        &signed_in,
        Outcome::default(),
        platform,
        form,
        (health, searches),
    )
}

/// What the account page shows beside its settings: its health and its searches.
async fn account_state<S: Store>(
    api: &socialcare_app::api::ApiState<S>,
    signed_in: &SignedIn,
    platform: Platform,
    id: &str,
) -> (Option<HealthRow>, Vec<SearchRow>) {
    let (health, searches) = futures::future::join(
        api::health_by(api, &signed_in.caller, platform, id),
        api::searches_by(api, &signed_in.caller, platform, id),
    )
    .await;
    (
        health.ok().map(|h| health_row(&h)),
        searches
            .map(|states| states.iter().map(search_row).collect())
            .unwrap_or_default(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub settings: String,
}

/// `POST /settings/accounts/{platform}/{id}`: the handle, name and settings, checked whole.
pub async fn save_account<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path((platform, id)): Path<(String, String)>,
    Checked(form): Checked<AccountForm>,
) -> Response {
    let platform = match platform_page(&signed_in, &platform) {
        Ok(platform) => platform,
        Err(page) => return *page,
    };
    let form = AccountForm { id, ..form };
    let settings: serde_json::Value = match form.settings.trim() {
        "" => serde_json::json!({}),
        text => match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                let e = ApiError::bad_request(
                    "invalid_body",
                    format!("the settings are not valid JSON: {e}"),
                );
                return account_page(
                    &signed_in,
                    Outcome::failed(e),
                    platform,
                    form,
                    (None, Vec::new()),
                );
            }
        },
    };
    let Some(mut fields) = settings.as_object().cloned() else {
        let e = ApiError::bad_request("invalid_body", "the settings must be a JSON object");
        return account_page(
            &signed_in,
            Outcome::failed(e),
            platform,
            form,
            (None, Vec::new()),
        );
    };
    fields.insert("platform".into(), serde_json::json!(platform));
    fields.insert("id".into(), serde_json::json!(form.id));
    fields.insert(
        "handle".into(),
        serde_json::json!(given(form.handle.trim_start_matches('@'))),
    );
    fields.insert("name".into(), serde_json::json!(given(&form.name)));
    let account: Account = match serde_json::from_value(serde_json::Value::Object(fields)) {
        Ok(account) => account,
        Err(e) => {
            let e =
                ApiError::bad_request("invalid_body", format!("the settings are not valid: {e}"));
            return account_page(
                &signed_in,
                Outcome::failed(e),
                platform,
                form,
                (None, Vec::new()),
            );
        }
    };
    match api::put_account_by(&console.api, &signed_in.caller, account).await {
        Ok((_, saved)) => {
            let form = AccountForm {
                id: saved.id.clone(),
                handle: saved.handle.clone().unwrap_or_default(),
                name: saved.name.clone().unwrap_or_default(),
                settings: settings_json(&saved),
            };
            let state = account_state(&console.api, &signed_in, platform, &saved.id).await;
            account_page(
                &signed_in,
                Outcome::done("Account saved."),
                platform,
                form,
                state,
            )
        }
        Err(e) => account_page(
            &signed_in,
            Outcome::failed(e),
            platform,
            form,
            (None, Vec::new()),
        ),
    }
}

/// `POST /settings/accounts/{platform}/{id}/delete`
pub async fn delete_account<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path((platform, id)): Path<(String, String)>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let platform = match platform_page(&signed_in, &platform) {
        Ok(platform) => platform,
        Err(page) => return *page,
    };
    let outcome = match api::delete_account_by(&console.api, &signed_in.caller, platform, &id).await
    {
        Ok(()) => Outcome::done("Account removed: its webhooks are dropped from now on."),
        Err(e) => Outcome::failed(e),
    };
    accounts_page(
        &console,
        &signed_in,
        outcome,
        NewAccountForm::default(),
        TeamForm::default(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    pub name: String,
    /// Comma- or space-separated agent names.
    #[serde(default)]
    pub members: String,
    #[serde(default)]
    pub lead: String,
    /// Left empty on the team's page: the one set stays (it is never shown).
    #[serde(default)]
    pub escalation_url: String,
    #[serde(default)]
    pub remove_escalation_url: Option<String>,
    #[serde(default)]
    pub escalates_to: String,
}

impl TeamForm {
    /// The team the form describes; `kept_url` is the escalation URL it had.
    fn team(&self, kept_url: Option<String>) -> Team {
        let escalation_url = match (given(&self.escalation_url), &self.remove_escalation_url) {
            (Some(url), _) => Some(url),
            (None, Some(_)) => None,
            (None, None) => kept_url,
        };
        Team {
            name: self.name.trim().to_string(),
            members: self
                .members
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            lead: given(&self.lead),
            escalation_url,
            escalates_to: given(&self.escalates_to),
        }
    }

    fn of(team: &Team) -> Self {
        Self {
            name: team.name.clone(),
            members: team.members.join(", "),
            lead: team.lead.clone().unwrap_or_default(),
            escalation_url: String::new(),
            remove_escalation_url: None,
            escalates_to: team.escalates_to.clone().unwrap_or_default(),
        }
    }
}

/// `POST /settings/teams`: adds a team (or replaces one of that name).
pub async fn create_team<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<TeamForm>,
) -> Response {
    if given(&form.name).is_none() {
        let e = ApiError::bad_request("invalid_body", "a team needs a name");
        return accounts_page(
            &console,
            &signed_in,
            Outcome::failed(e),
            NewAccountForm::default(),
            form,
        )
        .await;
    }
    match api::put_team_by(&console.api, &signed_in.caller, form.team(None)).await {
        Ok(_) => {
            accounts_page(
                &console,
                &signed_in,
                Outcome::done("Team saved: the next assignments follow it."),
                NewAccountForm::default(),
                TeamForm::default(),
            )
            .await
        }
        Err(e) => {
            accounts_page(
                &console,
                &signed_in,
                Outcome::failed(e),
                NewAccountForm::default(),
                form,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_team.html")]
struct TeamPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    escalation_set: bool,
    form: TeamForm,
}

fn team_page(
    signed_in: &SignedIn,
    outcome: Outcome,
    form: TeamForm,
    escalation_set: bool,
) -> Response {
    let page = TeamPage {
        layout: Layout::new(
            format!("Team {}", form.name),
            Some(signed_in.agent()),
            "settings",
        ),
        tab: "accounts",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        escalation_set,
        form,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

async fn stored_team<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    name: &str,
) -> Result<Team, Response> {
    let document = api::stored_document(&console.api)
        .await
        .map_err(|e| page::api_error(&e, Some(signed_in.agent()), "/settings/accounts"))?;
    document
        .team(name)
        .map(|at| document.teams[at].clone())
        .ok_or_else(|| {
            page::error(
                StatusCode::NOT_FOUND,
                &format!("no team {name:?}"),
                Some(signed_in.agent()),
                "/settings/accounts",
            )
        })
}

/// `GET /settings/teams/{name}`
pub async fn team<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    match stored_team(&console, &signed_in, &name).await {
        Ok(team) => team_page(
            &signed_in,
            Outcome::default(),
            TeamForm::of(&team),
            team.escalation_url.is_some(),
        ),
        Err(page) => page,
    }
}

/// `POST /settings/teams/{name}`: members, lead, escalation; checked whole.
pub async fn save_team<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
    Checked(form): Checked<TeamForm>,
) -> Response {
    let before = match stored_team(&console, &signed_in, &name).await {
        Ok(team) => team,
        Err(page) => return page,
    };
    let form = TeamForm { name, ..form };
    let team = form.team(before.escalation_url.clone());
    match api::put_team_by(&console.api, &signed_in.caller, team).await {
        Ok((_, saved)) => team_page(
            &signed_in,
            Outcome::done("Team saved: the next assignments follow it."),
            TeamForm::of(&saved),
            saved.escalation_url.is_some(),
        ),
        Err(e) => team_page(
            &signed_in,
            Outcome::failed(e),
            form,
            before.escalation_url.is_some(),
        ),
    }
}

/// `POST /settings/teams/{name}/delete`
pub async fn delete_team<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let outcome = match api::delete_team_by(&console.api, &signed_in.caller, &name).await {
        Ok(()) => Outcome::done("Team removed."),
        Err(e) => Outcome::failed(e),
    };
    accounts_page(
        &console,
        &signed_in,
        outcome,
        NewAccountForm::default(),
        TeamForm::default(),
    )
    .await
}
