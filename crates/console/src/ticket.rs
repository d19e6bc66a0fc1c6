//! `GET /tickets/{id}`: the conversation, the customer, and what an agent does with it. Each
//! form posts to the API's own operation (reply, assign, status, note) and comes back here.

use crate::Console;
use crate::inbox::Choice;
use crate::page::{self, Layout, render};
use crate::session::{Checked, Nothing, SignedIn, random_token};
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use socialcare_app::api::{self, NewReply, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::ownership::Assignment;
use socialcare_domain::replies::ReplyChannel;
use socialcare_domain::{Priority, Source, TicketId, TicketStatus};
use std::sync::Arc;

mod data_rights;
mod merge;
mod view;
pub(crate) use view::post_link;

pub use data_rights::{erase_customer, export_customer};
pub use merge::merge_customer;

use socialcare_domain::customer::ContactMark;
use view::*;

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    layout: Layout,
    layout_csrf: String,
    ticket: TicketView,
    messages: Vec<MessageView>,
    /// The next part of a long conversation, and where this part starts.
    later_href: Option<String>,
    conversation_href: String,
    customer: Option<CustomerView>,
    /// Other customers who gave a contact this one gave: possibly the same person.
    suggestions: Vec<SuggestionView>,
    /// Why mail to each of their addresses is not sent (it bounced, or they complained).
    marks: Vec<String>,
    trail: Vec<EventView>,
    templates: Vec<Choice>,
    teams: Vec<Choice>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    form_key: String,
    draft: String,
    draft_chars: usize,
    reply_limit: usize,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The customer a refused link found with that identity: "merge them" in one action.
    merge_with: Option<String>,
    /// Admins export and erase the customer's data from here.
    is_admin: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    /// A template to fill the reply box with (the no-script way of the template picker).
    #[serde(default)]
    template: String,
    /// What was just done, for the notice.
    #[serde(default)]
    done: String,
    /// Show the conversation from after this message (a long one comes in parts).
    #[serde(default)]
    after: String,
}

/// What a page shows on top of the ticket: a notice, an error, a draft.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    notice: Option<&'static str>,
    error: Option<String>,
    draft: String,
    template: String,
    /// The form's key when it comes back after an error: sending it again is the same reply.
    form_key: Option<String>,
    /// Where the shown part of a long conversation starts (after this message).
    after: Option<String>,
    /// The customer who has the identity an agent tried to link: offered as one to merge.
    merge_with: Option<String>,
}

