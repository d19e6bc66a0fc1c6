//! The change that puts one message on its ticket, given what was read around it: each step
//! below is one thing the message does to the ticket, the customer or the trail.

use super::InboundEvent;
use crate::acknowledgement;
use crate::clocks::{Happened, retime};
use crate::customer::{Customer, Identity};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, TicketId};
use crate::incidents;
use crate::message::{Direction, Message, NormalizedMessage};
use crate::ports::IngestChange;
use crate::replies::{self, ReplyChannel};
use crate::satisfaction;
use crate::sla::Policy;
use crate::threading::{self, Placement, Rules, Surroundings};
use crate::ticket::{Ticket, TicketDetail, TicketStatus};
use crate::triage::{self, Intent};
use chrono::{DateTime, Utc};

pub(super) fn plan(
    event: &InboundEvent,
    placement: Placement,
    around: &Surroundings,
    (owner, team): (Option<String>, Option<String>),
    rules: &Rules,
) -> IngestChange {
    let message = &event.message;
    let at = message.created_at;
    // The ticket as it was before, when the message joins one.
    let joined = match &placement {
        Placement::Join(ticket) => Some(ticket.clone()),
        Placement::Open => None,
    };
    let status_before = joined.as_ref().map(|ticket| ticket.status);
    let score = survey_score(message, joined.as_ref(), around);
    let (mut ticket, ticket_version_before) = match placement {
        Placement::Join(ticket) => join(ticket, message, score),
        Placement::Open => (
            Ticket {
                owner: owner.clone(),
                team: team.clone(),
                ..new_ticket(message, around)
            },
            None,
        ),
    };
    let (mut customer, customer_version_before, new_identities) =
        customer_after(message, around, &ticket);
    let stored = Message::new(ticket.id.clone(), message.clone(), event.received_at);
    let actor = actor_of(message, &customer);
    let mut events = placement_events(&ticket, &stored, status_before, &actor, owner, team);
    if let Some(score) = score {
        record(
            &mut events,
            &ticket.id,
            at,
            actor.clone(),
            EventKind::SatisfactionRated { score },
            "satisfaction",
        );
    }
    // A new complaint is triaged; praise and noise need no answer unless the account says so.
    let needs_answer = match status_before.is_none() && message.direction == Direction::Inbound {
        true => triage_new(&mut ticket, message, rules, &mut events),
        false => true,
    };
    let policy = rules.policies.of(&ticket.account);
    retime_clocks(&mut ticket, status_before, message, needs_answer, policy);
    let mut replies = Vec::new();
    // A new public complaint hears back at once (once per ticket, once a day per customer).
    if status_before.is_none() && needs_answer {
        acknowledge(
            &mut ticket,
            &mut customer,
            &stored,
            around,
            rules,
            (&mut events, &mut replies),
        );
    }
    if let (Some(score), Some(policy)) = (score, policy) {
        thank(
            &mut ticket,
            &stored,
            score,
            policy,
            (&mut events, &mut replies),
        );
    }
    let customer_written = match &around.customer {
        Some(known) => {
            let unchanged = Customer {
                updated_at: known.updated_at,
                version: known.version,
                ..customer.clone()
            } == *known;
            if unchanged {
                customer = known.clone();
            }
            !unchanged
        }
        None => true,
    };
    // What needs no answer stays out of the response-time report.
    let samples = match needs_answer {
        true => crate::report::samples(joined.as_ref(), &ticket, None),
        false => Vec::new(),
    };
    IngestChange {
        samples,
        message: stored,
        ticket,
        ticket_version_before,
        customer,
        customer_version_before,
        customer_written,
        new_identities,
        events,
        awaited_parent: message
            .in_reply_to
            .as_ref()
            .filter(|_| around.parent_ticket.is_none())
            .map(|parent| message.dedupe_key_of(parent)),
        replies,
    }
}

/// Records an event on the ticket, after the events the change already records.
fn record(
    events: &mut Vec<TicketEvent>,
    ticket_id: &TicketId,
    at: DateTime<Utc>,
    actor: Actor,
    kind: EventKind,
    key: &str,
) {
    push_next(
        events,
        TicketEvent::new(ticket_id.clone(), at, actor, kind, key),
    );
}

/// Adds `event` after the events the change already records.
fn push_next(events: &mut Vec<TicketEvent>, event: TicketEvent) {
    events.push(TicketEvent {
        seq: events.len() as u32,
        ..event
    });
}

