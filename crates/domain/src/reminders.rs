//! What a reminder does when it comes due: warn, escalate a breach, follow up with the
//! customer, send the satisfaction survey, close a ticket the customer left.
//!
//! [`decide`] is pure: it reads the ticket and the configuration and returns the change to
//! write and the notices to send. A reminder acts only while it is the ticket's next one
//! ([`crate::timers::Timers::next`]); what it writes moves the timers on, so a second delivery
//! of it finds it stale.

use crate::clocks::{Happened, retime};
use crate::escalation::{Notice, NoticeReason};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::EventId;
use crate::message::{Direction, Message};
use crate::ownership::Teams;
use crate::ports::TicketUpdate;
use crate::replies::{self, ReplyChannel};
use crate::sla::{Measure, Policy};
use crate::ticket::{Ticket, TicketDetail, TicketStatus};
use crate::timers::{Deadline, Reminder, ReminderKind};
use chrono::{DateTime, Utc};

/// What to do with a reminder now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// It is not the ticket's next reminder any more: the ticket was answered, resolved or
    /// rescheduled since, or this reminder already acted.
    Stale,
    /// It came before its time: look again after this long.
    Early(std::time::Duration),
    Act(Box<Firing>),
}

/// A reminder's effects: one atomic write, then the notices.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub update: TicketUpdate,
    pub notices: Vec<Notice>,
}

/// The id of the first event a reminder records: its trail shows whether it acted.
pub fn firing_event_id(reminder: &Reminder) -> EventId {
    EventId::derive(
        reminder.due_at,
        &format!("{}:{}", reminder.ticket_id, reminder.key()),
    )
}