async fn show<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
    outcome: Outcome,
) -> Response {
    let agent = || Some(signed_in.agent());
    let Some(ticket_id) = TicketId::parse(id) else {
        return page::error(
            StatusCode::NOT_FOUND,
            &format!("no ticket {id}"),
            agent(),
            "/",
        );
    };
    let shown = match gather(&console.api.store, &ticket_id, outcome.after.as_deref()).await {
        Ok(Some(shown)) => shown,
        Ok(None) => {
            return page::error(
                StatusCode::NOT_FOUND,
                &format!("no ticket {id}"),
                agent(),
                "/",
            );
        }
        Err(e) => return page::api_error(&e, agent(), "/"),
    };
    let mut draft = outcome.draft;
    let mut error = outcome.error;
    if draft.is_empty() && !outcome.template.is_empty() {
        match api::template_text(
            &console.api.store,
            &outcome.template,
            &shown.detail,
            &signed_in.caller,
        )
        .await
        {
            Ok(text) => draft = text,
            Err(e) => error = Some(e.message),
        }
    }
    let Some(form_key) = outcome.form_key.clone().or_else(random_token) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
            agent(),
            "/",
        );
    };
    let ticket = &shown.detail.ticket;
    // A page without its suggestions is still the ticket: a failed read leaves them out.
    let suggestions = match &shown.customer {
        Some(_) => {
            api::suggestions_by(&console.api, &signed_in.caller, ticket.customer_id.as_str())
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let marks = match &shown.customer {
        Some(_) => api::marks_by(&console.api, &signed_in.caller, ticket.customer_id.as_str())
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let teams: Vec<String> = console
        .api
        .teams()
        .await
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let page = TicketPage {
        layout: Layout::new(ticket.subject.clone(), agent(), "inbox"),
        layout_csrf: signed_in.session.csrf_token.clone(),
        is_admin: signed_in.caller.role >= socialcare_domain::access::Role::Admin,
        ticket: ticket_view(ticket, Utc::now()),
        messages: shown.detail.messages.iter().map(message_view).collect(),
        later_href: shown
            .more_messages
            .then(|| shown.detail.messages.last().map(|m| m.sort_key()))
            .flatten()
            .map(|place| format!("/tickets/{}?{}", ticket.id, after_query(&place))),
        conversation_href: match &outcome.after {
            Some(place) => format!("/tickets/{}/conversation?{}", ticket.id, after_query(place)),
            None => format!("/tickets/{}/conversation", ticket.id),
        },
        customer: shown.customer,
        suggestions: suggestions.iter().map(suggestion_view).collect(),
        marks: marks.iter().map(ContactMark::why_not_sent).collect(),
        trail: shown.trail,
        templates: shown
            .templates
            .iter()
            .map(|(id, name)| Choice {
                value: id.clone(),
                label: name.clone(),
                selected: *id == outcome.template,
            })
            .collect(),
        teams: teams
            .iter()
            .map(|name| Choice {
                value: name.clone(),
                label: name.clone(),
                selected: ticket.team.as_deref() == Some(name),
            })
            .collect(),
        statuses: TicketStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: s.as_str().replace('_', " "),
                selected: *s == ticket.status,
            })
            .collect(),
        priorities: [
            Priority::Urgent,
            Priority::High,
            Priority::Normal,
            Priority::Low,
        ]
        .iter()
        .map(|p| Choice {
            value: p.as_str().into(),
            label: p.as_str().into(),
            selected: *p == ticket.priority,
        })
        .collect(),
        form_key,
        draft_chars: draft.chars().count(),
        draft,
        reply_limit: socialcare_domain::replies::text_limit(
            &shown.detail,
            socialcare_domain::replies::ReplyChannel::Auto,
            Utc::now(),
        ),
        notice: outcome.notice,
        error,
        merge_with: outcome.merge_with,
    };
    render(outcome.status.unwrap_or(StatusCode::OK), &page)
}

/// `GET /tickets/{id}?template=&done=`
pub async fn page<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let notice = match params.done.as_str() {
        "reply" => Some("Reply queued: it shows as sent once the platform has it."),
        "assign" => Some("Assigned."),
        "unassign" => Some("Unassigned: the ticket is back in the queue."),
        "status" => Some("Status changed."),
        "priority" => Some("Priority changed."),
        "note" => Some("Note added."),
        "identity" => Some("Identity linked: their messages from it join this customer."),
        "merged" => {
            Some("Customers merged: every identity and ticket of theirs is this customer's now.")
        }
        "erased" => {
            Some("The customer's data is erased: this ticket keeps only what names nobody.")
        }
        _ => None,
    };
    let after = match params.after.as_str() {
        "" => None,
        place if is_message_place(place) => Some(place.to_string()),
        _ => {
            return page::error(
                StatusCode::BAD_REQUEST,
                "That is not a place in a conversation.",
                Some(signed_in.agent()),
                &format!("/tickets/{id}"),
            );
        }
    };
    let outcome = Outcome {
        notice,
        template: params.template,
        after,
        ..Outcome::default()
    };
    show(&console, &signed_in, &id, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct PreviewParams {
    template: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPart {
    messages: Vec<MessageView>,
}

/// `GET /tickets/{id}/conversation`: the messages alone, for the page to refresh itself (a
/// reply turning sent shows without a reload).
pub async fn conversation<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let after = Some(params.after.as_str()).filter(|a| is_message_place(a));
    let agent = || Some(signed_in.agent());
    let Some(ticket_id) = TicketId::parse(&id) else {
        return page::error(
            StatusCode::NOT_FOUND,
            &format!("no ticket {id}"),
            agent(),
            "/",
        );
    };
    let store = &console.api.store;
    match store.get_ticket(&ticket_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return page::error(
                StatusCode::NOT_FOUND,
                &format!("no ticket {id}"),
                agent(),
                "/",
            );
        }
        Err(e) => return page::api_error(&ApiError::store(e), agent(), "/"),
    }
    match store.ticket_messages(&ticket_id, after, SHOWN).await {
        Ok(messages) => render(
            StatusCode::OK,
            &ConversationPart {
                messages: messages.iter().map(message_view).collect(),
            },
        ),
        Err(e) => page::api_error(&ApiError::store(e), agent(), "/"),
    }
}

