//! `GET /`: the inbox. Its rows (`GET /inbox/rows`, same query) are what the page refreshes.

use crate::Console;
use crate::format::{SlaBadge, customer_name, sla_badge};
use crate::page::{self, Layout, render};
use crate::session::SignedIn;
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use socialcare_app::api::Store;
use socialcare_domain::inbox::{InboxQuery, InboxView};
use socialcare_domain::{Priority, Source, Ticket};
use std::collections::HashMap;
use std::sync::Arc;

/// The query of the inbox: a view and its filters, all optional.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct InboxParams {
    #[serde(default)]
    view: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    limit: String,
}

/// Why an inbox query is refused (400, with this text).
#[derive(Debug, thiserror::Error)]
enum BadInboxQuery {
    #[error(transparent)]
    View(#[from] socialcare_domain::inbox::UnknownView),
    #[error("unknown channel {0:?}")]
    Channel(String),
    #[error("unknown priority {0:?}")]
    Priority(String),
    #[error("limit must be a number from 1 to {MAX_ROWS}")]
    Limit,
}

/// How many customers of a page are read at the same time.
const CUSTOMER_READS_AT_ONCE: usize = 16;

/// The most rows one view shows ("Show more" adds a hundred at a time).
const MAX_ROWS: u32 = 500;

const SOURCES: [Source; 5] = [
    Source::X,
    Source::Facebook,
    Source::Instagram,
    Source::Email,
    Source::Integration,
];
const PRIORITIES: [Priority; 4] = [
    Priority::Urgent,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

impl InboxParams {
    fn query(&self, agent: &str) -> Result<InboxQuery, BadInboxQuery> {
        let view = match self.view.as_str() {
            "" => InboxView::Open,
            raw => raw.parse::<InboxView>()?,
        };
        let mut query = InboxQuery::new(view, agent);
        query.account = Some(self.account.trim().to_string()).filter(|a| !a.is_empty());
        query.source = match self.channel.as_str() {
            "" => None,
            raw => Some(
                SOURCES
                    .into_iter()
                    .find(|s| s.as_str() == raw)
                    .ok_or_else(|| BadInboxQuery::Channel(raw.to_string()))?,
            ),
        };
        query.priority = match self.priority.as_str() {
            "" => None,
            raw => Some(
                PRIORITIES
                    .into_iter()
                    .find(|p| p.as_str() == raw)
                    .ok_or_else(|| BadInboxQuery::Priority(raw.to_string()))?,
            ),
        };
        query.team = Some(self.team.clone()).filter(|t| !t.is_empty());
        query.limit = match self.limit.as_str() {
            "" => InboxQuery::DEFAULT_LIMIT,
            raw => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_ROWS).contains(n))
                .ok_or(BadInboxQuery::Limit)?,
        };
        Ok(query)
    }

    /// This query with another view (the filters stay, the length starts again).
    fn with_view(&self, view: InboxView) -> String {
        let params = InboxParams {
            view: view.as_str().into(),
            limit: String::new(),
            ..self.clone()
        };
        encode(&params)
    }

    /// This query showing `limit` rows.
    fn with_limit(&self, view: InboxView, limit: u32) -> String {
        let params = InboxParams {
            view: view.as_str().into(),
            limit: limit.to_string(),
            ..self.clone()
        };
        encode(&params)
    }
}

fn encode(params: &InboxParams) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("view", &params.view),
        ("account", &params.account),
        ("channel", &params.channel),
        ("priority", &params.priority),
        ("team", &params.team),
        ("limit", &params.limit),
    ] {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices<'a>(items: impl IntoIterator<Item = &'a str>, current: &str) -> Vec<Choice> {
    items
        .into_iter()
        .map(|item| Choice {
            value: item.to_string(),
            label: item.to_string(),
            selected: item == current,
        })
        .collect()
}