/// What `reminder` does to the ticket of `detail` at `now`, under the account's `policy`.
pub fn decide(
    detail: &TicketDetail,
    reminder: &Reminder,
    policy: Option<&Policy>,
    teams: &Teams,
    now: DateTime<Utc>,
) -> Decision {
    let before = &detail.ticket;
    if before.timers.next(&before.id).as_ref() != Some(reminder) {
        return Decision::Stale;
    }
    if reminder.due_at > now {
        return Decision::Early(replies::wait_until(reminder.due_at, now));
    }
    let mut ticket = Ticket {
        version: before.version + 1,
        ..before.clone()
    };
    // Every event of a firing is stamped with the due time and keyed by the reminder, so a
    // retried write records nothing twice.
    let at = reminder.due_at;
    let key = reminder.key();
    let mut events: Vec<TicketEvent> = Vec::new();
    let ticket_id = before.id.clone();
    let mut push = |kind: EventKind, actor: Actor| {
        let suffix = match events.len() {
            0 => String::new(),
            n => format!(":{n}"),
        };
        events.push(TicketEvent {
            seq: events.len() as u32,
            ..TicketEvent::new(
                ticket_id.clone(),
                at,
                actor,
                kind,
                &format!("{key}{suffix}"),
            )
        });
    };
    let mut replies = Vec::new();
    let mut notices = Vec::new();
    match reminder.kind {
        ReminderKind::SlaWarning { measure } => {
            if let Some(deadline) = deadline_of(&mut ticket, measure) {
                deadline.warned = true;
                let due_at = deadline.due_at;
                push(EventKind::SlaWarning { measure, due_at }, Actor::System);
                notices.extend(notice(&ticket, reminder, policy, teams, measure, due_at));
            }
        }
        ReminderKind::SlaBreach { measure } => {
            if let Some(deadline) = deadline_of(&mut ticket, measure) {
                deadline.warned = true;
                deadline.breached = true;
                let due_at = deadline.due_at;
                push(EventKind::SlaBreached { measure, due_at }, Actor::System);
                // The notice names the team that let it pass, before the reassignment.
                notices.extend(notice(&ticket, reminder, policy, teams, measure, due_at));
                let raised = ticket.priority.raised();
                if raised != ticket.priority {
                    let from = ticket.priority;
                    ticket.priority = raised;
                    push(
                        EventKind::PriorityChanged { from, to: raised },
                        Actor::System,
                    );
                }
                if let Some((owner, team)) = escalate(&ticket, teams) {
                    ticket.owner = Some(owner.clone());
                    ticket.team = Some(team.clone());
                    let kind = EventKind::Assigned {
                        owner: Some(owner),
                        team: Some(team),
                    };
                    push(kind, Actor::System);
                }
            }
        }
        ReminderKind::CustomerFollowup | ReminderKind::Satisfaction => {
            let text = match (reminder.kind, policy) {
                (_, None) => None,
                (ReminderKind::Satisfaction, Some(p)) => Some(p.followups.survey_text.clone()),
                (_, Some(p)) => Some(p.followups.still_on_it_text.clone()),
            };
            if reminder.kind == ReminderKind::Satisfaction {
                ticket.timers.survey_at = None;
                ticket.timers.surveyed = true;
            } else {
                ticket.timers.followup_at = None;
            }
            let routed = replies::route(detail, ReplyChannel::Private, now);
            match (text, routed) {
                (Some(text), Ok(routed)) => {
                    let reply_key = reply_key(reminder);
                    let reply = replies::compose(detail, routed, text, &reply_key, true, now);
                    ticket.message_count += 1;
                    ticket.last_message_at = ticket.last_message_at.max(reply.body.created_at);
                    let kind = EventKind::MessageAdded {
                        message_id: reply.id.clone(),
                        direction: Direction::Outbound,
                    };
                    push(kind, Actor::System);
                    replies.push(reply);
                }
                (None, _) => push(
                    EventKind::Note {
                        text: format!(
                            "No {} sent: the account has no policy.",
                            reminder.kind.key()
                        ),
                    },
                    Actor::System,
                ),
                (Some(_), Err(e)) => push(
                    EventKind::Note {
                        text: format!("No {} sent: {e}.", reminder.kind.key()),
                    },
                    Actor::System,
                ),
            }
        }
        ReminderKind::AutoClose => {
            let from = ticket.status;
            ticket.status = TicketStatus::Closed;
            ticket.resolved_at = ticket.resolved_at.or(Some(at));
            let happened = Happened::Status {
                from,
                to: TicketStatus::Closed,
            };
            retime(&mut ticket, happened, at, policy);
            let kind = EventKind::StatusChanged {
                from,
                to: TicketStatus::Closed,
            };
            push(kind, Actor::System);
        }
    }
    if events.is_empty() {
        // The timer named a deadline the ticket no longer has: nothing to record.
        return Decision::Stale;
    }
    Decision::Act(Box::new(Firing {
        update: TicketUpdate {
            samples: crate::report::samples(Some(before), &ticket, None),
            ticket,
            version_before: before.version,
            events,
            replies,
        },
        notices,
    }))
}

/// The notices of a reminder that acted, again: for a redelivery that finds it acted but
/// cannot tell whether its notices were queued (the receiver dedupes by the notice id).
pub fn notices_of(
    ticket: &Ticket,
    reminder: &Reminder,
    policy: Option<&Policy>,
    teams: &Teams,
) -> Vec<Notice> {
    let deadline = match reminder.kind {
        ReminderKind::SlaWarning { measure } | ReminderKind::SlaBreach { measure } => {
            let due_at = match reminder.kind {
                ReminderKind::SlaBreach { .. } => reminder.due_at,
                // A warning's due time is the deadline's; the reminder is at the warning.
                _ => deadline_due(ticket, measure).unwrap_or(reminder.due_at),
            };
            Some((measure, due_at))
        }
        _ => None,
    };
    match deadline {
        Some((measure, due_at)) => notice(ticket, reminder, policy, teams, measure, due_at)
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

/// The replies a reminder wrote that still wait to be posted.
pub fn pending_replies<'a>(detail: &'a TicketDetail, reminder: &Reminder) -> Vec<&'a Message> {
    let external_id = replies::reply_external_id(&reply_key(reminder));
    detail
        .messages
        .iter()
        .filter(|m| {
            m.body.external_id == external_id
                && m.delivery
                    .as_ref()
                    .is_some_and(|d| d.state == crate::replies::DeliveryState::Pending)
        })
        .collect()
}

/// The key of a reply a reminder writes: unique to the ticket and the reminder (replies are
/// deduplicated per brand account).
fn reply_key(reminder: &Reminder) -> String {
    format!("{}:{}", reminder.ticket_id, reminder.key())
}