/// `GET /tickets/{id}/preview?template=`: the template filled for this ticket, as text.
pub async fn preview<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    params: Result<Query<PreviewParams>, QueryRejection>,
) -> Response {
    let text_error = |status: StatusCode, message: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    };
    let Ok(Query(params)) = params else {
        return text_error(StatusCode::BAD_REQUEST, "give ?template=<id>".into());
    };
    let Some(ticket_id) = TicketId::parse(&id) else {
        return text_error(StatusCode::NOT_FOUND, format!("no ticket {id}"));
    };
    let detail = match console.api.store.ticket_detail(&ticket_id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return text_error(StatusCode::NOT_FOUND, format!("no ticket {id}")),
        Err(e) => {
            let e = ApiError::store(e);
            return text_error(e.status, e.message);
        }
    };
    match api::template_text(
        &console.api.store,
        &params.template,
        &detail,
        &signed_in.caller,
    )
    .await
    {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(e) => text_error(e.status, e.message),
    }
}

fn after_query(place: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("after", place)
        .finish()
}

/// Back to the ticket after an action (a redirect only to a ticket id's own page).
fn done(id: &str, what: &str) -> Response {
    match TicketId::parse(id) {
        Some(id) => Redirect::to(&format!("/tickets/{id}?done={what}")).into_response(),
        None => Redirect::to("/").into_response(),
    }
}

fn unreadable(signed_in: &SignedIn, id: &str) -> Response {
    page::error(
        StatusCode::BAD_REQUEST,
        "The form could not be read.",
        Some(signed_in.agent()),
        &format!("/tickets/{id}"),
    )
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    form_key: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    channel: String,
}

/// `POST /tickets/{id}/reply`: one reply per form, however often it is sent (the form's own
/// key is the reply's idempotency key).
pub async fn reply<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<ReplyForm>,
) -> Response {
    let channel = match form.channel.as_str() {
        "public" => ReplyChannel::Public,
        "private" => ReplyChannel::Private,
        "auto" | "" => ReplyChannel::Auto,
        _ => return unreadable(&signed_in, &id),
    };
    let text = form.text.trim().to_string();
    let request = NewReply {
        text: (!text.is_empty()).then(|| text.clone()),
        template: (text.is_empty() && !form.template.is_empty()).then(|| form.template.clone()),
        channel,
    };
    let form_key = match form.form_key.as_str() {
        key if (16..=100).contains(&key.len()) => key.to_string(),
        _ => return unreadable(&signed_in, &id),
    };
    let key = api::idempotent_key(&signed_in.caller, &id, &form_key);
    match api::reply_by(&console.api, &signed_in.caller, &id, &request, key).await {
        Ok(_) => done(&id, "reply"),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            page::api_error(&e, Some(signed_in.agent()), "/")
        }
        Err(e) => {
            let outcome = Outcome {
                status: Some(e.status),
                error: Some(e.message),
                draft: form.text,
                template: form.template,
                form_key: Some(form_key),
                ..Outcome::default()
            };
            show(&console, &signed_in, &id, outcome).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    team: String,
}

/// `POST /tickets/{id}/assign`
pub async fn assign<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<AssignForm>,
) -> Response {
    let filled = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let assignment = Assignment {
        agent: filled(&form.agent),
        team: filled(&form.team),
    };
    let result = api::assign_by(&console.api, &signed_in.caller, &id, &assignment).await;
    acted(&console, &signed_in, &id, "assign", result).await
}