/// The customer's answer to the survey, which a satisfied customer gives without reopening.
/// Only the ticket's own customer answers it, not another author in the thread.
fn survey_score(
    message: &NormalizedMessage,
    joined: Option<&Ticket>,
    around: &Surroundings,
) -> Option<u8> {
    let by_its_customer = |t: &Ticket| {
        around
            .customer
            .as_ref()
            .is_some_and(|customer| customer.id == t.customer_id)
    };
    joined
        .filter(|t| {
            message.direction == Direction::Inbound && awaits_score(t) && by_its_customer(t)
        })
        .and_then(|_| satisfaction::score_of(&message.text))
}

/// The ticket the message joins, as it is after the message, with its version before.
fn join(ticket: Ticket, message: &NormalizedMessage, score: Option<u8>) -> (Ticket, Option<u64>) {
    let at = message.created_at;
    let version_before = ticket.version;
    let status = match score {
        Some(score) if score >= satisfaction::SATISFIED => ticket.status,
        _ => threading::status_after(&ticket, message),
    };
    let earlier = at < ticket.created_at;
    let joined = Ticket {
        status,
        resolved_at: ticket.resolved_at.filter(|_| !status.is_active()),
        // A message that was overtaken by its reply may be the ticket's first.
        created_at: ticket.created_at.min(at),
        subject: match earlier && message.direction == Direction::Inbound {
            true => subject_of(message),
            false => ticket.subject.clone(),
        },
        satisfaction: score.or(ticket.satisfaction),
        // The earliest message tells who opened it (a customer's message may come after the
        // brand's answer to it).
        opened_by_brand: match earlier {
            true => message.direction == Direction::Outbound,
            false => ticket.opened_by_brand,
        },
        first_response_at: first_response(ticket.first_response_at, message),
        acknowledged_at: first_response(ticket.acknowledged_at, message),
        last_message_at: ticket.last_message_at.max(at),
        message_count: ticket.message_count + 1,
        version: version_before + 1,
        ..ticket
    };
    (joined, Some(version_before))
}

/// The customer as they are after the message (known, or new), their version before and the
/// identities seen for the first time.
fn customer_after(
    message: &NormalizedMessage,
    around: &Surroundings,
    ticket: &Ticket,
) -> (Customer, Option<u64>, Vec<Identity>) {
    let ticket_id = &ticket.id;
    let at = message.created_at;
    // The brand's own messages say nothing of the customer but whom they were sent to.
    let inbound = message.direction == Direction::Inbound;
    let (name, email) = match inbound {
        true => (message.author.name.clone(), message.author.email.clone()),
        false => (None, None),
    };
    let identity = Identity::of_customer(message);
    match &around.customer {
        Some(known) => {
            let mut customer = Customer {
                name: name.or_else(|| known.name.clone()),
                email: email.or_else(|| known.email.clone()),
                identities: known
                    .identities
                    .iter()
                    .map(|seen| match inbound && seen.key() == identity.key() {
                        true => identity.clone(),
                        false => seen.clone(),
                    })
                    .collect(),
                latest_ticket_id: Some(ticket_id.clone()),
                updated_at: known.updated_at.max(at),
                version: known.version + 1,
                ..known.clone()
            };
            if inbound && ticket.customer_id != known.id {
                customer.wrote_elsewhere(ticket_id);
            }
            (customer, Some(known.version), Vec::new())
        }
        None => {
            let mut customer = Customer {
                id: CustomerId::derive(at, &identity.key()),
                account: message.account.clone(),
                name,
                email,
                identities: vec![identity.clone()],
                latest_ticket_id: Some(ticket_id.clone()),
                created_at: at,
                updated_at: at,
                acknowledged_at: None,
                elsewhere: Vec::new(),
                version: 1,
            };
            if inbound && ticket.customer_id != customer.id {
                customer.wrote_elsewhere(ticket_id);
            }
            (customer, None, vec![identity])
        }
    }
}

/// Who the trail says wrote the message.
fn actor_of(message: &NormalizedMessage, customer: &Customer) -> Actor {
    match message.direction {
        Direction::Inbound => Actor::Customer {
            customer_id: customer.id.clone(),
        },
        Direction::Outbound => Actor::Brand {
            account: message.account.clone(),
        },
    }
}

