//! Listening on the scheduler's minute: each account's search queries, polled when due, their
//! complaints and questions queued for ingest like a webhook's messages, the rest counted on
//! the search's state. See [`socialcare_domain::listening`].

use crate::queues::inbound_message;
use crate::scheduler::ScheduleError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use socialcare_domain::listening::{AccountSearches, ListenError, Listener, read_page};
use socialcare_domain::ports::{CommitError, ListeningStore, Outgoing, Queue, QueueError};
use socialcare_domain::search::SearchState;
use socialcare_platforms::XListener;

/// Pages one query reads in one run at most; the rest waits for the next minute (the state
/// says where to go on).
const PAGES_PER_RUN: usize = 3;

/// What one run of the searches did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listened {
    /// Requests made to the platform.
    pub requests: usize,
    /// Results queued to become messages on tickets.
    pub queued: usize,
    /// Results counted, not ticketed.
    pub heard: usize,
    /// Polls that failed (the state keeps why, and when to try again).
    pub failed: usize,
    /// The platform said the app is over its limit: the run stopped there.
    pub paused: bool,
}

/// One poll of an Instagram hashtag, for the sender: it holds the page tokens Meta reads with
/// (the scheduler holds none), and what it finds is counted, never queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenJob {
    pub listen: AccountSearches,
    pub query: String,
    /// The version of the query's state the scheduler's claim wrote: the poll goes on from
    /// that one, and not twice (a job without one, from before, is let go: the next claim
    /// comes an interval on).
    #[serde(default)]
    pub claimed: u64,
}

impl ListenJob {
    pub fn outgoing(&self) -> Result<Outgoing, QueueError> {
        let body = serde_json::to_string(self)
            .map_err(|e| QueueError::invalid(format!("encoding the listen job: {e}")))?;
        Ok(Outgoing {
            body,
            group_id: None,
            dedupe_id: None,
            delay: std::time::Duration::ZERO,
        })
    }
}

