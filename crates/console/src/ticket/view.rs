//! What a ticket page shows, read and shaped for its template: the conversation with each
//! reply's delivery, the customer with their tickets, the trail.

use crate::format::{SlaBadge, customer_name, sla_badge, when};
use chrono::{DateTime, Utc};
use socialcare_app::api::Store;
use socialcare_app::error::ApiError;
use socialcare_domain::contacts::Suggestion;
use socialcare_domain::customer::ContactKind;
use socialcare_domain::message::FoundBy;
use socialcare_domain::replies::DeliveryState;
use socialcare_domain::{
    Actor, Channel, Direction, EventKind, Message, Source, Ticket, TicketDetail, TicketId,
    TicketQuery,
};

/// How many messages and trail entries a page shows (the API pages through the rest).
pub(super) const SHOWN: u32 = 200;

/// How many of the customer's tickets the panel lists, newest first.
const CUSTOMER_TICKETS_SHOWN: u32 = 100;

pub struct TicketView {
    pub id: String,
    pub subject: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub channel: &'static str,
    pub account: String,
    pub sla: Option<SlaBadge>,
    pub incident: Option<String>,
    pub owner: Option<String>,
    pub owner_value: String,
    pub team: Option<String>,
    /// Its customer's data was erased.
    pub erased: bool,
    /// Its earliest message is the brand's: no response time is measured on it.
    pub opened_by_brand: bool,
}

pub struct DeliveryView {
    pub state: &'static str,
    pub link: Option<String>,
    pub reason: Option<String>,
}

pub struct AttachmentView {
    pub kind: String,
    /// The address, or a kept file's name, type and size.
    pub label: String,
    /// Only http(s) addresses and kept files become links (a `javascript:` one stays text).
    pub href: Option<String>,
}

fn attachment_view(attachment: &socialcare_domain::Attachment) -> AttachmentView {
    let Some(file) = &attachment.file else {
        return AttachmentView {
            kind: attachment.kind.clone(),
            label: attachment.url.clone(),
            href: safe_href(&attachment.url),
        };
    };
    let size = crate::format::file_size(file.size);
    let kept = attachment.url == socialcare_app::attachments::attachment_path(&file.sha256);
    AttachmentView {
        kind: attachment.kind.clone(),
        label: match kept {
            true => format!("{} ({}, {size})", file.name, file.content_type),
            false => format!("{} ({}, {size}; not kept)", file.name, file.content_type),
        },
        href: kept.then(|| crate::attachments::download_href(&file.sha256, &file.name)),
    }
}

pub struct MessageView {
    pub id: String,
    pub direction: &'static str,
    pub author: String,
    pub channel: &'static str,
    pub at: String,
    pub at_iso: String,
    pub text: String,
    pub edited: bool,
    pub removed: bool,
    pub hidden: bool,
    pub delivery: Option<DeliveryView>,
    pub attachments: Vec<AttachmentView>,
    /// How socialcare came to hear of a message no platform pushed.
    pub found: Option<String>,
    /// An e-mail's subject, and what was trimmed from its text (quoted history, signature).
    pub subject: Option<String>,
    pub quoted: Option<String>,
    /// An e-mail's HTML part, made safe when it came: shown in a sandboxed frame only.
    pub html: Option<String>,
}

pub struct IdentityView {
    pub source: &'static str,
    pub label: String,
}

pub struct OtherTicket {
    pub id: String,
    pub subject: String,
    pub status: &'static str,
    pub created: String,
    pub current: bool,
}

pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub identities: Vec<IdentityView>,
    pub tickets: Vec<OtherTicket>,
}

/// Another customer possibly the same person, and what both gave.
pub struct SuggestionView {
    pub customer_id: String,
    /// Their name, else their first identity.
    pub label: String,
    /// "e-mail address", "phone number", "order number".
    pub what: &'static str,
    pub written: String,
    pub their_ticket_id: String,
}

pub(super) fn suggestion_view(suggestion: &Suggestion) -> SuggestionView {
    let customer = &suggestion.customer;
    let identity = customer.identities.first().map(|i| match &i.handle {
        Some(handle) => format!("@{handle} on {}", i.source.as_str()),
        None => format!("{} on {}", i.user_id, i.source.as_str()),
    });
    SuggestionView {
        customer_id: customer.id.to_string(),
        label: customer
            .name
            .clone()
            .or(identity)
            .unwrap_or_else(|| customer.id.to_string()),
        what: match suggestion.contact.kind {
            ContactKind::Email => "e-mail address",
            ContactKind::Phone => "phone number",
            ContactKind::Order => "order number",
        },
        written: suggestion.written.clone(),
        their_ticket_id: suggestion.their_ticket_id.to_string(),
    }
}