/// What the trail records of the message taking its place: a ticket opened (and given its
/// sticky owner), or a message added (and the status it changed).
fn placement_events(
    ticket: &Ticket,
    stored: &Message,
    status_before: Option<TicketStatus>,
    actor: &Actor,
    owner: Option<String>,
    team: Option<String>,
) -> Vec<TicketEvent> {
    let at = stored.body.created_at;
    let message_id = stored.id.clone();
    let mut events = Vec::new();
    match status_before {
        None => {
            record(
                &mut events,
                &ticket.id,
                at,
                actor.clone(),
                EventKind::Created {
                    message_id: message_id.clone(),
                },
                "created",
            );
            if owner.is_some() || team.is_some() {
                record(
                    &mut events,
                    &ticket.id,
                    at,
                    Actor::System,
                    EventKind::Assigned { owner, team },
                    "assigned:sticky",
                );
            }
        }
        Some(before) => {
            record(
                &mut events,
                &ticket.id,
                at,
                actor.clone(),
                EventKind::MessageAdded {
                    message_id: message_id.clone(),
                    direction: stored.body.direction,
                },
                &format!("message:{message_id}"),
            );
            if before != ticket.status {
                record(
                    &mut events,
                    &ticket.id,
                    at,
                    actor.clone(),
                    EventKind::StatusChanged {
                        from: before,
                        to: ticket.status,
                    },
                    &format!("status:{}", ticket.version),
                );
            }
        }
    }
    events
}

/// Triages the complaint that opens `ticket`: its priority and topics (and the incident it
/// joins), or, when it needs no answer, closes it. Whether it needs an answer.
fn triage_new(
    ticket: &mut Ticket,
    message: &NormalizedMessage,
    rules: &Rules,
    events: &mut Vec<TicketEvent>,
) -> bool {
    let at = message.created_at;
    let triage = triage::triage(
        &message.text,
        message.author.followers,
        rules.triage_of(&message.account),
    );
    let needs_answer = matches!(triage.intent, Intent::Complaint | Intent::Question)
        || rules.answer_everything.contains(&message.account);
    ticket.priority = triage.priority;
    ticket.triage = Some(triage);
    if needs_answer {
        ticket.topics = triage::topic_terms(&message.text);
        let joins = incidents::incident_for(&rules.incidents, &ticket.account, &ticket.topics);
        if let Some(incident) = joins {
            let event = incidents::attach(ticket, incident, at);
            push_next(events, event);
        }
    } else {
        ticket.status = TicketStatus::Closed;
        ticket.resolved_at = Some(at);
        record(
            events,
            &ticket.id,
            at,
            Actor::System,
            EventKind::StatusChanged {
                from: TicketStatus::Open,
                to: TicketStatus::Closed,
            },
            "status:triage",
        );
    }
    needs_answer
}

/// Resets the ticket's clocks for the message. They run from platform time: when the customer
/// wrote, when the brand answered.
fn retime_clocks(
    ticket: &mut Ticket,
    status_before: Option<TicketStatus>,
    message: &NormalizedMessage,
    needs_answer: bool,
    policy: Option<&Policy>,
) {
    let at = message.created_at;
    match (status_before, message.direction) {
        (None, Direction::Inbound) if needs_answer => retime(ticket, Happened::Opened, at, policy),
        (None, Direction::Inbound) => {}
        (None, Direction::Outbound) => {}
        (Some(before), direction) => {
            if before != ticket.status {
                let status = Happened::Status {
                    from: before,
                    to: ticket.status,
                };
                retime(ticket, status, at, policy);
            }
            let happened = match direction {
                Direction::Inbound => Happened::CustomerWrote,
                Direction::Outbound => Happened::Answered,
            };
            retime(ticket, happened, at, policy);
        }
    }
}

/// The public acknowledgement of a new complaint, when the account's rules give one.
fn acknowledge(
    ticket: &mut Ticket,
    customer: &mut Customer,
    stored: &Message,
    around: &Surroundings,
    rules: &Rules,
    (events, replies): (&mut Vec<TicketEvent>, &mut Vec<Message>),
) {
    let message = &stored.body;
    let Some(acknowledgement) = rules
        .acknowledgements
        .for_new_ticket(message, around.customer.as_ref())
    else {
        return;
    };
    let text = acknowledgement.text_for(None, around.customer.as_ref(), &message.author);
    let key = acknowledgement::key_of(message);
    let ack = automatic_reply(ticket, stored, ReplyChannel::Public, text, &key);
    if let Some((ack, event)) = ack {
        ticket.acknowledged_at = Some(ack.body.created_at);
        customer.acknowledged_at = Some(message.created_at);
        push_next(events, event);
        replies.push(ack);
    }
}

