//! `/settings/*` (admin): reply templates (list, create, edit with the check's message inline,
//! delete), API keys (create, shown once; revoke), the SLA policies document (edited whole, the
//! validation's message inline), and the configured accounts and teams, read-only.

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
use socialcare_app::api::{self, NewKey, NewTemplate, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::access::Role;
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
fn admin_only(signed_in: &SignedIn) -> Option<Response> {
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

#[derive(Template)]
#[template(path = "settings_accounts.html")]
struct AccountsPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    accounts: Vec<AccountRow>,
    teams: Vec<TeamRow>,
}

/// `GET /settings/accounts`: read-only. A team's escalation URL is not shown (it may carry a
/// token), only whether it is set.
pub async fn accounts<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = admin_only(&signed_in) {
        return refused;
    }
    let page = AccountsPage {
        layout: Layout::new("Accounts and teams", Some(signed_in.agent()), "settings"),
        tab: "accounts",
        notice: None,
        error: None,
        accounts: console
            .api
            .accounts
            .iter()
            .map(|a| AccountRow {
                platform: a.platform.source().as_str(),
                id: a.id.clone(),
                handle: a
                    .handle
                    .clone()
                    .map(|h| format!("@{h}"))
                    .unwrap_or_default(),
                name: a.name.clone().unwrap_or_default(),
            })
            .collect(),
        teams: console
            .api
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
    };
    render(StatusCode::OK, &page)
}
