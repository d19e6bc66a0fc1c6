//! `/settings/webhooks` (admin): the webhook subscriptions that hear socialcare's events: make
//! one (its secret shown once), rotate its secret, turn it off and on, delete it, and see each
//! event's delivery with its attempts, sending one again; through the API's own operations.

use crate::Console;
use crate::format::when;
use crate::page::{self, Layout, render};
use crate::session::{Checked, Nothing, SignedIn};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use socialcare_app::api::{self, EVENT_TYPES, NewSubscription, Store, SubscriptionChange};
use socialcare_app::error::ApiError;
use socialcare_domain::subscriptions::DeliveryOutcome;
use std::collections::HashMap;
use std::sync::Arc;

pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    /// "every type", or the types, comma-separated.
    pub events: String,
    pub state: String,
    pub created: String,
}

pub struct DeliveryRow {
    pub event_id: String,
    pub kind: String,
    pub happened: String,
    pub outcome: &'static str,
    pub attempts: usize,
    /// The latest attempt's answer or error.
    pub last: String,
}

/// A secret just made: shown on this answer and never again.
pub struct Secret {
    pub subscription_id: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "settings_webhooks.html")]
struct ListPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    subscriptions: Vec<SubscriptionRow>,
    types: Vec<&'static str>,
    made: Option<Secret>,
}

#[derive(Template)]
#[template(path = "settings_webhook.html")]
struct DetailPage {
    layout: Layout,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    subscription: SubscriptionRow,
    enabled: bool,
    previous_until: Option<String>,
    deliveries: Vec<DeliveryRow>,
    made: Option<Secret>,
}

/// What a page shows on top.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    notice: Option<&'static str>,
    error: Option<String>,
    made: Option<Secret>,
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