pub struct ViewLink {
    pub title: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct Row {
    pub id: String,
    pub customer: String,
    pub subject: String,
    pub channel: String,
    pub priority: &'static str,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub sla: Option<SlaBadge>,
    pub incident: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    view: &'static str,
    views: Vec<ViewLink>,
    filters: InboxParams,
    channels: Vec<Choice>,
    priorities: Vec<Choice>,
    teams: Vec<Choice>,
    rows_href: String,
    rows: Vec<Row>,
    /// When the view may hold more rows than shown.
    more_href: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox_rows.html")]
struct InboxRows {
    rows: Vec<Row>,
}

async fn rows_of<S: Store>(store: &S, tickets: Vec<Ticket>) -> Result<Vec<Row>, Response> {
    // One read per customer shown, sixteen at a time (a long view must not burst the store).
    let mut ids: Vec<_> = tickets.iter().map(|t| t.customer_id.clone()).collect();
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.dedup();
    let mut reads = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CUSTOMER_READS_AT_ONCE) {
        reads
            .extend(futures::future::join_all(chunk.iter().map(|id| store.get_customer(id))).await);
    }
    let mut names = HashMap::new();
    for (id, read) in ids.iter().zip(reads) {
        let customer = read
            .map_err(|e| page::api_error(&socialcare_app::error::ApiError::store(e), None, "/"))?;
        names.insert(id.as_str().to_string(), customer_name(customer.as_ref()));
    }
    let now = Utc::now();
    Ok(tickets
        .into_iter()
        .map(|t| Row {
            customer: names
                .get(t.customer_id.as_str())
                .cloned()
                .unwrap_or_else(|| "customer".into()),
            id: t.id.to_string(),
            subject: t.subject.clone(),
            channel: t.source.to_string(),
            priority: t.priority.as_str(),
            owner: t.owner.clone(),
            team: t.team.clone(),
            sla: sla_badge(&t, now),
            incident: t.incident_id.as_ref().map(|i| i.to_string()),
        })
        .collect())
}

async fn read<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Result<(InboxParams, InboxQuery, Vec<Row>), Response> {
    let bad = |message: String| {
        page::error(
            StatusCode::BAD_REQUEST,
            &message,
            Some(signed_in.agent()),
            "/",
        )
    };
    let Query(params) = params.map_err(|e| bad(e.body_text()))?;
    let query = params
        .query(&signed_in.caller.name)
        .map_err(|e| bad(e.to_string()))?;
    let tickets = console.api.store.inbox(&query).await.map_err(|e| {
        page::api_error(
            &socialcare_app::error::ApiError::store(e),
            Some(signed_in.agent()),
            "/",
        )
    })?;
    let rows = rows_of(&console.api.store, tickets).await?;
    Ok((params, query, rows))
}

/// `GET /?view=&account=&channel=&priority=&team=`
pub async fn page<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Response {
    let (params, query, rows) = match read(&console, &signed_in, params).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let team_names: Vec<String> = console
        .api
        .teams()
        .await
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let page = InboxPage {
        layout: Layout::new(
            format!("Inbox: {}", query.view.title()),
            Some(signed_in.agent()),
            "inbox",
        ),
        view: query.view.as_str(),
        views: InboxView::ALL
            .into_iter()
            .map(|view| ViewLink {
                title: view.title(),
                href: format!("/?{}", params.with_view(view)),
                current: view == query.view,
            })
            .collect(),
        channels: choices(SOURCES.iter().map(|s| s.as_str()), &params.channel),
        priorities: choices(PRIORITIES.iter().map(|p| p.as_str()), &params.priority),
        teams: choices(team_names.iter().map(String::as_str), &params.team),
        rows_href: format!("/inbox/rows?{}", params.with_limit(query.view, query.limit)),
        more_href: (rows.len() == query.limit as usize && query.limit < MAX_ROWS).then(|| {
            format!(
                "/?{}",
                params.with_limit(query.view, (query.limit + 100).min(MAX_ROWS))
            )
        }),
        filters: params,
        rows,
    };
    render(StatusCode::OK, &page)
}

/// `GET /inbox/rows?...`: the rows alone, for the page to refresh itself.
pub async fn rows<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Response {
    match read(&console, &signed_in, params).await {
        Ok((_, _, rows)) => render(StatusCode::OK, &InboxRows { rows }),
        Err(page) => page,
    }
}
