//! Ingest: put one queued message on its ticket, exactly once.

use crate::customer::{Customer, Identity};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{CustomerId, MessageId, TicketId};
use crate::incidents;
use crate::message::{Direction, Message, MessageChange, NormalizedMessage};
use crate::ownership::{Teams, active_agents, next_member};
use crate::ports::{
    ApiKeyStore, CommitError, IncidentStore, IngestChange, IngestStore, SettingsStore, StoreError,
    TeamTurns, TicketCommands, TicketReads,
};
use crate::replies::{self, ReplyChannel};
use crate::report::Sample;
use crate::retry::{ATTEMPTS, Round, optimistic};
use crate::satisfaction;
use crate::threading::{self, Placement, Rules, Surroundings};
use crate::ticket::{Ticket, TicketDetail, TicketStatus};
use crate::timers::{Happened, retime};
use crate::triage::{self, Intent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A normalized message and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub message: NormalizedMessage,
    pub received_at: DateTime<Utc>,
}

/// A change to an earlier message and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub change: MessageChange,
    pub received_at: DateTime<Utc>,
}

/// What the webhook puts on the inbound queue.
// One lives per queue message and only while it is read; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueuedEvent {
    Message(InboundEvent),
    Change(ChangeEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied {
        ticket_id: TicketId,
        message_id: MessageId,
    },
    /// A redelivery, or older than what the message already shows.
    AlreadyApplied,
    /// No such message is stored (it came before socialcare was connected, or the change
    /// overtook it); nothing to change.
    UnknownMessage,
}

