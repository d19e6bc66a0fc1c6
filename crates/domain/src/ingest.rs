//! Ingest: put one queued message on its ticket, exactly once.

use crate::acknowledgement;
use crate::contacts;
use crate::customers::Merged;
use crate::ids::{MessageId, TicketId};
use crate::lifecycle::CommandError;
use crate::message::{ChangeKind, Direction, Message, MessageChange, NormalizedMessage, Source};
use crate::ownership::{Teams, active_agents, next_member};
use crate::ports::{
    ApiKeyStore, CommitError, ContactStore, CustomerStore, IncidentRecords, IngestStore, LookedUp,
    Lookup, PrivacyStore, SettingsStore, SpikeCounters, StoreError, TeamTurns, TicketCommands,
    TicketLists, TicketReads,
};
use crate::replies::{self, OutboxJob};
use crate::report::Sample;
use crate::retry::{ATTEMPTS, Round, optimistic};
use crate::threading::{self, Placement, Rules, Surroundings};
use crate::ticket::Ticket;
use crate::triage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod plan;
use plan::plan;

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
    /// A bounce or a complaint about a reply a mailbox sent.
    Feedback(crate::mail_feedback::FeedbackEvent),
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

/// Applies an edit, removal or hiding to the stored message it names. A removal also takes
/// the ticket's copies of the message off it (the subject, the topic terms and the urgent words
/// triage found in it, when they came from this message), first: a removal delivered again
/// after a failure between the two finds the text still there and does both.
pub async fn apply_change<S: IngestStore + TicketCommands>(
    store: &S,
    change: &MessageChange,
) -> Result<ChangeOutcome, IngestError> {
    if change.change == ChangeKind::Removed
        && let Some(message) = store.get_message(&change.message_key()).await?
        && message.removed_at.is_none()
    {
        forget_copies(store, &message).await?;
    }
    change_message(store, change).await
}

/// The ticket without what it copied of `message` (matched by text: the subject is the start
/// of one message, the topics the terms of one, not always the same one).
async fn forget_copies<S: IngestStore + TicketCommands>(
    store: &S,
    message: &Message,
) -> Result<(), IngestError> {
    let text = message
        .original_text
        .as_deref()
        .unwrap_or(&message.body.text);
    let original = NormalizedMessage {
        text: text.to_string(),
        ..message.body.clone()
    };
    let (subject, topics) = (&plan::subject_of(&original), &triage::topic_terms(text));
    let ticket_id = &message.ticket_id;
    optimistic(
        move || async move {
            let Some(ticket) = store.get_ticket(ticket_id).await? else {
                return Ok(Round::Done(()));
            };
            let same_subject = !ticket.subject.is_empty() && ticket.subject == *subject;
            let same_topics = !ticket.topics.is_empty() && ticket.topics == *topics;
            if !same_subject && !same_topics {
                return Ok(Round::Done(()));
            }
            let mut forgotten = ticket.clone();
            if same_subject {
                forgotten.subject.clear();
            }
            if same_topics {
                forgotten.topics.clear();
                forgotten.triage = ticket.triage.clone().map(|triage| crate::ticket::Triage {
                    urgent_terms: Vec::new(),
                    reasons: Vec::new(),
                    ..triage
                });
            }
            forgotten.version = ticket.version + 1;
            let update = crate::ports::TicketUpdate {
                ticket: forgotten,
                version_before: ticket.version,
                events: Vec::new(),
                replies: Vec::new(),
                samples: Vec::new(),
            };
            match store.update_ticket(&update).await {
                Ok(()) => Ok(Round::Done(())),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || IngestError::TooMuchContention(ATTEMPTS),
    )
    .await
}

async fn change_message<S: IngestStore>(
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

// Here rather than in `lifecycle`, which knows nothing of ingest.
impl From<IngestError> for CommandError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Store(e) => CommandError::Store(e),
            IngestError::TooMuchContention(_) => CommandError::Contention,
        }
    }
}

/// What ingest needs of the store: threading reads and writes, the staff to pick owners, and
/// the customers' contacts (and merges) to note what a message gives.
pub trait IngestDeps:
    IngestStore
    + CustomerStore
    + ContactStore
    + PrivacyStore
    + TicketReads
    + TicketLists
    + TicketCommands
    + ApiKeyStore
    + TeamTurns
    + SettingsStore
    + SpikeCounters
    + IncidentRecords
{
}
impl<T> IngestDeps for T where
    T: IngestStore
        + CustomerStore
        + ContactStore
        + PrivacyStore
        + TicketReads
        + TicketLists
        + TicketCommands
        + ApiKeyStore
        + TeamTurns
        + SettingsStore
        + SpikeCounters
        + IncidentRecords
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
    place(store, event, rules)
        .await
        .map(|(outcome, _, _)| outcome)
}

/// What ingesting a message leaves its caller to do, besides reporting the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    pub outcome: IngestOutcome,
    /// Jobs for the outbox queue: the acknowledgement of a new complaint, as written with its
    /// ticket, or found still pending on a redelivery (the first delivery may have stored it
    /// and died before it was queued).
    pub jobs: Vec<OutboxJob>,
    /// The platform's id of the message this one answers, when that is not stored: no platform
    /// pushed it (see [`crate::listening::fetch_awaited`]).
    pub awaits: Option<String>,
    /// The customers the message's verified address made one ([`contacts::note_message`]).
    pub merged: Vec<Merged>,
}