pub struct EventView {
    pub at: String,
    pub at_iso: String,
    pub actor: String,
    pub what: String,
}

pub(super) fn delivery_state(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Sending => "sending",
        DeliveryState::Sent => "sent",
        DeliveryState::Failed => "failed",
        DeliveryState::Unconfirmed => "unconfirmed",
    }
}

/// Where a posted reply can be seen, when the platform's id is one we can link to.
pub(crate) fn post_link(source: Source, platform_id: &str) -> Option<String> {
    if platform_id.is_empty()
        || !platform_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    match source {
        Source::X => Some(format!("https://x.com/i/web/status/{platform_id}")),
        Source::Facebook => Some(format!("https://www.facebook.com/{platform_id}")),
        _ => None,
    }
}

pub(super) fn safe_href(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| url.trim().to_string())
}

pub(super) fn message_view(message: &Message) -> MessageView {
    let body = &message.body;
    let named = body
        .author
        .name
        .clone()
        .or_else(|| body.author.handle.as_ref().map(|h| format!("@{h}")));
    let author = match (named, body.direction) {
        (Some(name), _) => name,
        // Replies written here carry the brand account's id only.
        (None, Direction::Outbound) => "the brand".to_string(),
        (None, Direction::Inbound) => body.author.id.clone(),
    };
    let author = match (body.direction, &message.delivery) {
        (Direction::Outbound, Some(d)) if d.automatic => format!("{author} (automatic)"),
        _ => author,
    };
    MessageView {
        id: message.id.to_string(),
        direction: match body.direction {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        },
        author,
        channel: match body.channel {
            Channel::Public => "public",
            Channel::Private => "private",
        },
        at: when(body.created_at),
        at_iso: body.created_at.to_rfc3339(),
        text: body.text.clone(),
        edited: message.edited_at.is_some(),
        removed: message.removed_at.is_some(),
        hidden: message.hidden_at.is_some(),
        subject: body.subject.clone(),
        quoted: body.quoted.clone(),
        html: body.html.clone(),
        found: body.found_by.as_ref().map(|found| match found {
            FoundBy::Search { query } => format!("found by the search {query}"),
            FoundBy::Lookup => "fetched: a reply answered it".to_string(),
        }),
        delivery: message.delivery.as_ref().map(|d| DeliveryView {
            state: delivery_state(d.state),
            link: d
                .platform_id
                .as_deref()
                .filter(|_| d.state == DeliveryState::Sent)
                .and_then(|id| post_link(body.source, id)),
            reason: d.error.clone(),
        }),
        attachments: body.attachments.iter().map(attachment_view).collect(),
    }
}

pub(super) fn actor(actor: &Actor) -> String {
    match actor {
        Actor::System => "socialcare".into(),
        Actor::Customer { .. } => "customer".into(),
        Actor::Brand { account } => format!("brand {account}"),
        Actor::Agent { id } => id.clone(),
    }
}

pub(super) fn what(kind: &EventKind) -> String {
    match kind {
        EventKind::Created { .. } => "opened the ticket".into(),
        EventKind::MessageAdded { direction, .. } => match direction {
            Direction::Inbound => "a message from the customer".into(),
            Direction::Outbound => "a message from the brand".into(),
        },
        EventKind::StatusChanged { from, to } => format!("status {from} → {to}"),
        EventKind::Note { text } if text.is_empty() => "note (erased)".into(),
        EventKind::Note { text } => format!("note: {text}"),
        EventKind::Erased => "erased the customer's data".into(),
        EventKind::CustomerMerged { from, into } => {
            format!("merged customer {from} into {into}, the same person")
        }
        EventKind::Assigned { owner, team } => format!(
            "assigned to {}{}",
            owner.as_deref().unwrap_or("nobody"),
            team.as_deref()
                .map(|t| format!(" (team {t})"))
                .unwrap_or_default()
        ),
        EventKind::SlaWarning { measure, due_at } => {
            format!("{} due {}: warned", measure.as_str(), when(*due_at))
        }
        EventKind::SlaBreached { measure, due_at } => {
            format!("{} deadline {} passed", measure.as_str(), when(*due_at))
        }
        EventKind::PriorityChanged { from, to } => format!("priority {from} → {to}"),
        EventKind::AttachedToIncident { incident_id, topic } => {
            format!("attached to incident {incident_id} ({topic})")
        }
        EventKind::SatisfactionRated { score } => format!("rated {score} of 5"),
        EventKind::Notified { reason, target, .. } => {
            format!("{} told {target}", reason.as_str())
        }
        EventKind::OpeningUnknown {
            external_id,
            reason,
        } => format!("the message it answers ({external_id}) could not be fetched: {reason}"),
        EventKind::NotificationFailed {
            reason,
            target,
            error,
            ..
        } => {
            format!("{} could not tell {target}: {error}", reason.as_str())
        }
    }
}