/// Applies an edit, removal or hiding to the stored message it names.
pub async fn apply_change<S: IngestStore>(
    store: &S,
    change: &MessageChange,
) -> Result<ChangeOutcome, IngestError> {
    let key = &change.message_key();
    optimistic(
        move || async move {
            let Some(stored) = store.get_message(key).await? else {
                return Ok(Round::Done(ChangeOutcome::UnknownMessage));
            };
            let Some(next) = stored.changed(change) else {
                return Ok(Round::Done(ChangeOutcome::AlreadyApplied));
            };
            match store.replace_message(&next, stored.version).await {
                Ok(()) => Ok(Round::Done(ChangeOutcome::Applied {
                    ticket_id: next.ticket_id,
                    message_id: next.id,
                })),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || IngestError::TooMuchContention(ATTEMPTS),
    )
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// The message opened a new ticket.
    Opened {
        ticket_id: TicketId,
        message_id: MessageId,
        /// What the change added to the response-time report.
        samples: Vec<Sample>,
        /// The ticket as it was stored.
        ticket: Box<Ticket>,
    },
    /// The message joined an existing ticket.
    Joined {
        ticket_id: TicketId,
        message_id: MessageId,
        samples: Vec<Sample>,
    },
    /// The message was already stored; nothing changed.
    Duplicate {
        ticket_id: TicketId,
        message_id: MessageId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ticket kept changing during {0} attempts")]
    TooMuchContention(u32),
}

/// What ingest needs of the store: threading reads and writes, and the staff to pick owners.
pub trait IngestDeps:
    IngestStore + TicketReads + TicketCommands + ApiKeyStore + TeamTurns + SettingsStore + IncidentStore
{
}
impl<T> IngestDeps for T where
    T: IngestStore
        + TicketReads
        + TicketCommands
        + ApiKeyStore
        + TeamTurns
        + SettingsStore
        + IncidentStore
{
}

pub async fn ingest<S: IngestDeps>(
    store: &S,
    event: &InboundEvent,
) -> Result<IngestOutcome, IngestError> {
    ingest_with(store, event, &Rules::default()).await
}

/// [`ingest`] with threading rules other than the defaults.
pub async fn ingest_with<S: IngestDeps>(
    store: &S,
    event: &InboundEvent,
    rules: &Rules,
) -> Result<IngestOutcome, IngestError> {
    let dedupe_key = &event.message.dedupe_key();
    optimistic(
        move || async move {
            if let Some(stored) = store.find_message(dedupe_key).await? {
                return Ok(Round::Done(IngestOutcome::Duplicate {
                    ticket_id: stored.ticket_id,
                    message_id: stored.message_id,
                }));
            }
            let around = surroundings(store, &event.message).await?;
            let placement = threading::place(&around, event.message.created_at, rules);
            if let Placement::Join(ticket) = &placement
                && event.message.direction == Direction::Outbound
            {
                match confirm_echo(store, ticket, &event.message).await? {
                    Some(Ok(outcome)) => return Ok(Round::Done(outcome)),
                    Some(Err(())) => return Ok(Round::ReadAgain),
                    None => {}
                }
            }
            let opens = placement == Placement::Open;
            // A returning customer's new ticket goes back to whoever had their last one.
            let owner = match (&placement, &around.customer_ticket) {
                (Placement::Open, Some(previous)) => {
                    sticky_owner(store, previous, &rules.teams).await?
                }
                _ => (None, None),
            };
            let change = plan(event, placement, &around, owner, rules);
            let (ticket_id, message_id) = (change.ticket.id.clone(), change.message.id.clone());
            let samples = change.samples.clone();
            let outcome = match opens {
                true => IngestOutcome::Opened {
                    ticket_id,
                    message_id,
                    samples,
                    ticket: Box::new(change.ticket.clone()),
                },
                false => IngestOutcome::Joined {
                    ticket_id,
                    message_id,
                    samples,
                },
            };
            match store.commit(&change).await {
                Ok(()) => Ok(Round::Done(outcome)),
                // Raced with a redelivery of the same message: the next round reports it.
                Err(CommitError::Duplicate) | Err(CommitError::Conflict) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || IngestError::TooMuchContention(ATTEMPTS),
    )
    .await
}

/// When `echo` is the platform sending back a reply written through socialcare, confirms the
/// reply as posted (the echo may overtake the sender's own record of it) instead of adding the
/// post a second time. `Some(Err(()))`: the reply changed meanwhile, read again.
async fn confirm_echo<S: IngestDeps>(
    store: &S,
    ticket: &Ticket,
    echo: &NormalizedMessage,
) -> Result<Option<Result<IngestOutcome, ()>>, StoreError> {
    let Some(detail) = store.ticket_detail(&ticket.id).await? else {
        return Ok(None);
    };
    let Some(reply) = detail
        .messages
        .iter()
        .find(|m| replies::is_echo_of(m, echo))
    else {
        return Ok(None);
    };
    let confirmed = replies::confirmed_by_echo(reply, echo);
    match store
        .record_delivery(&confirmed, reply.version, Some(&echo.dedupe_key()))
        .await
    {
        Ok(()) => Ok(Some(Ok(IngestOutcome::Duplicate {
            ticket_id: reply.ticket_id.clone(),
            message_id: reply.id.clone(),
        }))),
        Err(CommitError::Store(e)) => Err(e),
        Err(_) => Ok(Some(Err(()))),
    }
}

async fn surroundings<S: IngestStore>(
    store: &S,
    message: &NormalizedMessage,
) -> Result<Surroundings, StoreError> {
    let parent_ticket = match &message.in_reply_to {
        Some(parent_id) => {
            match store
                .find_message(&message.dedupe_key_of(parent_id))
                .await?
            {
                Some(parent) => store.get_ticket(&parent.ticket_id).await?,
                None => None,
            }
        }
        None => None,
    };
    let child_ticket = match parent_ticket {
        Some(_) => None,
        None => match store.find_awaiting(&message.dedupe_key()).await? {
            Some(id) => store.get_ticket(&id).await?,
            None => None,
        },
    };
    let customer = store.find_customer(&message.customer_key()).await?;
    let customer_ticket = match customer.as_ref().and_then(|c| c.latest_ticket_id.as_ref()) {
        Some(id) if parent_ticket.is_none() && child_ticket.is_none() => {
            store.get_ticket(id).await?
        }
        _ => None,
    };
    Ok(Surroundings {
        parent_ticket,
        child_ticket,
        customer,
        customer_ticket,
    })
}

/// The change that puts the message on its ticket, given what was read around it.
/// The owner and team of a returning customer's new ticket: the previous owner while they are
/// an active agent, otherwise the next active member of the previous team.
async fn sticky_owner<S: IngestDeps>(
    store: &S,
    previous: &Ticket,
    teams: &Teams,
) -> Result<(Option<String>, Option<String>), StoreError> {
    if previous.owner.is_none() && previous.team.is_none() {
        return Ok((None, None));
    }
    let active = active_agents(&store.list_keys().await?);
    if let Some(owner) = previous.owner.as_ref().filter(|o| active.contains(*o)) {
        return Ok((Some(owner.clone()), previous.team.clone()));
    }
    match previous.team.as_deref().and_then(|name| teams.get(name)) {
        Some(team) => Ok((
            next_member(store, team, &active).await?,
            Some(team.name.clone()),
        )),
        None => Ok((None, None)),
    }
}

fn plan(
    event: &InboundEvent,
    placement: Placement,
    around: &Surroundings,
    (owner, team): (Option<String>, Option<String>),
    rules: &Rules,
) -> IngestChange {
    let message = &event.message;
    let at = message.created_at;
    // The status the ticket had before, when the message joins one.
    let placement_status = match &placement {
        Placement::Join(ticket) => Some(ticket.status),
        Placement::Open => None,
    };
    let placement_ticket = match &placement {
        Placement::Join(ticket) => Some(ticket.clone()),
        Placement::Open => None,
    };
    // The customer's answer to the survey, which a satisfied customer gives without reopening.
    // Only the ticket's own customer answers it, not another author in the thread.
    let by_its_customer = |t: &Ticket| {
        around
            .customer
            .as_ref()
            .is_some_and(|customer| customer.id == t.customer_id)
    };
    let score = placement_ticket
        .as_ref()
        .filter(|t| {
            message.direction == Direction::Inbound && awaits_score(t) && by_its_customer(t)
        })
        .and_then(|_| satisfaction::score_of(&message.text));
    let (ticket, ticket_version_before) = match placement {
        Placement::Join(ticket) => {
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
                first_response_at: first_response(ticket.first_response_at, message),
                acknowledged_at: first_response(ticket.acknowledged_at, message),
                last_message_at: ticket.last_message_at.max(at),
                message_count: ticket.message_count + 1,
                version: version_before + 1,
                ..ticket
            };
            (joined, Some(version_before))
        }
        Placement::Open => (
            Ticket {
                owner: owner.clone(),
                team: team.clone(),
                ..new_ticket(message, around)
            },
            None,
        ),
    };

    // The brand's own messages say nothing of the customer but whom they were sent to.
    let inbound = message.direction == Direction::Inbound;
    let (name, email) = match inbound {
        true => (message.author.name.clone(), message.author.email.clone()),
        false => (None, None),
    };
    let identity = Identity::of_customer(message);
    let (customer, customer_version_before, new_identities) = match &around.customer {
        Some(known) => {
            let customer = Customer {
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
                latest_ticket_id: Some(ticket.id.clone()),
                updated_at: known.updated_at.max(at),
                version: known.version + 1,
                ..known.clone()
            };
            (customer, Some(known.version), Vec::new())
        }
        None => {
            let customer = Customer {
                id: CustomerId::derive(at, &identity.key()),
                account: message.account.clone(),
                name,
                email,
                identities: vec![identity.clone()],
                latest_ticket_id: Some(ticket.id.clone()),
                created_at: at,
                updated_at: at,
                acknowledged_at: None,
                version: 1,
            };
            (customer, None, vec![identity])
        }
    };

    let stored = Message::new(ticket.id.clone(), message.clone(), event.received_at);
    let actor = match message.direction {
        Direction::Inbound => Actor::Customer {
            customer_id: customer.id.clone(),
        },
        Direction::Outbound => Actor::Brand {
            account: message.account.clone(),
        },
    };
    let message_id = stored.id.clone();
    let mut events = Vec::new();
    match &placement_status {
        None => {
            events.push(TicketEvent::new(
                ticket.id.clone(),
                at,
                actor.clone(),
                EventKind::Created {
                    message_id: message_id.clone(),
                },
                "created",
            ));
            if owner.is_some() || team.is_some() {
                events.push(TicketEvent {
                    seq: 1,
                    ..TicketEvent::new(
                        ticket.id.clone(),
                        at,
                        Actor::System,
                        EventKind::Assigned { owner, team },
                        "assigned:sticky",
                    )
                });
            }
        }
        Some(before) => {
            events.push(TicketEvent::new(
                ticket.id.clone(),
                at,
                actor.clone(),
                EventKind::MessageAdded {
                    message_id: message_id.clone(),
                    direction: message.direction,
                },
                &format!("message:{message_id}"),
            ));
            if *before != ticket.status {
                events.push(TicketEvent {
                    seq: 1,
                    ..TicketEvent::new(
                        ticket.id.clone(),
                        at,
                        actor.clone(),
                        EventKind::StatusChanged {
                            from: *before,
                            to: ticket.status,
                        },
                        &format!("status:{}", ticket.version),
                    )
                });
            }
        }
    }
    if let Some(score) = score {
        events.push(TicketEvent {
            seq: events.len() as u32,
            ..TicketEvent::new(
                ticket.id.clone(),
                at,
                actor.clone(),
                EventKind::SatisfactionRated { score },
                "satisfaction",
            )
        });
    }
    let mut ticket = ticket;
    // A new complaint is triaged; praise and noise need no answer unless the account says so.
    let mut needs_answer = true;
    if placement_status.is_none() && message.direction == Direction::Inbound {
        let triage = triage::triage(
            &message.text,
            message.author.followers,
            rules.triage_of(&message.account),
        );
        needs_answer = matches!(triage.intent, Intent::Complaint | Intent::Question)
            || rules.answer_everything.contains(&message.account);
        ticket.priority = triage.priority;
        ticket.triage = Some(triage);
        if needs_answer {
            ticket.topics = triage::topic_terms(&message.text);
            let joins = incidents::incident_for(&rules.incidents, &ticket.account, &ticket.topics);
            if let Some(incident) = joins {
                let event = incidents::attach(&mut ticket, incident, at);
                events.push(TicketEvent {
                    seq: events.len() as u32,
                    ..event
                });
            }
        } else {
            ticket.status = TicketStatus::Closed;
            ticket.resolved_at = Some(at);
            events.push(TicketEvent {
                seq: events.len() as u32,
                ..TicketEvent::new(
                    ticket.id.clone(),
                    at,
                    Actor::System,
                    EventKind::StatusChanged {
                        from: TicketStatus::Open,
                        to: TicketStatus::Closed,
                    },
                    "status:triage",
                )
            });
        }
    }
    // The clocks run from platform time: when the customer wrote, when the brand answered.
    let policy = rules.policies.of(&ticket.account);
    match (&placement_status, message.direction) {
        (None, Direction::Inbound) if needs_answer => {
            retime(&mut ticket, Happened::Opened, at, policy)
        }
        (None, Direction::Inbound) => {}
        (None, Direction::Outbound) => {}
        (Some(before), direction) => {
            if *before != ticket.status {
                let status = Happened::Status {
                    from: *before,
                    to: ticket.status,
                };
                retime(&mut ticket, status, at, policy);
            }
            let happened = match direction {
                Direction::Inbound => Happened::CustomerWrote,
                Direction::Outbound => Happened::Answered,
            };
            retime(&mut ticket, happened, at, policy);
        }
    }
    // A new public complaint hears back at once (once per ticket, once a day per customer).
    let mut customer = customer;
    let mut replies = Vec::new();
    let acknowledgement = match placement_status {
        None if needs_answer => rules
            .acknowledgements
            .for_new_ticket(message, around.customer.as_ref()),
        _ => None,
    };
    if let Some(acknowledgement) = acknowledgement {
        let text = acknowledgement.text_for(None, around.customer.as_ref(), &message.author);
        let key = crate::acknowledgement::key_of(message);
        let ack = automatic_reply(&mut ticket, &stored, ReplyChannel::Public, text, &key);
        if let Some((ack, event)) = ack {
            ticket.acknowledged_at = Some(ack.body.created_at);
            customer.acknowledged_at = Some(at);
            events.push(TicketEvent {
                seq: events.len() as u32,
                ..event
            });
            replies.push(ack);
        }
    }
    // A good score is thanked once, privately, with the invitation to share the experience.
    if let (Some(score), Some(policy)) = (score, policy)
        && score >= satisfaction::DELIGHTED
    {
        let text = policy.followups.invitation_text.clone();
        let key = format!("{}:invitation", ticket.id);
        let thanks = automatic_reply(&mut ticket, &stored, ReplyChannel::Private, text, &key);
        if let Some((thanks, event)) = thanks {
            events.push(TicketEvent {
                seq: events.len() as u32,
                ..event
            });
            replies.push(thanks);
        }
    }
    // What needs no answer stays out of the response-time report.
    let samples = match needs_answer {
        true => crate::report::samples(placement_ticket.as_ref(), &ticket, None),
        false => Vec::new(),
    };
    IngestChange {
        samples,
        message: stored,
        ticket,
        ticket_version_before,
        customer,
        customer_version_before,
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
    known: Option<chrono::DateTime<chrono::Utc>>,
    message: &NormalizedMessage,
) -> Option<chrono::DateTime<chrono::Utc>> {
    match message.direction {
        Direction::Outbound => {
            Some(known.map_or(message.created_at, |t| t.min(message.created_at)))
        }
        Direction::Inbound => known,
    }
}

fn subject_of(message: &NormalizedMessage) -> String {
    message.text.chars().take(SUBJECT_CHARS).collect()
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
        first_response_at: first_response(None, message),
        acknowledged_at: first_response(None, message),
        owner: None,
        team: None,
        version: 1,
    }
}