/// `POST /tickets/{id}/unassign`
pub async fn unassign<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(Nothing {}): Checked<Nothing>,
) -> Response {
    let result = api::unassign_by(&console.api, &signed_in.caller, &id).await;
    acted(&console, &signed_in, &id, "unassign", result).await
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

/// `POST /tickets/{id}/status`
pub async fn status<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<StatusForm>,
) -> Response {
    let result = api::change_status_by(&console.api, &signed_in.caller, &id, &form.status).await;
    acted(&console, &signed_in, &id, "status", result).await
}

#[derive(Debug, Deserialize)]
pub struct PriorityForm {
    #[serde(default)]
    priority: String,
}

/// `POST /tickets/{id}/priority`
pub async fn priority<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<PriorityForm>,
) -> Response {
    let result =
        api::change_priority_by(&console.api, &signed_in.caller, &id, &form.priority).await;
    acted(&console, &signed_in, &id, "priority", result).await
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    text: String,
}

/// `POST /tickets/{id}/note`
pub async fn note<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<NoteForm>,
) -> Response {
    let result = api::add_note_by(&console.api, &signed_in.caller, &id, &form.text).await;
    acted(&console, &signed_in, &id, "note", result).await
}

/// After an action: back to the ticket with its notice, or the ticket again with the reason.
async fn acted<S: Store, T>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
    what: &str,
    result: Result<T, ApiError>,
) -> Response {
    match result {
        Ok(_) => done(id, what),
        Err(e) => failed(console, signed_in, id, e).await,
    }
}

/// A refused action: the ticket page again with the reason on top (or an error page when
/// there is no ticket to show).
async fn failed<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
    e: ApiError,
) -> Response {
    if e.status == StatusCode::NOT_FOUND {
        return page::api_error(&e, Some(signed_in.agent()), "/");
    }
    let outcome = Outcome {
        status: Some(e.status),
        error: Some(e.message),
        ..Outcome::default()
    };
    show(console, signed_in, id, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct IdentityForm {
    #[serde(default)]
    source: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    handle: String,
}

/// `POST /tickets/{id}/identities`: links another identity to the ticket's customer.
pub async fn link_identity<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<IdentityForm>,
) -> Response {
    let source = match form.source.as_str() {
        "x" => Source::X,
        "facebook" => Source::Facebook,
        "instagram" => Source::Instagram,
        "integration" => Source::Integration,
        "email" => Source::Email,
        _ => return unreadable(&signed_in, &id),
    };
    let customer = match TicketId::parse(&id) {
        Some(ticket_id) => match console.api.store.get_ticket(&ticket_id).await {
            Ok(Some(ticket)) => ticket.customer_id,
            Ok(None) => {
                return page::error(
                    StatusCode::NOT_FOUND,
                    &format!("no ticket {id}"),
                    Some(signed_in.agent()),
                    "/",
                );
            }
            Err(e) => return page::api_error(&ApiError::store(e), Some(signed_in.agent()), "/"),
        },
        None => {
            return page::error(
                StatusCode::NOT_FOUND,
                &format!("no ticket {id}"),
                Some(signed_in.agent()),
                "/",
            );
        }
    };
    let request = api::NewIdentity {
        source,
        account: form.account.trim().to_string(),
        user_id: form.user_id.trim().to_string(),
        handle: Some(form.handle.trim().trim_start_matches('@').to_string())
            .filter(|h| !h.is_empty()),
    };
    let key = socialcare_domain::Identity {
        source: request.source,
        account: request.account.clone(),
        user_id: request.user_id.clone(),
        handle: None,
    }
    .key();
    let result =
        api::link_identity_by(&console.api, &signed_in.caller, customer.as_str(), request).await;
    match result {
        // The identity is another customer's: the same person, most likely; offer the merge.
        Err(e) if e.code == "identity_taken" => {
            let owner = console.api.store.find_customer(&key).await.ok().flatten();
            let outcome = Outcome {
                status: Some(e.status),
                error: Some(e.message),
                merge_with: owner.map(|c| c.id.to_string()),
                ..Outcome::default()
            };
            show(&console, &signed_in, &id, outcome).await
        }
        result => acted(&console, &signed_in, &id, "identity", result).await,
    }
}
