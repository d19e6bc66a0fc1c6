//! One answer for all: an agent's status update on an incident, posted once publicly by the
//! brand account and written as a reply on every ticket attached to the incident.
//!
//! An update is a record of its own, advanced step by step by the sender (each step a job on
//! the outbox queue), so that thousands of tickets are answered without one long request and a
//! crash resumes where the last step left off. Each ticket's reply is keyed by the update's id,
//! so a step done twice writes nothing twice. Steps are paced by the account's [`Pace`]: every
//! step first reserves posts from the account's budget for the current slice of time (an atomic
//! counter in the store, shared by every worker and update), and writes only as many replies.

use crate::events::Actor;
use crate::ids::{IncidentId, TicketId, UpdateId};
use crate::incident::IncidentStatus;
use crate::lifecycle::{CommandError, change_status};
use crate::message::{Message, Source};
use crate::page::Cursor;
use crate::ports::{
    CommitError, IncidentRecords, IncidentResolution, IncidentTickets, IncidentUpdateStore,
    IngestStore, Outgoing, PostAllowance, Queue, QueueError, SettingsStore, StoreError,
    TicketCommands, TicketReads,
};
use crate::replies::{
    DeliveryState, OutboxJob, Platform, PostError, ReplyChannel, ReplyError, ReplyRequest,
    write_reply,
};
use crate::report::Sample;
use crate::retry::{ATTEMPTS, Round, optimistic};
use crate::ticket::{Ticket, TicketQuery, TicketStatus};
pub use crate::update::{IncidentUpdate, Pace, StatusPost, UpdateRequest, can_post_publicly};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The paces of the brand accounts that set one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paces(pub std::collections::BTreeMap<String, Pace>);

impl Paces {
    /// The account's pace, or its platform's default.
    pub fn of(&self, account: &str, source: Source) -> Pace {
        self.0
            .get(account)
            .copied()
            .unwrap_or_else(|| Pace::default_for(source))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("no incident {0}")]
    NotFound(IncidentId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the incident kept changing; try again")]
    Contention,
}

/// Stores the update (the one already stored when the key was used before) and, when it
/// resolves the incident, resolves it: new complaints no longer join it. Advancing the update
/// is the caller's next step.
pub async fn start_update<S: IncidentRecords + IncidentResolution + IncidentUpdateStore>(
    store: &S,
    incident_id: &IncidentId,
    request: &UpdateRequest,
    now: DateTime<Utc>,
) -> Result<IncidentUpdate, UpdateError> {
    optimistic(
        move || async move {
            let incident = store
                .get_incident(incident_id)
                .await?
                .ok_or_else(|| UpdateError::NotFound(incident_id.clone()))?;
            let update = IncidentUpdate::new(&incident, request, now);
            let update = match store.create_update(&update).await {
                Ok(()) => update,
                Err(CommitError::Duplicate) => store
                    .get_update(incident_id, &update.id)
                    .await?
                    .ok_or_else(|| {
                        StoreError::unavailable(format!("update {} vanished", update.id))
                    })?,
                Err(CommitError::Conflict) => return Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => return Err(e.into()),
            };
            if update.resolves && incident.status == IncidentStatus::Active {
                match store
                    .resolve_incident(&incident.resolved(now), incident.version)
                    .await
                {
                    Ok(()) | Err(CommitError::Duplicate) => {}
                    Err(CommitError::Conflict) => return Ok(Round::ReadAgain),
                    Err(CommitError::Store(e)) => return Err(e.into()),
                }
            }
            Ok(Round::Done(update))
        },
        || UpdateError::Contention,
    )
    .await
}

/// What the outbox queue carries to take an update's next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateJob {
    pub incident_id: IncidentId,
    pub update_id: UpdateId,
}

impl UpdateJob {
    pub fn of(update: &IncidentUpdate) -> Self {
        Self {
            incident_id: update.incident_id.clone(),
            update_id: update.id.clone(),
        }
    }