/// A good score is thanked once, privately, with the invitation to share the experience.
fn thank(
    ticket: &mut Ticket,
    stored: &Message,
    score: u8,
    policy: &Policy,
    (events, replies): (&mut Vec<TicketEvent>, &mut Vec<Message>),
) {
    if score < satisfaction::DELIGHTED {
        return;
    }
    let text = policy.followups.invitation_text.clone();
    let key = format!("{}:invitation", ticket.id);
    let thanks = automatic_reply(ticket, stored, ReplyChannel::Private, text, &key);
    if let Some((thanks, event)) = thanks {
        push_next(events, event);
        replies.push(thanks);
    }
}

/// Whether the ticket waits for the customer's answer to its satisfaction survey.
fn awaits_score(ticket: &Ticket) -> bool {
    ticket.timers.surveyed
        && ticket.satisfaction.is_none()
        && matches!(ticket.status, TicketStatus::Resolved | TicketStatus::Closed)
}

/// An automatic answer (sent through the outbox) to the customer's message that `ticket` just
/// took, with the event that records it on the ticket; `None` when the channel cannot reach
/// the customer.
fn automatic_reply(
    ticket: &mut Ticket,
    answered: &Message,
    channel: ReplyChannel,
    text: String,
    key: &str,
) -> Option<(Message, TicketEvent)> {
    let detail = TicketDetail {
        ticket: ticket.clone(),
        customer: None,
        messages: vec![answered.clone()],
    };
    let now = answered.received_at;
    let routed = replies::route(&detail, channel, now).ok()?;
    let reply = replies::compose(&detail, routed, text, key, true, now);
    ticket.message_count += 1;
    ticket.last_message_at = ticket.last_message_at.max(reply.body.created_at);
    let added = EventKind::MessageAdded {
        message_id: reply.id.clone(),
        direction: Direction::Outbound,
    };
    let key = format!("message:{}", reply.id);
    let event = TicketEvent::new(
        ticket.id.clone(),
        answered.body.created_at,
        Actor::System,
        added,
        &key,
    );
    Some((reply, event))
}

/// The brand's first answer: the earliest of its outbound messages.
fn first_response(
    known: Option<DateTime<Utc>>,
    message: &NormalizedMessage,
) -> Option<DateTime<Utc>> {
    match message.direction {
        Direction::Outbound => {
            Some(known.map_or(message.created_at, |t| t.min(message.created_at)))
        }
        Direction::Inbound => known,
    }
}

/// A ticket's subject: an e-mail's own, without its `Re:`/`Fwd:`, or the start of the text.
pub(super) fn subject_of(message: &NormalizedMessage) -> String {
    let own = message
        .subject
        .as_deref()
        .map(crate::message::without_reply_prefix)
        .filter(|s| !s.is_empty());
    own.unwrap_or(&message.text)
        .chars()
        .take(SUBJECT_CHARS)
        .collect()
}

const SUBJECT_CHARS: usize = 120;

fn new_ticket(message: &NormalizedMessage, around: &Surroundings) -> Ticket {
    let identity_key = message.customer_key();
    Ticket {
        id: TicketId::derive(
            message.created_at,
            &format!("ticket:{}", message.dedupe_key()),
        ),
        account: message.account.clone(),
        source: message.source,
        customer_id: around
            .customer
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_else(|| CustomerId::derive(message.created_at, &identity_key)),
        status: TicketStatus::Open,
        subject: subject_of(message),
        created_at: message.created_at,
        last_message_at: message.created_at,
        message_count: 1,
        resolved_at: None,
        priority: Default::default(),
        timers: Default::default(),
        satisfaction: None,
        triage: None,
        topics: Vec::new(),
        incident_id: None,
        erased_at: None,
        first_response_at: first_response(None, message),
        opened_by_brand: message.direction == Direction::Outbound,
        acknowledged_at: first_response(None, message),
        owner: None,
        team: None,
        version: 1,
    }
}
