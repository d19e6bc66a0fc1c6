//! `GET /incidents` and `GET /incidents/{id}`: spikes of complaints, each with its chart, its
//! tickets and one answer for all (`POST /incidents/{id}/updates`) with the updates' progress.

use crate::Console;
use crate::chart;
use crate::format::{span, when};
use crate::page::{self, Layout, render};
use crate::session::{Checked, SignedIn, random_token};
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use socialcare_app::api::{self, NewUpdate, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::incidents::{Incident, IncidentStatus};
use socialcare_domain::replies::DeliveryState;
use socialcare_domain::updates::IncidentUpdate;
use socialcare_domain::{IncidentId, TicketQuery};
use std::sync::Arc;

/// Windows drawn before the spike's (its baseline) and at most after it.
const BEFORE: i64 = 12;
const AFTER: i64 = 6;

pub struct IncidentRow {
    pub id: String,
    pub account: String,
    pub channel: &'static str,
    pub topic: String,
    /// The start of the complaint that opened it, or how to name it when that was erased.
    pub example: String,
    pub example_erased: bool,
    pub status: &'static str,
    pub opened: String,
    pub opened_iso: String,
}

fn row(incident: &Incident) -> IncidentRow {
    IncidentRow {
        id: incident.id.to_string(),
        account: incident.account.clone(),
        channel: incident.source.as_str(),
        topic: incident.topic.clone(),
        example: match incident.example.is_empty() {
            true => format!("{} (the example was erased)", incident.topic),
            false => incident.example.clone(),
        },
        example_erased: incident.example.is_empty(),
        status: match incident.status {
            IncidentStatus::Active => "active",
            IncidentStatus::Resolved => "resolved",
        },
        opened: when(incident.opened_at),
        opened_iso: incident.opened_at.to_rfc3339(),
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    layout: Layout,
    incidents: Vec<IncidentRow>,
}

/// `GET /incidents`
pub async fn list<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    match console.api.store.list_incidents(50).await {
        Ok(incidents) => render(
            StatusCode::OK,
            &IncidentsPage {
                layout: Layout::new("Incidents", Some(signed_in.agent()), "incidents"),
                incidents: incidents.iter().map(row).collect(),
            },
        ),
        Err(e) => page::api_error(&ApiError::store(e), Some(signed_in.agent()), "/"),
    }
}

pub struct Chart {
    pub svg: String,
    pub window_minutes: u32,
    pub baseline: String,
    pub spike_count: u64,
}

pub struct TicketLink {
    pub id: String,
    pub subject: String,
    pub status: &'static str,
}

pub struct UpdateView {
    pub id: String,
    pub text: String,
    pub author: String,
    pub created: String,
    pub created_iso: String,
    pub resolves: bool,
    pub answered: u64,
    pub skipped: u64,
    pub last_skip: Option<String>,
    pub public_post: String,
    pub progress: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    layout: Layout,
    incident: IncidentRow,
    chart: Chart,
    tickets: Vec<TicketLink>,
    more_tickets: bool,
    updates: Vec<UpdateView>,
    pace: String,
    csrf: String,
    form_key: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// `attached`: the incident's tickets counted, `None` when there are more than one page.
fn update_view(update: &IncidentUpdate, attached: Option<usize>) -> UpdateView {
    let public_post = match &update.public_post {
        None => "not posted publicly".to_string(),
        Some(post) => match post.state {
            DeliveryState::Sent => format!(
                "posted{}",
                post.platform_id
                    .as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default()
            ),
            DeliveryState::Failed => format!(
                "failed: {}",
                post.error.as_deref().unwrap_or("no reason given")
            ),
            DeliveryState::Pending | DeliveryState::Sending => "waiting its turn".into(),
            DeliveryState::Unconfirmed => "sent, not confirmed".into(),
        },
    };
    let done = update.answered + update.skipped;
    let progress = match (update.finished_at, attached) {
        (Some(at), _) => format!("finished {}", when(at)),
        (None, Some(attached)) => {
            let left = (attached as u64).saturating_sub(done);
            let pace = update.pace;
            // The pace allows `posts` every `per_seconds`: what is left takes that long.
            let seconds = left * u64::from(pace.per_seconds) / u64::from(pace.posts.max(1));
            format!(
                "{done} of {attached} done; the rest in about {} at {} posts per {} s",
                span(Duration::seconds(seconds as i64)),
                pace.posts,
                pace.per_seconds
            )
        }
        (None, None) => format!(
            "{done} done so far, at {} posts per {} s",
            update.pace.posts, update.pace.per_seconds
        ),
    };
    UpdateView {
        id: update.id.to_string(),
        text: update.text.clone(),
        author: update.author.clone(),
        created: when(update.created_at),
        created_iso: update.created_at.to_rfc3339(),
        resolves: update.resolves,
        answered: update.answered,
        skipped: update.skipped,
        last_skip: update.last_skip.clone(),
        public_post,
        progress,
    }
}

async fn chart<S: Store>(store: &S, incident: &Incident) -> Result<Chart, ApiError> {
    let spike = &incident.spike;
    let window = Duration::minutes(i64::from(spike.window_minutes.max(1)));
    let now = Utc::now();
    let windows: Vec<_> = (-BEFORE..=AFTER)
        .map(|n| spike.window_start + window * n as i32)
        .filter(|start| *start <= now)
        .collect();
    // One read per window: a window without complaints has no count.
    let reads =
        futures::future::join_all(windows.iter().map(|w| {
            store.topic_history(&incident.account, &incident.topic, std::slice::from_ref(w))
        }))
        .await;
    let mut values = Vec::new();
    for (start, read) in windows.iter().zip(reads) {
        let count = read.map_err(ApiError::store)?.first().copied().unwrap_or(0);
        values.push((start.format("%H:%M").to_string(), count as f64));
    }
    let highlight = windows.iter().position(|w| *w == spike.window_start);
    Ok(Chart {
        svg: chart::bars(
            &format!("complaints about {} per window", incident.topic),
            &values,
            Some(spike.baseline),
            highlight,
        ),
        window_minutes: spike.window_minutes,
        baseline: format!("{:.1}", spike.baseline),
        spike_count: spike.count,
    })
}

async fn show<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
    notice: Option<&'static str>,
    error: Option<(StatusCode, String)>,
    form_key: Option<String>,
) -> Response {
    let agent = || Some(signed_in.agent());
    let missing = || {
        page::error(
            StatusCode::NOT_FOUND,
            &format!("no incident {id}"),
            agent(),
            "/incidents",
        )
    };
    let Some(incident_id) = IncidentId::parse(id) else {
        return missing();
    };
    let store = &console.api.store;
    let incident = match store.get_incident(&incident_id).await {
        Ok(Some(incident)) => incident,
        Ok(None) => return missing(),
        Err(e) => return page::api_error(&ApiError::store(e), agent(), "/incidents"),
    };
    let read = async {
        let tickets = store
            .incident_tickets(&incident_id, &TicketQuery::newest(TicketQuery::MAX_LIMIT))
            .await
            .map_err(ApiError::store)?;
        let updates = store
            .incident_updates(&incident_id)
            .await
            .map_err(ApiError::store)?;
        let chart = chart(store, &incident).await?;
        Ok::<_, ApiError>((tickets, updates, chart))
    };
    let (tickets, updates, chart) = match read.await {
        Ok(read) => read,
        Err(e) => return page::api_error(&e, agent(), "/incidents"),
    };
    let Some(form_key) = form_key.or_else(random_token) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
            agent(),
            "/incidents",
        );
    };
    let attached = tickets.next.is_none().then_some(tickets.items.len());
    let pace = console
        .api
        .configuration
        .current()
        .await
        .rules
        .paces
        .of(&incident.account, incident.source);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = IncidentPage {
        layout: Layout::new(format!("Incident {}", incident.topic), agent(), "incidents"),
        incident: row(&incident),
        chart,
        more_tickets: tickets.next.is_some(),
        tickets: tickets
            .items
            .iter()
            .map(|t| TicketLink {
                id: t.id.to_string(),
                subject: t.subject.clone(),
                status: t.status.as_str(),
            })
            .collect(),
        updates: updates.iter().map(|u| update_view(u, attached)).collect(),
        pace: format!("{} posts per {} s", pace.posts, pace.per_seconds),
        csrf: signed_in.session.csrf_token.clone(),
        form_key,
        notice,
        error,
    };
    render(status, &page)
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneParams {
    #[serde(default)]
    done: String,
}

