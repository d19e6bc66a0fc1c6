//! Signing in: an API key (agent role or above) is exchanged for a session. The browser keeps
//! only an opaque token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` and `__Host-`
//! named over https); the store keeps its hash. Every request checks that the session is live
//! and that its key still is (revoking the key ends the session); every form that changes
//! something carries the session's CSRF token, and a request from another origin is refused.

use crate::page::{self, Agent, Layout, render};
use crate::{Console, ConsoleSettings};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use socialcare_app::api::{ApiState, Caller, Store};
use socialcare_domain::access::{Role, key_hash};
use socialcare_domain::sessions::{LIFETIME_HOURS, Session, session_id};
use std::sync::Arc;

/// The session cookie's name over http (local); over https it is `__Host-sc_session`.
pub const SESSION_COOKIE: &str = "sc_session";
/// The sign-in form's own token (double-submitted: cookie and form), before any session.
const LOGIN_COOKIE: &str = "sc_login";

fn session_cookie(settings: ConsoleSettings) -> &'static str {
    if settings.https {
        "__Host-sc_session"
    } else {
        SESSION_COOKIE
    }
}

/// Who is signed in, for the handlers behind [`require`].
#[derive(Clone)]
pub struct SignedIn {
    pub session: Session,
    pub caller: Caller,
}

impl SignedIn {
    pub fn agent(&self) -> Agent {
        Agent {
            name: self.caller.name.clone(),
            role: self.caller.role.as_str(),
            csrf: self.session.csrf_token.clone(),
        }
    }

    /// The refusal (403, a page) of a form without this session's CSRF token; none when the
    /// token is right.
    pub fn refuse_without_csrf(&self, presented: &str) -> Option<Response> {
        if self.session.admits_csrf(presented) {
            return None;
        }
        Some(page::error(
            StatusCode::FORBIDDEN,
            "This form is out of date or did not come from this console (its CSRF token does not match). Open the page again and retry.",
            Some(self.agent()),
            "/",
        ))
    }
}

/// A new random token: 32 bytes, URL-safe.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

fn set_cookie(
    name: &'static str,
    value: String,
    max_age_secs: i64,
    settings: ConsoleSettings,
) -> (header::HeaderName, String) {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.https)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    (header::SET_COOKIE, cookie.to_string())
}

/// A state-changing request must come from our own pages: when the browser names its origin,
/// it must be this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(a), Some(b)) if a == b)
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// Lets a request through with a live session of a valid key; sends everyone else to sign in.
pub async fn require<S: Store>(
    State(console): State<Arc<Console<S>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let name = session_cookie(console.settings);
    let Some(token) = cookie_value(request.headers(), name) else {
        return to_login();
    };
    let id = session_id(&token);
    let session = match console.api.store.get_session(&id).await {
        Ok(Some(session)) => session,
        Ok(None) => return to_login(),
        Err(e) => return page::api_error(&socialcare_app::error::ApiError::store(e), None, "/"),
    };
    let caller = match live_caller(&console.api, &session).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            // Expired, or its key was revoked: the session ends here.
            if let Err(e) = console.api.store.delete_session(&id).await {
                tracing::warn!(error = %e, "could not delete an ended session");
            }
            return to_login();
        }
        Err(e) => return page::api_error(&e, None, "/"),
    };
    if request.method() != Method::GET && !same_origin(request.headers()) {
        return page::error(
            StatusCode::FORBIDDEN,
            "This request came from another site.",
            None,
            "/",
        );
    }
    request
        .extensions_mut()
        .insert(SignedIn { session, caller });
    next.run(request).await
}

async fn live_caller<S: Store>(
    api: &ApiState<S>,
    session: &Session,
) -> Result<Option<Caller>, socialcare_app::error::ApiError> {
    if !session.is_live(Utc::now()) {
        return Ok(None);
    }
    let caller = api.caller_of_key_hash(&session.key_hash).await?;
    Ok(caller.filter(|caller| caller.role >= Role::Agent))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    csrf: &'a str,
    error: Option<&'a str>,
}