fn row(view: &api::SubscriptionView) -> SubscriptionRow {
    SubscriptionRow {
        id: view.id.clone(),
        url: view.url.clone(),
        events: match view.events.is_empty() {
            true => "every type".into(),
            false => view.events.join(", "),
        },
        state: match (&view.disabled_at, &view.failing_since) {
            (Some(at), _) => format!(
                "off since {}{}",
                when(*at),
                view.disabled_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            (None, Some(since)) => format!("on, failing since {}", when(*since)),
            (None, None) => "on".into(),
        },
        created: format!("{} by {}", when(view.created_at), view.created_by),
    }
}

async fn list_page<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    outcome: Outcome,
) -> Response {
    let list = match api::list_subscriptions_by(&console.api, &signed_in.caller).await {
        Ok(list) => list,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), "/settings"),
    };
    let page = ListPage {
        layout: Layout::new("Webhooks", Some(signed_in.agent()), "settings"),
        tab: "webhooks",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        subscriptions: list.subscriptions.iter().map(row).collect(),
        types: EVENT_TYPES.to_vec(),
        made: outcome.made,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

async fn detail_page<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
    outcome: Outcome,
) -> Response {
    let back = "/settings/webhooks";
    let list = match api::list_subscriptions_by(&console.api, &signed_in.caller).await {
        Ok(list) => list,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), back),
    };
    let Some(view) = list.subscriptions.iter().find(|s| s.id == id) else {
        let missing = ApiError::not_found(format!("no webhook subscription {id}"));
        return page::api_error(&missing, Some(signed_in.agent()), back);
    };
    let deliveries = match api::list_deliveries_by(&console.api, &signed_in.caller, id, None).await
    {
        Ok(list) => list.deliveries,
        Err(e) => return page::api_error(&e, Some(signed_in.agent()), back),
    };
    let page = DetailPage {
        layout: Layout::new("Webhook", Some(signed_in.agent()), "settings"),
        tab: "webhooks",
        notice: outcome.notice,
        error: outcome.error,
        csrf: signed_in.session.csrf_token.clone(),
        subscription: row(view),
        enabled: view.enabled,
        previous_until: view.previous_secret_until.map(when),
        deliveries: deliveries
            .iter()
            .map(|d| DeliveryRow {
                event_id: d.event.id.clone(),
                kind: d.event.body.kind().to_string(),
                happened: when(d.event.created_at),
                outcome: match d.outcome {
                    DeliveryOutcome::Pending => "pending",
                    DeliveryOutcome::Delivered => "delivered",
                    DeliveryOutcome::Dead => "dead",
                },
                attempts: d.attempts.len(),
                last: d
                    .attempts
                    .last()
                    .map(|a| match (a.status, &a.error) {
                        (_, Some(error)) => format!("{}: {error}", when(a.at)),
                        (Some(status), None) => format!("{}: {status}", when(a.at)),
                        (None, None) => when(a.at),
                    })
                    .unwrap_or_else(|| "not tried yet".into()),
            })
            .collect(),
        made: outcome.made,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /settings/webhooks`
pub async fn list<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refused) = crate::settings::admin_only(&signed_in) {
        return refused;
    }
    list_page(&console, &signed_in, Outcome::default()).await
}

/// `POST /settings/webhooks` (`url`, a checkbox `type:<event type>` for each type wanted;
/// none: every type): the new subscription's secret, shown on the answer and never again.
pub async fn create<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Checked(form): Checked<HashMap<String, String>>,
) -> Response {
    let request = NewSubscription {
        url: form.get("url").cloned().unwrap_or_default(),
        events: EVENT_TYPES
            .iter()
            .filter(|kind| form.contains_key(&format!("type:{kind}")))
            .map(|kind| kind.to_string())
            .collect(),
    };
    let outcome = match api::create_subscription_by(&console.api, &signed_in.caller, request).await
    {
        Ok(made) => Outcome {
            made: Some(Secret {
                subscription_id: made.subscription.id,
                secret: made.secret,
            }),
            ..Outcome::done("Subscription made: events go to it from now on.")
        },
        Err(e) => Outcome::failed(e),
    };
    list_page(&console, &signed_in, outcome).await
}

/// `GET /settings/webhooks/{id}`: the subscription and its deliveries, the latest first.
pub async fn detail<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = crate::settings::admin_only(&signed_in) {
        return refused;
    }
    detail_page(&console, &signed_in, &id, Outcome::default()).await
}

/// `POST /settings/webhooks/{id}/rotate`: a new secret, shown once; the one before signs
/// beside it for a day.
pub async fn rotate<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let outcome = match api::rotate_secret_by(&console.api, &signed_in.caller, &id).await {
        Ok(made) => Outcome {
            made: Some(Secret {
                subscription_id: made.subscription.id,
                secret: made.secret,
            }),
            ..Outcome::done("New secret made: the one before still signs beside it for a day.")
        },
        Err(e) => Outcome::failed(e),
    };
    detail_page(&console, &signed_in, &id, outcome).await
}

/// `POST /settings/webhooks/{id}/state` (`enabled`: `true` or `false`).
pub async fn set_state<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<HashMap<String, String>>,
) -> Response {
    let enabled = match form.get("enabled").map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_subscription",
                "Turn it on or off.",
            );
            return detail_page(&console, &signed_in, &id, Outcome::failed(e)).await;
        }
    };
    let change = SubscriptionChange {
        url: None,
        events: None,
        enabled: Some(enabled),
    };
    let outcome =
        match api::change_subscription_by(&console.api, &signed_in.caller, &id, change).await {
            Ok(_) if enabled => Outcome::done("Turned on: new events go to it again."),
            Ok(_) => Outcome::done("Turned off: nothing is sent to it."),
            Err(e) => Outcome::failed(e),
        };
    detail_page(&console, &signed_in, &id, outcome).await
}

/// `POST /settings/webhooks/{id}/delete`
pub async fn delete<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    match api::delete_subscription_by(&console.api, &signed_in.caller, &id).await {
        Ok(()) => Redirect::to("/settings/webhooks").into_response(),
        Err(e) => detail_page(&console, &signed_in, &id, Outcome::failed(e)).await,
    }
}

/// `POST /settings/webhooks/{id}/deliveries/{event_id}/redeliver`: sends the event again.
pub async fn redeliver<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path((id, event_id)): Path<(String, String)>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let outcome = match api::redeliver_by(&console.api, &signed_in.caller, &id, &event_id).await {
        Ok(_) => Outcome::done("Queued: it is sent again in a moment."),
        Err(e) => Outcome::failed(e),
    };
    detail_page(&console, &signed_in, &id, outcome).await
}