/// `GET /incidents/{id}`
pub async fn detail<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    params: Result<Query<DoneParams>, QueryRejection>,
) -> Response {
    let done = params.map(|Query(p)| p.done).unwrap_or_default();
    let notice = (done == "update").then_some("Update queued: its progress shows below.");
    show(&console, &signed_in, &id, notice, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    form_key: String,
    #[serde(default)]
    text: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    post_publicly: Option<String>,
    #[serde(default)]
    resolve: Option<String>,
}

/// `POST /incidents/{id}/updates`: one update per form, however often it is sent.
pub async fn post_update<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<UpdateForm>,
) -> Response {
    if !(16..=100).contains(&form.form_key.len()) {
        return page::error(
            StatusCode::BAD_REQUEST,
            "The form could not be read.",
            Some(signed_in.agent()),
            &format!("/incidents/{id}"),
        );
    }
    let request = NewUpdate {
        text: form.text,
        post_publicly: form.post_publicly.is_some(),
        resolve: form.resolve.is_some(),
    };
    let key = api::idempotent_key(&signed_in.caller, &id, &form.form_key);
    match api::post_update_by(&console.api, &signed_in.caller, &id, &request, key).await {
        Ok(update) => {
            Redirect::to(&format!("/incidents/{}?done=update", update.incident_id)).into_response()
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            page::api_error(&e, Some(signed_in.agent()), "/incidents")
        }
        // The form comes back with its key: sending it again is the same update.
        Err(e) => {
            let failed = Some((e.status, e.message));
            show(&console, &signed_in, &id, None, failed, Some(form.form_key)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use socialcare_domain::Source;
    use socialcare_domain::incident::Spike;

    #[test]
    fn an_incident_whose_example_was_erased_is_named_by_its_term() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let spike = Spike {
            window_start: at,
            window_minutes: 10,
            count: 12,
            baseline: 1.0,
        };
        let mut incident = Incident::open(Source::X, "acme", "outag", "fibre down", at, spike);
        let shown = row(&incident);
        assert_eq!(shown.example, "fibre down");
        assert!(!shown.example_erased);
        incident.example = String::new();
        let shown = row(&incident);
        assert_eq!(shown.example, "outag (the example was erased)");
        assert!(shown.example_erased);
    }
}