/// Queues a poll of each Instagram hashtag that is due on the outbox, for the sender. The
/// query's state is claimed first (its next poll set an interval on): a run that finds it
/// claimed queues nothing, and a poll lost on the way is only late by one interval.
pub async fn queue_hashtag_polls<S: ListeningStore, Q: Queue>(
    store: &S,
    outbox: &Q,
    searches: &[AccountSearches],
    now: DateTime<Utc>,
) -> Result<usize, ScheduleError> {
    let mut queued = 0;
    for account in searches.iter().filter(|a| !a.ticketable()) {
        for query in &account.listening.queries {
            let state = store
                .search_state(account.source, &account.account, query)
                .await?
                .unwrap_or_else(|| SearchState::new(account.source, &account.account, query));
            if !state.due(now) {
                continue;
            }
            let claimed = SearchState {
                next_poll_at: Some(now + account.listening.every()),
                version: state.version + 1,
                ..state
            };
            match store.put_search_state(&claimed).await {
                Ok(()) => {}
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => continue,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
            let job = ListenJob {
                listen: account.clone(),
                query: query.clone(),
                claimed: claimed.version,
            };
            outbox.send(job.outgoing()?).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// What became of a poll job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashtagPoll {
    Polled(Listened),
    /// The state read is older than the claim (a read a moment behind): try again soon.
    NotYet,
    /// Polled already (the job came again), or claimed again since: nothing to do.
    Done,
}

/// The sender's poll of one hashtag ([`ListenJob`]): up to [`PAGES_PER_RUN`] pages, counted
/// on the query's state, from the state the scheduler claimed.
pub async fn poll_hashtag<S: ListeningStore, L: Listener>(
    store: &S,
    listener: &L,
    job: &ListenJob,
    now: DateTime<Utc>,
) -> Result<HashtagPoll, ScheduleError> {
    let account = &job.listen;
    let state = store
        .search_state(account.source, &account.account, &job.query)
        .await?
        .unwrap_or_else(|| SearchState::new(account.source, &account.account, &job.query));
    if state.version < job.claimed {
        return Ok(HashtagPoll::NotYet);
    }
    if state.version > job.claimed {
        return Ok(HashtagPoll::Done);
    }
    let mut listened = Listened::default();
    poll::<S, L, NoTickets>(store, listener, None, account, state, now, &mut listened).await?;
    Ok(HashtagPoll::Polled(listened))
}

/// The queue of a search whose results are never ticketed: there is none.
enum NoTickets {}

impl Queue for NoTickets {
    async fn send(&self, _: Outgoing) -> Result<(), QueueError> {
        match *self {}
    }
    async fn receive(
        &self,
        _: u32,
        _: std::time::Duration,
    ) -> Result<Vec<socialcare_domain::ports::Delivery>, QueueError> {
        match *self {}
    }
    async fn delete(&self, _: &str) -> Result<(), QueueError> {
        match *self {}
    }
    async fn change_visibility(&self, _: &str, _: std::time::Duration) -> Result<(), QueueError> {
        match *self {}
    }
}

/// Polls every query that is due, at most [`PAGES_PER_RUN`] pages each, until `budget` is
/// spent (the rest wait for the next run) or the platform says the app is over its limit (the
/// limit is the app's: every other query would hear the same). A result is queued before the
/// state that counts it is written: a run that dies in between reads the page again next
/// time, and ingest drops what it queued twice.
pub async fn listen<S: ListeningStore, L: Listener, Q: Queue>(
    store: &S,
    listener: &L,
    queue: &Q,
    searches: &[AccountSearches],
    now: DateTime<Utc>,
    budget: std::time::Duration,
) -> Result<Listened, ScheduleError> {
    let started = std::time::Instant::now();
    let mut listened = Listened::default();
    // Instagram's hashtags are polled by the sender ([`queue_hashtag_polls`]).
    for account in searches.iter().filter(|a| a.ticketable()) {
        for query in &account.listening.queries {
            if started.elapsed() >= budget || listened.paused {
                return Ok(listened);
            }
            let state = store
                .search_state(account.source, &account.account, query)
                .await?
                .unwrap_or_else(|| SearchState::new(account.source, &account.account, query));
            if state.due(now) {
                poll(
                    store,
                    listener,
                    Some(queue),
                    account,
                    state,
                    now,
                    &mut listened,
                )
                .await?;
            }
        }
    }
    Ok(listened)
}

async fn poll<S: ListeningStore, L: Listener, Q: Queue>(
    store: &S,
    listener: &L,
    queue: Option<&Q>,
    account: &AccountSearches,
    mut state: SearchState,
    now: DateTime<Utc>,
    listened: &mut Listened,
) -> Result<(), ScheduleError> {
    for _ in 0..PAGES_PER_RUN {
        listened.requests += 1;
        let request = state.request(now);
        let next = match listener
            .search(account.source, &account.account, &request)
            .await
        {
            Ok(page) => {
                let read = read_page(&state, page, account, now);
                let heard = |state: &SearchState| state.heard.values().sum::<u64>();
                listened.heard += (heard(&read.state) - heard(&state)) as usize;
                let messages = read
                    .ticket
                    .into_iter()
                    .map(|message| inbound_message(message, now))
                    .collect::<Result<Vec<_>, _>>()?;
                listened.queued += messages.len();
                // Only a ticketable search has a queue, and only it tickets (`read_page`).
                if let Some(queue) = queue {
                    queue.send_all(messages).await?;
                }
                read.state
            }
            Err(error) => {
                tracing::warn!(account = %account.account, query = %state.query, %error, "search failed");
                listened.failed += 1;
                listened.paused = matches!(error, ListenError::Paused { .. });
                let mut failed = socialcare_domain::listening::failed(
                    &state,
                    &error,
                    account.listening.every(),
                    now,
                );
                // Started over, a search whose results are only counted would count them
                // twice (ingest drops what a ticketable one reads again): it goes on after
                // the newest it counted.
                if !account.ticketable() {
                    failed.since_id = match &state.resume {
                        // Stopped between pages: what it read counted, the rest is let go.
                        Some(resume) => Some(resume.newest_id.clone()),
                        None => state.since_id.clone(),
                    };
                }
                failed
            }
        };
        match store.put_search_state(&next).await {
            Ok(()) => {}
            // Another run polled it meanwhile: it goes on from its own state.
            Err(CommitError::Conflict) | Err(CommitError::Duplicate) => return Ok(()),
            Err(CommitError::Store(e)) => return Err(e.into()),
        }
        let more = next.resume.is_some() && next.last_error.is_none();
        state = next;
        if !more {
            break;
        }
    }
    Ok(())
}

/// Makes the X reader, or says why it cannot be made now.
pub type MakeListener =
    Box<dyn Fn() -> futures::future::BoxFuture<'static, Result<XListener, String>> + Send + Sync>;

/// The X reader that fetches the posts replies answer, made on first use: most batches never
/// need it, and on AWS making it reads the app's secret.
pub struct Lookup {
    listener: tokio::sync::OnceCell<XListener>,
    make: MakeListener,
    /// Not asked before this: X was over its limit or could not be reached, and every message
    /// of a batch waiting on it in turn would hold its customer's messages back.
    resting_until: std::sync::Mutex<Option<DateTime<Utc>>>,
}

/// How long the lookup rests after X could not be reached.
const REST_AFTER_FAILURE: chrono::Duration = chrono::Duration::minutes(1);

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("listener", &self.listener.get())
            .finish()
    }
}

impl Lookup {
    pub fn ready(listener: XListener) -> Self {
        Self {
            listener: tokio::sync::OnceCell::new_with(Some(listener)),
            make: Box::new(|| Box::pin(async { Err("made already".to_string()) })),
            resting_until: Default::default(),
        }
    }

    pub fn lazy(make: MakeListener) -> Self {
        Self {
            listener: tokio::sync::OnceCell::new(),
            make,
            resting_until: Default::default(),
        }
    }

    /// Whether the lookup rests at `now` (see [`Lookup::rest_after`]).
    pub fn resting(&self, now: DateTime<Utc>) -> bool {
        let until = *self.resting_until.lock().unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|until| now < until)
    }

    /// Rests after `error`: until the end of X's pause, or a minute after an outage.
    pub fn rest_after(&self, error: &ListenError, now: DateTime<Utc>) {
        let until = match error {
            ListenError::Paused { until, .. } => *until,
            ListenError::Unavailable(_) => now + REST_AFTER_FAILURE,
            ListenError::Refused(_) => return,
        };
        *self.resting_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
    }

    /// The reader; `None` (logged) when it cannot be made now: the next batch tries again.
    pub async fn get(&self) -> Option<&XListener> {
        match self.listener.get_or_try_init(|| (self.make)()).await {
            Ok(listener) => Some(listener),
            Err(reason) => {
                tracing::warn!(%reason, "the X reader could not be made");
                None
            }
        }
    }
}