fn login_form(status: StatusCode, error: Option<&str>, settings: ConsoleSettings) -> Response {
    let Some(token) = random_token() else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
            None,
            "/login",
        );
    };
    let page = LoginPage {
        layout: Layout::new("Sign in", None, ""),
        csrf: &token,
        error,
    };
    let cookie = set_cookie(LOGIN_COOKIE, token.clone(), 3600, settings);
    ([cookie], render(status, &page)).into_response()
}

/// `GET /login`
pub async fn login_page<S: Store>(State(console): State<Arc<Console<S>>>) -> Response {
    login_form(StatusCode::OK, None, console.settings)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// `POST /login`: the key, checked as the API checks it, becomes a session.
pub async fn login<S: Store>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let settings = console.settings;
    let Ok(Form(form)) = form else {
        return login_form(
            StatusCode::BAD_REQUEST,
            Some("Send the sign-in form."),
            settings,
        );
    };
    let expected = cookie_value(&headers, LOGIN_COOKIE);
    if !same_origin(&headers) || expected.is_none_or(|token| token.is_empty() || token != form.csrf)
    {
        return login_form(
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired or came from another site; try again."),
            settings,
        );
    }
    let presented = form.key.trim();
    let caller = match console.api.caller_of_key(presented).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return login_form(
                StatusCode::UNAUTHORIZED,
                Some("That API key is not valid (or was revoked)."),
                settings,
            );
        }
        Err(e) => return page::api_error(&e, None, "/login"),
    };
    if caller.role < Role::Agent {
        return login_form(
            StatusCode::FORBIDDEN,
            Some("The console is for agents and admins; this key has the integrator role."),
            settings,
        );
    }
    let (Some(token), Some(csrf)) = (random_token(), random_token()) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
            None,
            "/login",
        );
    };
    let session = Session::open(
        &token,
        &csrf,
        &key_hash(presented),
        &caller.name,
        caller.role,
        Utc::now(),
    );
    if let Err(e) = console.api.store.create_session(&session).await {
        return page::api_error(&socialcare_app::error::ApiError::store(e), None, "/login");
    }
    tracing::info!(agent = %caller.name, "signed in to the console");
    let cookies = [
        set_cookie(
            session_cookie(settings),
            token,
            LIFETIME_HOURS * 3600,
            settings,
        ),
        set_cookie(LOGIN_COOKIE, String::new(), 0, settings),
    ];
    (AppendHeaders(cookies), Redirect::to("/")).into_response()
}

/// A state-changing form of a signed-in agent, read and checked: refused with a readable
/// page when it cannot be read (400) or lacks the session's CSRF token (403), so a handler
/// only ever sees a form it may act on.
pub struct Checked<T>(pub T);

/// No fields besides the token (sign-out, delete, revoke).
#[derive(Deserialize)]
pub struct Nothing {}

#[derive(Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

impl<S, T> axum::extract::FromRequest<S> for Checked<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Some(signed_in) = request.extensions().get::<SignedIn>().cloned() else {
            return Err(to_login());
        };
        // Back to the page the form was on: the action's parent path.
        let back = request
            .uri()
            .path()
            .rsplit_once('/')
            .map(|(parent, _)| parent)
            .filter(|parent| !parent.is_empty())
            .unwrap_or("/")
            .to_string();
        let Ok(Form(read)) = Form::<WithToken<T>>::from_request(request, state).await else {
            return Err(page::error(
                StatusCode::BAD_REQUEST,
                "The form could not be read.",
                Some(signed_in.agent()),
                &back,
            ));
        };
        match signed_in.refuse_without_csrf(&read.csrf) {
            Some(refused) => Err(refused),
            None => Ok(Checked(read.form)),
        }
    }
}

/// `POST /logout`: ends the session here and in the store.
pub async fn logout<S: Store>(
    State(console): State<Arc<Console<S>>>,
    axum::Extension(signed_in): axum::Extension<SignedIn>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    if let Err(e) = console
        .api
        .store
        .delete_session(&signed_in.session.id)
        .await
    {
        return page::api_error(
            &socialcare_app::error::ApiError::store(e),
            Some(signed_in.agent()),
            "/",
        );
    }
    let cookie = set_cookie(
        session_cookie(console.settings),
        String::new(),
        0,
        console.settings,
    );
    ([cookie], Redirect::to("/login")).into_response()
}
