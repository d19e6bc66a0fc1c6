//! `/settings/connect/*`: an admin connects an X account or a Facebook page (with its
//! Instagram account). Starting is a link from the settings (a signed-in admin); it gives the
//! browser a binding cookie (`SameSite=Lax`, ten minutes) and sends it to the platform. The
//! platform sends the browser back to the callback, a navigation from another site, which a
//! `SameSite=Strict` session cookie does not come with: the binding cookie and the single-use
//! state prove it is the same browser, and the admin who started it is the author.

use crate::Console;
use crate::page::{self, Layout, render};
use crate::session::SignedIn;
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use socialcare_app::api::Store;
use socialcare_app::connect::{self, Connected, PageChoice, PublicOrigin};
use socialcare_app::error::ApiError;
use socialcare_domain::access::Role;
use std::sync::Arc;

/// The binding cookie's name over http; over https it is `__Host-sc_connect`.
const BINDING: &str = "sc_connect";

fn binding_name(https: bool) -> &'static str {
    if https { "__Host-sc_connect" } else { BINDING }
}

fn binding_cookie(https: bool, value: String) -> String {
    Cookie::build((binding_name(https), value))
        .path("/")
        .http_only(true)
        // Lax: sent when the platform sends the browser back (a top-level GET from its site),
        // never with another site's POST.
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(cookie::time::Duration::minutes(
            socialcare_domain::tokens::CONNECT_MINUTES,
        ))
        .build()
        .to_string()
}

fn presented_binding(https: bool, headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == binding_name(https))
        .map(|cookie| cookie.value().to_string())
}

fn back_to_settings(e: &ApiError) -> Response {
    page::api_error(e, None, "/settings/accounts")
}

/// Starts a flow: a binding for this browser, the platform's page to go to.
async fn start<S: Store, F>(console: &Console<S>, signed_in: &SignedIn, begin: F) -> Response
where
    F: AsyncFnOnce(&str) -> Result<String, ApiError>,
{
    if signed_in.caller.role < Role::Admin {
        return page::error(
            StatusCode::FORBIDDEN,
            "Connecting accounts is for admins.",
            Some(signed_in.agent()),
            "/",
        );
    }
    let binding = match connect::new_binding() {
        Ok(binding) => binding,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), "/settings/accounts"),
    };
    match begin(&binding).await {
        Ok(url) => (
            [(
                header::SET_COOKIE,
                binding_cookie(console.settings.https, binding),
            )],
            Redirect::to(&url),
        )
            .into_response(),
        Err(e) => page::api_error(&e, Some(signed_in.agent()), "/settings/accounts"),
    }
}

/// `GET /settings/connect/x`: to X's authorization page.
pub async fn start_x<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    origin: Option<Extension<PublicOrigin>>,
) -> Response {
    let origin = origin.map(|Extension(origin)| origin);
    start(&console, &signed_in, async |binding: &str| {
        connect::start_x(&console.api, &signed_in.caller, origin.as_ref(), binding).await
    })
    .await
}

/// `GET /settings/connect/meta`: to Facebook Login.
pub async fn start_meta<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    origin: Option<Extension<PublicOrigin>>,
) -> Response {
    let origin = origin.map(|Extension(origin)| origin);
    start(&console, &signed_in, async |binding: &str| {
        connect::start_meta(&console.api, &signed_in.caller, origin.as_ref(), binding).await
    })
    .await
}

pub struct ConnectedRow {
    pub platform: &'static str,
    pub id: String,
    pub acts_as: String,
    pub subscribed: bool,
    pub detail: String,
}