/// Ingests a message as [`ingest_with`] does, and says which jobs to queue, so that the caller
/// reads nothing back. A new ticket is the caller's to count towards spikes, with the rest of
/// its batch ([`crate::incidents::watch_all`]).
pub async fn ingest_message<S: IngestDeps>(
    store: &S,
    event: &InboundEvent,
    rules: &Rules,
) -> Result<Ingested, IngestError> {
    let (outcome, replies, parent_stored) = place(store, event, rules).await?;
    let acknowledgements = &rules.acknowledgements;
    let jobs = match &outcome {
        IngestOutcome::Opened { .. } => {
            acknowledgement::written_job(acknowledgements, &event.message, &replies)
        }
        IngestOutcome::Joined { .. } => None,
        IngestOutcome::Duplicate { .. } => {
            acknowledgement::pending_job(store, acknowledgements, &event.message).await?
        }
    };
    let awaits = match parent_stored {
        true => None,
        false => event.message.in_reply_to.clone(),
    };
    let merged = note_contacts(store, event, &outcome, rules).await?;
    Ok(Ingested {
        outcome,
        jobs: jobs.into_iter().collect(),
        awaits,
        merged,
    })
}

/// Notes what a stored message gives of its customer's contacts, on a redelivery too (the
/// first delivery may have stored the message and died before); only then is the customer
/// read.
async fn note_contacts<S: IngestDeps>(
    store: &S,
    event: &InboundEvent,
    outcome: &IngestOutcome,
    rules: &Rules,
) -> Result<Vec<Merged>, IngestError> {
    let message = &event.message;
    // They wrote from it: a mark made before is undone (see `ContactMarks::in_force`).
    if message.source == Source::Email && message.direction == Direction::Inbound {
        let address = crate::mail_feedback::email_contact(&message.author.id);
        let verified = message.author.verified_email;
        store
            .note_written(&address, event.received_at, verified)
            .await?;
    }
    if contacts::given(message).is_empty() {
        return Ok(Vec::new());
    }
    let ticket_id = match outcome {
        IngestOutcome::Opened { ticket_id, .. }
        | IngestOutcome::Joined { ticket_id, .. }
        | IngestOutcome::Duplicate { ticket_id, .. } => ticket_id,
    };
    let Some(customer) = store.find_customer(&message.customer_key()).await? else {
        return Ok(Vec::new());
    };
    // A merge it makes is dated as the message's arrival, like the rest of what it changes.
    let at = event.received_at;
    Ok(contacts::note_message(store, message, (&customer.id, ticket_id), rules, at).await?)
}

/// Places the message; the outcome, the replies written with it, and whether the message it
/// answers (if any) is stored.
async fn place<S: IngestDeps>(
    store: &S,
    event: &InboundEvent,
    rules: &Rules,
) -> Result<(IngestOutcome, Vec<Message>, bool), IngestError> {
    let dedupe_key = &event.message.dedupe_key();
    let parent_key = event
        .message
        .in_reply_to
        .as_ref()
        .map(|parent| event.message.dedupe_key_of(parent));
    let identity_key = event.message.customer_key();
    let keys = &Lookup {
        dedupe_key,
        parent_key: parent_key.as_deref(),
        identity_key: &identity_key,
    };
    optimistic(
        move || async move {
            let found = store.look_up(keys).await?;
            let parent_stored = keys.parent_key.is_none() || found.parent.is_some();
            if let Some(stored) = found.stored {
                let duplicate = IngestOutcome::Duplicate {
                    ticket_id: stored.ticket_id,
                    message_id: stored.message_id,
                };
                return Ok(Round::Done((duplicate, Vec::new(), parent_stored)));
            }
            let around = surroundings(store, found).await?;
            let placement = threading::place(&around, event.message.created_at, rules);
            if let Placement::Join(ticket) = &placement
                && event.message.direction == Direction::Outbound
            {
                match confirm_echo(store, ticket, &event.message).await? {
                    Some(Ok(outcome)) => {
                        return Ok(Round::Done((outcome, Vec::new(), parent_stored)));
                    }
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
                Ok(()) => Ok(Round::Done((outcome, change.replies, parent_stored))),
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

/// The tickets around a message not stored yet, from what [`IngestStore::look_up`] found.
async fn surroundings<S: IngestStore>(
    store: &S,
    found: LookedUp,
) -> Result<Surroundings, StoreError> {
    // A ticket whose customer was erased takes no new message: what comes now is new data,
    // for a new ticket (see crate::privacy).
    let live = |ticket: Option<Ticket>| ticket.filter(|t| t.erased_at.is_none());
    let parent_ticket = match &found.parent {
        Some(parent) => live(store.get_ticket(&parent.ticket_id).await?),
        None => None,
    };
    let child_ticket = match (&parent_ticket, &found.awaiting) {
        (None, Some(id)) => live(store.get_ticket(id).await?),
        _ => None,
    };
    let customer = found.customer;
    let customer_ticket = match customer.as_ref().and_then(|c| c.latest_ticket_id.as_ref()) {
        Some(id) if parent_ticket.is_none() && child_ticket.is_none() => {
            live(store.get_ticket(id).await?)
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