pub(super) fn ticket_view(ticket: &Ticket, now: DateTime<Utc>) -> TicketView {
    TicketView {
        id: ticket.id.to_string(),
        subject: ticket.subject.clone(),
        status: ticket.status.as_str(),
        priority: ticket.priority.as_str(),
        channel: ticket.source.as_str(),
        account: ticket.account.clone(),
        sla: sla_badge(ticket, now),
        incident: ticket.incident_id.as_ref().map(|i| i.to_string()),
        owner: ticket.owner.clone(),
        owner_value: ticket.owner.clone().unwrap_or_default(),
        team: ticket.team.clone(),
        erased: ticket.erased_at.is_some(),
        opened_by_brand: ticket.opened_by_brand,
    }
}

/// What the page shows besides the ticket itself.
pub(super) struct Shown {
    pub detail: TicketDetail,
    pub more_messages: bool,
    pub trail: Vec<EventView>,
    pub customer: Option<CustomerView>,
    pub templates: Vec<(String, String)>,
}

/// Whether `after` is a message's place as this page hands it out (a time, then ids).
pub(super) fn is_message_place(after: &str) -> bool {
    after.len() <= 200
        && after.split_once('#').is_some_and(|(time, rest)| {
            !rest.is_empty() && DateTime::parse_from_rfc3339(time).is_ok()
        })
}

/// The ticket and what its page shows; the conversation from after the message at `after`.
pub(super) async fn gather<S: Store>(
    store: &S,
    id: &TicketId,
    after: Option<&str>,
) -> Result<Option<Shown>, ApiError> {
    let Some(ticket) = store.get_ticket(id).await.map_err(ApiError::store)? else {
        return Ok(None);
    };
    let (customer, messages, events, templates) = futures::join!(
        store.get_customer(&ticket.customer_id),
        store.ticket_messages(id, after, SHOWN),
        store.ticket_events_page(id, None, SHOWN),
        store.list_templates(),
    );
    let customer = customer.map_err(ApiError::store)?;
    let messages = messages.map_err(ApiError::store)?;
    let events = events.map_err(ApiError::store)?;
    let templates = templates.map_err(ApiError::store)?;
    let others = store
        .customer_tickets(
            &ticket.customer_id,
            &TicketQuery::newest(CUSTOMER_TICKETS_SHOWN),
        )
        .await
        .map_err(ApiError::store)?
        .items;
    let customer_view = customer.as_ref().map(|c| CustomerView {
        id: c.id.to_string(),
        name: customer_name(Some(c)),
        identities: c
            .identities
            .iter()
            .map(|i| IdentityView {
                source: i.source.as_str(),
                label: match &i.handle {
                    Some(handle) => format!("@{handle} ({})", i.user_id),
                    None => i.user_id.clone(),
                },
            })
            .collect(),
        tickets: others
            .iter()
            .map(|t| OtherTicket {
                id: t.id.to_string(),
                subject: t.subject.clone(),
                status: t.status.as_str(),
                created: when(t.created_at),
                current: t.id == ticket.id,
            })
            .collect(),
    });
    Ok(Some(Shown {
        more_messages: messages.len() == SHOWN as usize,
        trail: events
            .iter()
            .map(|e| EventView {
                at: when(e.at),
                at_iso: e.at.to_rfc3339(),
                actor: actor(&e.actor),
                what: what(&e.kind),
            })
            .collect(),
        customer: customer_view,
        templates: templates
            .into_iter()
            .map(|t| {
                let label = match &t.language {
                    Some(language) => format!("{} ({language})", t.id),
                    None => t.id.clone(),
                };
                (t.id, label)
            })
            .collect(),
        detail: TicketDetail {
            ticket,
            customer,
            messages,
        },
    }))
}