    /// The job as a message for the outbox queue, delivered after `delay`.
    pub fn outgoing(&self, delay: std::time::Duration) -> Result<Outgoing, QueueError> {
        crate::replies::outgoing(self, delay)
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq)]
pub struct Advanced {
    /// Replies put on the outbox queue (written now, or found written and still pending).
    pub queued: Vec<Message>,
    /// What the replies added to the response-time report.
    pub samples: Vec<Sample>,
    /// When to take the next step; `None` when the update is finished (or gone).
    pub next: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// How long a public post's attempt holds before another worker takes it as dead.
fn lease() -> Duration {
    Duration::seconds(60)
}

/// Tickets per step at most, whatever the budget: a step stays well within a Lambda's time.
const STEP_TICKETS: u32 = 25;

/// Takes one step of the update: the public post while it is pending, then the next tickets,
/// as many as the account's budget allows now, their replies put on the `outbox` queue before
/// the step is recorded (so a step that fails in between is taken again, not skipped).
pub async fn advance<S, P, Q>(
    store: &S,
    platform: &P,
    outbox: &Q,
    job: &UpdateJob,
    now: DateTime<Utc>,
) -> Result<Advanced, StepError>
where
    S: IncidentRecords
        + IncidentTickets
        + IncidentUpdateStore
        + PostAllowance
        + IngestStore
        + TicketReads
        + TicketCommands
        + SettingsStore,
    P: Platform,
    Q: Queue,
{
    let (incident_id, id) = (&job.incident_id, &job.update_id);
    let mut advanced = Advanced {
        queued: Vec::new(),
        samples: Vec::new(),
        next: None,
    };
    // Not `retry::optimistic`: what a raced round queued is reported too, so `advanced` outlives
    // the rounds (and a round's future cannot borrow it mutably from a closure).
    for _ in 0..ATTEMPTS {
        let Some(update) = store.get_update(incident_id, id).await? else {
            return Ok(advanced);
        };
        if update.finished_at.is_some() {
            return Ok(advanced);
        }
        if let Some(post) = &update.public_post
            && matches!(post.state, DeliveryState::Pending | DeliveryState::Sending)
        {
            match post_publicly(store, platform, &update, post, now).await? {
                Posting::WaitUntil(at) => {
                    advanced.next = Some(at);
                    return Ok(advanced);
                }
                Posting::ReadAgain => continue,
            }
        }
        let slice = update.pace.slice_start(now);
        let wanted = STEP_TICKETS.min(update.pace.per_slice());
        let granted = store
            .reserve_posts(&update.account, slice, wanted, update.pace.per_slice())
            .await?;
        if granted == 0 {
            advanced.next = Some(slice + update.pace.slice());
            return Ok(advanced);
        }
        let query = TicketQuery {
            after: update
                .cursor
                .as_deref()
                .and_then(|raw| Cursor::decode(raw).ok()),
            ..TicketQuery::newest(granted)
        };
        let page = store.incident_tickets(incident_id, &query).await?;
        let mut next = IncidentUpdate {
            cursor: page.next.as_ref().map(Cursor::encode),
            finished_at: page.next.is_none().then_some(now),
            version: update.version + 1,
            ..update.clone()
        };
        for ticket in &page.items {
            match answer(store, &update, ticket, now).await? {
                Ok((reply, samples)) => {
                    next.answered += 1;
                    advanced.samples.extend(samples);
                    if reply
                        .delivery
                        .as_ref()
                        .is_some_and(|d| d.state == DeliveryState::Pending)
                    {
                        outbox.send(OutboxJob::of(&reply).outgoing()?).await?;
                        advanced.queued.push(reply);
                    }
                }
                Err(why) => {
                    next.skipped += 1;
                    next.last_skip = Some(format!("{}: {why}", ticket.id));
                }
            }
        }
        match store.put_update(&next, update.version).await {
            Ok(()) => {}
            // Another worker took this step too: its record stands, the replies are the same.
            Err(CommitError::Conflict) | Err(CommitError::Duplicate) => continue,
            Err(CommitError::Store(e)) => return Err(e.into()),
        }
        advanced.next = match (next.finished_at, granted == wanted) {
            (Some(_), _) => None,
            (None, true) => Some(now),
            (None, false) => Some(slice + update.pace.slice()),
        };
        return Ok(advanced);
    }
    // Workers kept racing on it: look again shortly.
    advanced.next = Some(now + Duration::seconds(1));
    Ok(advanced)
}

/// Why an update skips one of its incident's tickets (it goes on with the rest).
#[derive(Debug, thiserror::Error)]
enum Skip {
    #[error("the ticket is closed")]
    Closed,
    #[error(transparent)]
    Refused(ReplyError),
}

/// Writes the update on one ticket (and resolves it when the update does); the reason when it
/// cannot be.
async fn answer<S>(
    store: &S,
    update: &IncidentUpdate,
    ticket: &Ticket,
    now: DateTime<Utc>,
) -> Result<Result<(Message, Vec<Sample>), Skip>, StoreError>
where
    S: IngestStore + TicketReads + TicketCommands + SettingsStore,
{
    if ticket.status == TicketStatus::Closed {
        return Ok(Err(Skip::Closed));
    }
    let request = ReplyRequest {
        text: update.text.clone(),
        channel: ReplyChannel::Auto,
        key: update.reply_key(&ticket.id),
        author: Actor::Agent {
            id: update.author.clone(),
        },
        automatic: false,
    };
    let written = match write_reply(store, &ticket.id, &request, now).await {
        Ok(written) => written,
        Err(ReplyError::Store(e)) => return Err(e),
        Err(e) => return Ok(Err(Skip::Refused(e))),
    };
    let mut samples = written.samples;
    if update.resolves {
        samples.extend(resolve(store, &ticket.id, &update.author, now).await?);
    }
    Ok(Ok((written.reply, samples)))
}

async fn resolve<S>(
    store: &S,
    id: &TicketId,
    author: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Sample>, StoreError>
where
    S: IngestStore + TicketCommands + SettingsStore,
{
    let actor = Actor::Agent { id: author.into() };
    match change_status(store, id, TicketStatus::Resolved, actor, now).await {
        Ok(changed) => Ok(changed.samples),
        Err(CommandError::Store(e)) => Err(e),
        // Closed meanwhile, or gone: the reply stands, the status is the agent's call.
        Err(_) => Ok(Vec::new()),
    }
}

enum Posting {
    /// Nothing more to do before this time.
    WaitUntil(DateTime<Utc>),
    /// The post moved on: read the update again.
    ReadAgain,
}

/// Posts the update publicly, at most once: claimed (`sending`) before the call, and an attempt
/// that died mid-call is not made again (`unconfirmed`).
async fn post_publicly<S: IncidentUpdateStore + PostAllowance, P: Platform>(
    store: &S,
    platform: &P,
    update: &IncidentUpdate,
    post: &StatusPost,
    now: DateTime<Utc>,
) -> Result<Posting, StoreError> {
    let record = |post: StatusPost| async move {
        let next = IncidentUpdate {
            public_post: Some(post),
            version: update.version + 1,
            ..update.clone()
        };
        match store.put_update(&next, update.version).await {
            Ok(()) | Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {
                Ok(Posting::ReadAgain)
            }
            Err(CommitError::Store(e)) => Err(e),
        }
    };
    if post.state == DeliveryState::Sending {
        let started = post.attempt_started_at.unwrap_or(now);
        if now < started + lease() {
            return Ok(Posting::WaitUntil(started + lease()));
        }
        return record(StatusPost {
            state: DeliveryState::Unconfirmed,
            attempt_started_at: None,
            error: Some(format!(
                "the attempt of {started} ended without an answer; the platform may have posted it, so it is not posted again"
            )),
            ..post.clone()
        })
        .await;
    }
    let slice = update.pace.slice_start(now);
    if store
        .reserve_posts(&update.account, slice, 1, update.pace.per_slice())
        .await?
        == 0
    {
        return Ok(Posting::WaitUntil(slice + update.pace.slice()));
    }
    let claim = StatusPost {
        state: DeliveryState::Sending,
        attempts: post.attempts + 1,
        attempt_started_at: Some(now),
        ..post.clone()
    };
    let claimed = IncidentUpdate {
        public_post: Some(claim.clone()),
        version: update.version + 1,
        ..update.clone()
    };
    match store.put_update(&claimed, update.version).await {
        Ok(()) => {}
        Err(CommitError::Conflict) | Err(CommitError::Duplicate) => return Ok(Posting::ReadAgain),
        Err(CommitError::Store(e)) => return Err(e),
    }
    let result = platform
        .publish(update.source, &update.account, &update.text)
        .await;
    let (settled, wait) = match result {
        Ok(platform_id) => (
            StatusPost {
                state: DeliveryState::Sent,
                platform_id: Some(platform_id),
                posted_at: Some(now),
                attempt_started_at: None,
                error: None,
                ..claim
            },
            None,
        ),
        Err(PostError::Permanent(error)) => (
            StatusPost {
                state: DeliveryState::Failed,
                attempt_started_at: None,
                error: Some(error),
                ..claim
            },
            None,
        ),
        Err(PostError::Unknown(error)) => (
            StatusPost {
                state: DeliveryState::Unconfirmed,
                attempt_started_at: None,
                error: Some(format!(
                    "no answer from the platform ({error}); it may have posted it, so it is not posted again"
                )),
                ..claim
            },
            None,
        ),
        Err(error) if claim.attempts >= 5 => (
            StatusPost {
                state: DeliveryState::Failed,
                attempt_started_at: None,
                error: Some(format!(
                    "gave up after {} attempts; last error: {error}",
                    claim.attempts
                )),
                ..claim
            },
            None,
        ),
        Err(error) => {
            let retry_at = match &error {
                PostError::RateLimited { retry_at, .. } => *retry_at,
                _ => now + Duration::seconds(30 << claim.attempts.min(5)),
            };
            (
                StatusPost {
                    state: DeliveryState::Pending,
                    attempt_started_at: None,
                    error: Some(error.to_string()),
                    ..claim
                },
                Some(retry_at),
            )
        }
    };
    let next = IncidentUpdate {
        public_post: Some(settled),
        version: claimed.version + 1,
        ..claimed.clone()
    };
    match store.put_update(&next, claimed.version).await {
        Ok(()) | Err(CommitError::Conflict) | Err(CommitError::Duplicate) => {}
        Err(CommitError::Store(e)) => return Err(e),
    }
    Ok(match wait {
        Some(at) => Posting::WaitUntil(at),
        None => Posting::ReadAgain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap()
    }

    #[test]
    fn a_pace_slices_its_window_in_tenths_and_keeps_a_twelfth_per_slice() {
        let x = Pace::default_for(Source::X);
        assert_eq!(
            x,
            Pace {
                posts: 100,
                per_seconds: 900
            }
        );
        assert_eq!(x.slice(), Duration::seconds(90));
        assert_eq!(x.per_slice(), 8);
        assert_eq!(x.slice_start(at(9, 4, 10)), at(9, 3, 0));
        // 11 seconds do not split in tenths: slices round up so ten of them cover the window.
        let odd = Pace {
            posts: 24,
            per_seconds: 11,
        };
        assert_eq!(odd.slice(), Duration::seconds(2));
        assert_eq!(odd.per_slice(), 2);
        assert_eq!(x.check(), Ok(()));
        assert!(
            Pace {
                posts: 11,
                per_seconds: 900
            }
            .check()
            .is_err()
        );
        assert!(
            Pace {
                posts: 100,
                per_seconds: 9
            }
            .check()
            .is_err()
        );
        assert!(
            Pace {
                posts: 100,
                per_seconds: 86_401
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn any_window_of_the_platforms_length_stays_within_the_limit() {
        // Posts go out a full slice's worth at the start of each slice, some slipping into the
        // next slice: count the most any sliding window sees.
        for pace in [
            Pace::default_for(Source::X),
            Pace::default_for(Source::Facebook),
            Pace {
                posts: 24,
                per_seconds: 11,
            },
            Pace {
                posts: 37,
                per_seconds: 60,
            },
        ] {
            let slice = pace.slice().num_seconds();
            let mut times = Vec::new();
            for n in 0..100 {
                for k in 0..pace.per_slice() {
                    // Half of each slice's posts slip to the end of the slice after.
                    let slip = if k % 2 == 0 { 0 } else { 2 * slice - 1 };
                    times.push(n * slice + slip);
                }
            }
            times.sort();
            let window = i64::from(pace.per_seconds);
            let most = times
                .iter()
                .map(|start| {
                    times
                        .iter()
                        .filter(|t| **t >= *start && **t < start + window)
                        .count()
                })
                .max()
                .unwrap();
            assert!(
                most <= pace.posts as usize,
                "{pace:?}: {most} posts in one window"
            );
        }
    }

    #[test]
    fn only_x_and_facebook_accounts_post_publicly() {
        assert!(can_post_publicly(Source::X));
        assert!(can_post_publicly(Source::Facebook));
        assert!(!can_post_publicly(Source::Instagram));
        assert!(!can_post_publicly(Source::Integration));
    }
}