impl From<Connected> for ConnectedRow {
    fn from(c: Connected) -> Self {
        Self {
            platform: c.platform.as_str(),
            id: c.id,
            acts_as: c.acts_as,
            subscribed: c.subscribed,
            detail: c.detail.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "connected.html")]
struct ConnectedPage {
    layout: Layout,
    connected: Vec<ConnectedRow>,
}

fn connected_page(connected: Vec<Connected>) -> Response {
    let page = ConnectedPage {
        layout: Layout::new("Account connected", None, "settings"),
        connected: connected.into_iter().map(ConnectedRow::from).collect(),
    };
    render(StatusCode::OK, &page)
}

fn no_binding() -> Response {
    page::error(
        StatusCode::FORBIDDEN,
        "This browser did not start this connection (or took longer than ten minutes): start it again from the settings.",
        None,
        "/settings/accounts",
    )
}

#[derive(Debug, Deserialize)]
pub struct XCallback {
    #[serde(default)]
    oauth_token: Option<String>,
    #[serde(default)]
    oauth_verifier: Option<String>,
    /// X's answer when the user declines.
    #[serde(default)]
    denied: Option<String>,
}

/// `GET /settings/connect/x/callback`: X sends the admin back.
pub async fn x_callback<S: Store>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    origin: Option<Extension<PublicOrigin>>,
    query: Result<Query<XCallback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(answer)) = query else {
        return back_to_settings(&ApiError::bad_request(
            "invalid_query",
            "X's answer could not be read",
        ));
    };
    if answer.denied.is_some() {
        return back_to_settings(&ApiError::bad_request(
            "denied",
            "X: the authorization was declined, nothing was connected",
        ));
    }
    let (Some(token), Some(verifier)) = (answer.oauth_token, answer.oauth_verifier) else {
        return back_to_settings(&ApiError::bad_request(
            "invalid_query",
            "X's answer names no oauth_token and oauth_verifier",
        ));
    };
    let Some(binding) = presented_binding(console.settings.https, &headers) else {
        return no_binding();
    };
    let origin = origin.map(|Extension(origin)| origin);
    match connect::finish_x(&console.api, origin.as_ref(), &binding, &token, &verifier).await {
        Ok(connected) => connected_page(vec![connected]),
        Err(e) => back_to_settings(&e),
    }
}

#[derive(Debug, Deserialize)]
pub struct MetaCallback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    /// Meta's words when the user declines or something fails.
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Template)]
#[template(path = "connect_pages.html")]
struct PagesPage {
    layout: Layout,
    choice: String,
    pages: Vec<PageChoice>,
}

/// `GET /settings/connect/meta/callback`: Facebook sends the admin back; the pages to choose.
pub async fn meta_callback<S: Store>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    origin: Option<Extension<PublicOrigin>>,
    query: Result<Query<MetaCallback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(answer)) = query else {
        return back_to_settings(&ApiError::bad_request(
            "invalid_query",
            "Facebook's answer could not be read",
        ));
    };
    if let Some(words) = answer.error_description.or(answer.error_message) {
        // The words come in the query, which anyone can write: shown as text, and short.
        let words: String = words.chars().take(200).collect();
        return back_to_settings(&ApiError::bad_request(
            "denied",
            format!("Facebook answered: {words}"),
        ));
    }
    let (Some(code), Some(state)) = (answer.code, answer.state) else {
        return back_to_settings(&ApiError::bad_request(
            "invalid_query",
            "Facebook's answer names no code and state",
        ));
    };
    let Some(binding) = presented_binding(console.settings.https, &headers) else {
        return no_binding();
    };
    let origin = origin.map(|Extension(origin)| origin);
    match connect::meta_pages(&console.api, origin.as_ref(), &binding, &state, &code).await {
        Ok((choice, pages)) => {
            let page = PagesPage {
                layout: Layout::new("Choose a page", None, "settings"),
                choice,
                pages,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => back_to_settings(&e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PageForm {
    #[serde(default)]
    choice: String,
    #[serde(default)]
    page_id: String,
}

/// `POST /settings/connect/meta/page`: the page chosen (the binding cookie, which another
/// site's POST does not carry, and the single-use choice guard it).
pub async fn choose_page<S: Store>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    form: Result<Form<PageForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to_settings(&ApiError::bad_request(
            "invalid_form",
            "the choice could not be read",
        ));
    };
    let Some(binding) = presented_binding(console.settings.https, &headers) else {
        return no_binding();
    };
    match connect::finish_meta(&console.api, &binding, &form.choice, &form.page_id).await {
        Ok(connected) => connected_page(connected),
        Err(e) => back_to_settings(&e),
    }
}