fn deadline_of(ticket: &mut Ticket, measure: Measure) -> Option<&mut Deadline> {
    match measure {
        Measure::Resolution => ticket.timers.resolution.as_mut(),
        Measure::FirstResponse | Measure::NextResponse => ticket.timers.response.as_mut(),
    }
    .filter(|d| d.measure == measure)
}

fn deadline_due(ticket: &Ticket, measure: Measure) -> Option<DateTime<Utc>> {
    match measure {
        Measure::Resolution => ticket.timers.resolution,
        _ => ticket.timers.response,
    }
    .map(|d| d.due_at)
}

/// Who a breached ticket goes to: its team's lead, or the next level's lead when the lead
/// already has it. `None`: nobody to escalate to (or it is already with them).
fn escalate(ticket: &Ticket, teams: &Teams) -> Option<(String, String)> {
    let team = teams.get(ticket.team.as_deref()?)?;
    let lead = team.lead.as_ref()?;
    if ticket.owner.as_ref() != Some(lead) {
        return Some((lead.clone(), team.name.clone()));
    }
    let next = teams.get(team.escalates_to.as_deref()?)?;
    let next_lead = next.lead.as_ref()?;
    (ticket.owner.as_ref() != Some(next_lead)).then(|| (next_lead.clone(), next.name.clone()))
}

/// The notice of a warning or breach to the ticket's team's target, or the account's.
fn notice(
    ticket: &Ticket,
    reminder: &Reminder,
    policy: Option<&Policy>,
    teams: &Teams,
    measure: Measure,
    due_at: DateTime<Utc>,
) -> Option<Notice> {
    let team = ticket.team.as_deref().and_then(|name| teams.get(name));
    let (url, target) = match team.and_then(|t| t.escalation_url.as_ref()) {
        Some(url) => (url.clone(), team.map(|t| t.name.clone())?),
        None => (policy?.escalation_url.clone()?, "account".to_string()),
    };
    let reason = match reminder.kind {
        ReminderKind::SlaBreach { .. } => NoticeReason::SlaBreach,
        _ => NoticeReason::SlaWarning,
    };
    let what = match measure {
        Measure::FirstResponse => "first response",
        Measure::NextResponse => "next response",
        Measure::Resolution => "resolution",
    };
    let owner = ticket.owner.as_deref().unwrap_or("nobody");
    let due = due_at.format("%Y-%m-%d %H:%M UTC");
    let text = match reason {
        NoticeReason::SlaWarning => format!(
            "Ticket {} (\"{}\", {} priority, owner {owner}) is due a {what} by {due}.",
            ticket.id, ticket.subject, ticket.priority
        ),
        NoticeReason::SlaBreach => format!(
            "Ticket {} (\"{}\", {} priority, owner {owner}) missed its {what} target of {due}.",
            ticket.id, ticket.subject, ticket.priority
        ),
    };
    Some(Notice {
        id: format!("{}:{}", ticket.id, reminder.key()),
        url,
        ticket_id: ticket.id.clone(),
        account: ticket.account.clone(),
        reason,
        measure,
        due_at,
        priority: ticket.priority,
        owner: ticket.owner.clone(),
        team: ticket.team.clone(),
        subject: ticket.subject.clone(),
        target,
        text,
        at: reminder.due_at,
    })
}

/// The event that records a notice's delivery (stable: a second delivery finds it).
pub fn notified_event(notice: &Notice) -> TicketEvent {
    TicketEvent::new(
        notice.ticket_id.clone(),
        notice.at,
        Actor::System,
        EventKind::Notified {
            notice_id: notice.id.clone(),
            reason: notice.reason,
            target: notice.target.clone(),
        },
        &format!("notified:{}", notice.id),
    )
}

/// The event that records a notice given up on.
pub fn notification_failed_event(notice: &Notice, error: String) -> TicketEvent {
    TicketEvent::new(
        notice.ticket_id.clone(),
        notice.at,
        Actor::System,
        EventKind::NotificationFailed {
            notice_id: notice.id.clone(),
            reason: notice.reason,
            target: notice.target.clone(),
            error,
        },
        &format!("notification_failed:{}", notice.id),
    )
}
