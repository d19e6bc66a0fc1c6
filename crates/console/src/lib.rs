//! The agent console: server-rendered HTML pages (askama templates, checked when compiled,
//! escaping everything they print) over the same state and operations as the HTTP API, so a
//! reply sent from the browser is the API's reply. One small ES module improves the pages
//! (refreshing the inbox, shortcuts, the reply counter); every page and form works without it.
//!
//! Served by the same router as the API: by the `api` function on AWS and by
//! `socialcare-local`.

mod assets;
mod attachments;
mod chart;
mod connect;
mod format;
mod inbox;
mod incidents;
mod page;
mod report;
mod session;
mod settings;
mod ticket;
mod webhooks;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use socialcare_app::api::{ApiState, Store};
use socialcare_app::attachments::Files;
use std::sync::Arc;

pub use session::SESSION_COOKIE;

/// How the console is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSettings {
    /// Served over https (always on AWS): cookies are `Secure` and `__Host-` named.
    pub https: bool,
}

pub(crate) struct Console<S> {
    api: Arc<ApiState<S>>,
    settings: ConsoleSettings,
    /// The files e-mails came with (none: they are listed, not served).
    files: Option<Files>,
}

/// The console's routes, to merge with the API's before [`socialcare_app::error::json_errors`].
pub fn routes<S: Store + 'static>(
    api: Arc<ApiState<S>>,
    settings: ConsoleSettings,
    files: Option<Files>,
) -> Router {
    let https = settings.https;
    let console = Arc::new(Console {
        api,
        settings,
        files,
    });
    let signed_in = Router::new()
        .route("/", get(inbox::page::<S>))
        .route("/inbox/rows", get(inbox::rows::<S>))
        .route("/tickets/{id}", get(ticket::page::<S>))
        .route("/tickets/{id}/preview", get(ticket::preview::<S>))
        .route("/attachments/{sha256}", get(attachments::download::<S>))
        .route("/tickets/{id}/conversation", get(ticket::conversation::<S>))
        .route("/tickets/{id}/reply", post(ticket::reply::<S>))
        .route("/tickets/{id}/assign", post(ticket::assign::<S>))
        .route("/tickets/{id}/unassign", post(ticket::unassign::<S>))
        .route("/tickets/{id}/status", post(ticket::status::<S>))
        .route("/tickets/{id}/note", post(ticket::note::<S>))
        .route("/tickets/{id}/priority", post(ticket::priority::<S>))
        .route("/tickets/{id}/identities", post(ticket::link_identity::<S>))
        .route(
            "/tickets/{id}/customer/export",
            get(ticket::export_customer::<S>),
        )
        .route(
            "/tickets/{id}/customer/erase",
            post(ticket::erase_customer::<S>),
        )
        .route(
            "/tickets/{id}/customer/merge",
            post(ticket::merge_customer::<S>),
        )
        .route("/incidents", get(incidents::list::<S>))
        .route("/incidents/{id}", get(incidents::detail::<S>))
        .route("/incidents/{id}/updates", post(incidents::post_update::<S>))
        .route("/report", get(report::page::<S>))
        .route("/report.csv", get(report::csv::<S>))
        .route("/settings", get(settings::index))
        .route(
            "/settings/templates",
            get(settings::templates::<S>).post(settings::create_template::<S>),
        )
        .route(
            "/settings/templates/{id}",
            get(settings::template::<S>).post(settings::save_template::<S>),
        )
        .route(
            "/settings/templates/{id}/delete",
            post(settings::delete_template::<S>),
        )
        .route(
            "/settings/keys",
            get(settings::keys::<S>).post(settings::create_key::<S>),
        )
        .route(
            "/settings/keys/{id}/revoke",
            post(settings::revoke_key::<S>),
        )
        .route(
            "/settings/sla",
            get(settings::sla::<S>).post(settings::save_sla::<S>),
        )
        .route(
            "/settings/accounts",
            get(settings::accounts::<S>).post(settings::create_account::<S>),
        )
        .route(
            "/settings/accounts/{platform}/{id}",
            get(settings::account::<S>).post(settings::save_account::<S>),
        )
        .route(
            "/settings/accounts/{platform}/{id}/delete",
            post(settings::delete_account::<S>),
        )
        .route(
            "/settings/webhooks",
            get(webhooks::list::<S>).post(webhooks::create::<S>),
        )
        .route("/settings/webhooks/{id}", get(webhooks::detail::<S>))
        .route(
            "/settings/webhooks/{id}/rotate",
            post(webhooks::rotate::<S>),
        )
        .route(
            "/settings/webhooks/{id}/state",
            post(webhooks::set_state::<S>),
        )
        .route(
            "/settings/webhooks/{id}/delete",
            post(webhooks::delete::<S>),
        )
        .route(
            "/settings/webhooks/{id}/deliveries/{event_id}/redeliver",
            post(webhooks::redeliver::<S>),
        )
        .route("/settings/teams", post(settings::create_team::<S>))
        .route(
            "/settings/teams/{name}",
            get(settings::team::<S>).post(settings::save_team::<S>),
        )
        .route(
            "/settings/teams/{name}/delete",
            post(settings::delete_team::<S>),
        )
        .route("/settings/connect/x", get(connect::start_x::<S>))
        .route("/settings/connect/meta", get(connect::start_meta::<S>))
        .route("/logout", post(session::logout::<S>))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            session::require::<S>,
        ));
    Router::new()
        .merge(signed_in)
        .route(
            "/login",
            get(session::login_page::<S>).post(session::login::<S>),
        )
        .route("/assets/{name}", get(assets::serve))
        // The platforms send the admin back here: no session cookie comes along (see connect).
        .route(
            "/settings/connect/x/callback",
            get(connect::x_callback::<S>),
        )
        .route(
            "/settings/connect/meta/callback",
            get(connect::meta_callback::<S>),
        )
        .route(
            "/settings/connect/meta/page",
            post(connect::choose_page::<S>),
        )
        .layer(middleware::from_fn(move |request, next| {
            page::security_headers(https, request, next)
        }))
        .with_state(console)
}
