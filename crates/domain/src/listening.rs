//! Listening: hearing what customers say about the brand without addressing it (an account's
//! search queries, polled by the scheduler), and fetching the message a reply answers when no
//! platform ever pushed it (the customer's tweet the brand answered natively).
//!
//! A search result is normalized like a mention, with the same dedupe key: the webhook's copy
//! of a tweet that also mentions the brand is the same message. Triage decides what is
//! ticketed: complaints and questions are queued for ingest like any message; praise and noise
//! are counted on the search's state (the latest kept to be seen), not ticketed, unless the
//! account answers everything.

use crate::events::{Actor, EventKind, TicketEvent};
use crate::ingest::{InboundEvent, IngestDeps, IngestError, Ingested, ingest_message};
use crate::message::{Direction, FoundBy, NormalizedMessage, Source};
use crate::ports::{CommitError, StoreError};
use crate::threading::Rules;
use crate::triage::{self, Intent, TriageRules};
use chrono::{DateTime, Duration, Utc};
use std::future::Future;

pub use crate::search::{
    FIRST_LOOK_BACK, HEARD_KEPT, Heard, Listening, ListeningError, MOST_QUERIES, QUERY_MOST_CHARS,
    Resume, SearchPage, SearchRequest, SearchState,
};

/// One account's searches, with what decides which results are ticketed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountSearches {
    pub source: Source,
    pub account: String,
    pub listening: Listening,
    pub triage: TriageRules,
    /// Praise and noise are ticketed too.
    pub ticket_everything: bool,
}

impl AccountSearches {
    /// Whether what its searches find can be answered, so ticketed: not on Instagram, where a
    /// post found by its hashtag has no author and takes no comment from the brand.
    pub fn ticketable(&self) -> bool {
        self.source != Source::Instagram
    }
}

/// What a page does: the messages to queue, and the state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRead {
    pub ticket: Vec<NormalizedMessage>,
    pub state: SearchState,
}

/// Reads one page into the state. A post that addresses the brand (a mention or a reply to
/// it, which the platform leaves with `found_by: None`) is queued as its webhook copy would
/// be. Every other result is marked as found by this search and triaged: complaints and
/// questions (or everything, when the account says so) are to be ticketed, the rest counted
/// and kept among the latest heard. The brand's own posts are neither.
pub fn read_page(
    state: &SearchState,
    page: SearchPage,
    searches: &AccountSearches,
    now: DateTime<Utc>,
) -> PageRead {
    let mut next = state.clone();
    let mut ticket = Vec::new();
    let mut heard = Vec::new();
    for mut message in page.messages {
        if message.direction == Direction::Outbound {
            continue;
        }
        next.found += 1;
        if message.found_by.is_none() && searches.ticketable() {
            next.ticketed += 1;
            ticket.push(message);
            continue;
        }
        message.found_by = Some(FoundBy::Search {
            query: state.query.clone(),
        });
        let intent =
            triage::triage(&message.text, message.author.followers, &searches.triage).intent;
        let ticketed =
            searches.ticket_everything || matches!(intent, Intent::Complaint | Intent::Question);
        if ticketed && searches.ticketable() {
            next.ticketed += 1;
            ticket.push(message);
        } else {
            let intent = intent.as_str().to_string();
            *next.heard.entry(intent.clone()).or_default() += 1;
            heard.push(Heard {
                link: page.links.get(&message.external_id).cloned(),
                external_id: message.external_id,
                author_handle: message.author.handle,
                text: message.text.chars().take(280).collect(),
                at: message.created_at,
                intent,
            });
        }
    }
    // A post read again (a search started over) is kept once.
    let older: Vec<Heard> = next
        .latest_heard
        .into_iter()
        .filter(|old| !heard.iter().any(|new| new.external_id == old.external_id))
        .collect();
    heard.extend(older);
    heard.sort_by_key(|heard| std::cmp::Reverse(heard.at));
    heard.truncate(HEARD_KEPT);
    next.latest_heard = heard;
    // The poll's newest result is the first page's; it becomes `since_id` when the last page
    // is read.
    let newest = match &state.resume {
        Some(resume) => Some(resume.newest_id.clone()),
        None => page.newest_id.clone(),
    };
    let start_time = state.request(now).start_time;
    match (page.next_token, newest) {
        (Some(next_token), Some(newest_id)) => {
            next.resume = Some(Resume {
                next_token,
                newest_id,
                start_time,
            })
        }
        (_, newest) => {
            next.resume = None;
            next.since_id = newest.or(next.since_id);
            next.next_poll_at = Some(now + searches.listening.every());
        }
    }
    next.last_polled_at = Some(now);
    next.last_error = None;
    next.version = state.version + 1;
    PageRead {
        ticket,
        state: next,
    }
}

/// The state after a poll that failed: the error is kept, and the query waits for `until`
/// (the rate limit's reset) or its interval.
pub fn failed(
    state: &SearchState,
    error: &ListenError,
    every: Duration,
    now: DateTime<Utc>,
) -> SearchState {
    let wait_until = match error {
        ListenError::Paused { until, .. } => (*until).max(now + Duration::minutes(1)),
        ListenError::Refused(_) | ListenError::Unavailable(_) => now + every,
    };
    // What X refuses would be refused again every time: a page token that expired, a
    // `since_id` older than the seven days recent search reaches (after a long pause). The
    // search starts over from an hour back; what it reads again, ingest drops.
    let (resume, since_id) = match error {
        ListenError::Refused(_) => (None, None),
        _ => (state.resume.clone(), state.since_id.clone()),
    };
    SearchState {
        resume,
        since_id,
        next_poll_at: Some(wait_until),
        last_polled_at: Some(now),
        last_error: Some(error.to_string()),
        version: state.version + 1,
        ..state.clone()
    }
}

/// Why a platform read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// Over the platform's rate limit (or usage cap): not before `until`.
    #[error("paused until {until}: {reason}")]
    Paused {
        until: DateTime<Utc>,
        reason: String,
    },
    /// Refused for good as asked: a query the platform rejects, no credentials, a token it
    /// refuses.
    #[error("refused: {0}")]
    Refused(String),
    /// Could not be reached, or failed on its side: try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What fetching one message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Found(Box<NormalizedMessage>),
    /// It cannot be read: deleted, protected, suspended, or never there (the platform's
    /// words).
    Gone(String),
}

/// The platforms' read side: search, and one message by its id.
pub trait Listener: Send + Sync {
    /// One page of the account's search.
    fn search(
        &self,
        source: Source,
        account: &str,
        request: &SearchRequest,
    ) -> impl Future<Output = Result<SearchPage, ListenError>> + Send;

    /// The message `external_id` of the platform, normalized for `account`.
    fn fetch(
        &self,
        source: Source,
        account: &str,
        external_id: &str,
    ) -> impl Future<Output = Result<Fetched, ListenError>> + Send;
}

/// A fetched message is stored only when it belongs on the ticket of the reply that answers
/// it: the customer's own message (which the brand answered, or the customer followed up on).
/// A brand post the customer replied to (an announcement) opens nothing; a brand post the
/// brand replied to leads further up its thread.
pub fn keep_fetched(fetched: &NormalizedMessage, customer_id: &str) -> FetchedStep {
    match fetched.direction {
        Direction::Inbound if fetched.author.id == customer_id => FetchedStep::Store,
        Direction::Inbound => FetchedStep::Leave,
        Direction::Outbound => match &fetched.in_reply_to {
            Some(parent) => FetchedStep::Follow(parent.clone()),
            None => FetchedStep::Leave,
        },
    }
}

/// What to do with a fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchedStep {
    /// Ingest it: it is the customer's.
    Store,
    /// Fetch the message it answers instead (the brand's own post in the thread).
    Follow(String),
    /// Someone else's: not this ticket's.
    Leave,
}

/// How many messages up a thread one reply may lead socialcare to fetch.
pub const FETCH_MOST: usize = 3;

/// What fetching the messages a reply awaits came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovered {
    /// The customer's messages fetched and stored, oldest last.
    Stored(Vec<Ingested>),
    /// What it answers is not the customer's (an announcement, someone else's post).
    NotTheCustomers,
    /// It could not be fetched; a ticket the brand opened records that its opening is unknown.
    Unknown { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverError {
    /// The platform cannot be asked now (over its limit, unreachable): nothing was recorded.
    #[error("the platform could not be asked: {0}")]
    Platform(ListenError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl From<StoreError> for RecoverError {
    fn from(e: StoreError) -> Self {
        RecoverError::Ingest(e.into())
    }
}

/// Fetches the message `parent_id` that the stored `message` answers (no platform pushed it:
/// the brand answered a customer's tweet natively, or the customer followed up on one) and
/// stores it when it is the customer's, going on up the thread while the fetched message
/// answers another missing one, at most [`FETCH_MOST`] fetches. Fetched messages are stored
/// at their platform time, so the ticket's first response is measured from them. What cannot
/// be fetched (deleted, protected, no credentials) leaves a ticket the brand opened with an
/// `OpeningUnknown` event: it stays without a response time.
pub async fn fetch_awaited<S: IngestDeps, L: Listener>(
    store: &S,
    listener: &L,
    rules: &Rules,
    message: &NormalizedMessage,
    parent_id: &str,
    now: DateTime<Utc>,
) -> Result<Recovered, RecoverError> {
    let customer_id = match message.direction {
        Direction::Inbound => Some(message.author.id.clone()),
        Direction::Outbound => message.recipient_id.clone(),
    };
    // X says whose post a reply answers: a customer's reply to someone else's post (the
    // brand's announcement, another user's) has nothing of theirs to fetch, and each fetch is
    // billed.
    if message.direction == Direction::Inbound
        && message
            .recipient_id
            .as_ref()
            .is_some_and(|answered| *answered != message.author.id)
    {
        return Ok(Recovered::NotTheCustomers);
    }
    let mut wanted = parent_id.to_string();
    let mut stored = Vec::new();
    for _ in 0..FETCH_MOST {
        let fetched = match listener
            .fetch(message.source, &message.account, &wanted)
            .await
        {
            Ok(Fetched::Found(fetched)) => *fetched,
            Ok(Fetched::Gone(reason)) | Err(ListenError::Refused(reason)) => {
                if stored.is_empty() {
                    opening_unknown(store, message, &wanted, &reason).await?;
                }
                return Ok(match stored.is_empty() {
                    true => Recovered::Unknown { reason },
                    false => Recovered::Stored(stored),
                });
            }
            Err(error) => return Err(RecoverError::Platform(error)),
        };
        let customer = customer_id.as_deref().unwrap_or(&fetched.author.id);
        match keep_fetched(&fetched, customer) {
            FetchedStep::Store => {
                let event = InboundEvent {
                    message: NormalizedMessage {
                        found_by: Some(FoundBy::Lookup),
                        ..fetched
                    },
                    received_at: now,
                };
                let ingested = ingest_message(store, &event, rules).await?;
                let next = ingested.awaits.clone();
                stored.push(ingested);
                match next {
                    Some(next) => wanted = next,
                    None => break,
                }
            }
            FetchedStep::Follow(parent) => {
                let key = message.dedupe_key_of(&parent);
                if store.find_message(&key).await?.is_some() {
                    break;
                }
                wanted = parent;
            }
            FetchedStep::Leave => break,
        }
    }
    Ok(match stored.is_empty() {
        true => Recovered::NotTheCustomers,
        false => Recovered::Stored(stored),
    })
}

/// Records on the ticket of `message`, when the brand opened it, that the message it answers
/// could not be fetched; once (the event's id derives from the message it names).
async fn opening_unknown<S: IngestDeps>(
    store: &S,
    message: &NormalizedMessage,
    external_id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let Some(stored) = store.find_message(&message.dedupe_key()).await? else {
        return Ok(());
    };
    let Some(ticket) = store.get_ticket(&stored.ticket_id).await? else {
        return Ok(());
    };
    if !ticket.opened_by_brand {
        return Ok(());
    }
    let event = TicketEvent::new(
        ticket.id.clone(),
        message.created_at,
        Actor::System,
        EventKind::OpeningUnknown {
            external_id: external_id.to_string(),
            reason: reason.chars().take(300).collect(),
        },
        &format!("opening_unknown:{external_id}"),
    );
    match store.add_event(&event).await {
        Ok(()) | Err(CommitError::Duplicate) | Err(CommitError::Conflict) => Ok(()),
        Err(CommitError::Store(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Author, Channel};
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 9, minute, 0).unwrap()
    }

    /// A post as search gives it: not addressing the brand, so marked as found.
    fn tweet(id: &str, author: &str, text: &str) -> NormalizedMessage {
        NormalizedMessage {
            found_by: Some(FoundBy::Search {
                query: String::new(),
            }),
            ..post(id, author, text)
        }
    }

    fn post(id: &str, author: &str, text: &str) -> NormalizedMessage {
        NormalizedMessage {
            source: Source::X,
            account: "100".into(),
            channel: Channel::Public,
            direction: match author {
                "100" => Direction::Outbound,
                _ => Direction::Inbound,
            },
            external_id: id.into(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: author.into(),
                name: None,
                handle: Some(format!("user{author}")),
                email: None,
                followers: Some(10),
                verified_email: false,
            },
            text: text.into(),
            attachments: Vec::new(),
            created_at: at(1),
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        }
    }

    #[test]
    fn an_instagram_hashtag_tickets_nothing_and_keeps_each_posts_link() {
        let mut hashtags = searches(true);
        hashtags.source = Source::Instagram;
        hashtags.listening.queries = vec!["#acmefibre".into()];
        let state = SearchState::new(Source::Instagram, "100", "#acmefibre");
        let mut complaint = tweet("18", "", "#acmefibre down again. Useless.");
        complaint.source = Source::Instagram;
        complaint.found_by = Some(FoundBy::Search {
            query: "#acmefibre".into(),
        });
        let mut untagged = complaint.clone();
        untagged.external_id = "17".into();
        untagged.found_by = None;
        let page = SearchPage {
            messages: vec![complaint, untagged],
            newest_id: Some("2026-12-04T09:00:00Z".into()),
            links: [(
                "18".to_string(),
                "https://www.instagram.com/p/C2/".to_string(),
            )]
            .into(),
            ..SearchPage::default()
        };
        let read = read_page(&state, page, &hashtags, at(5));
        assert_eq!(read.ticket, vec![], "even asked to answer everything");
        assert_eq!(read.state.found, 2);
        assert_eq!(read.state.ticketed, 0);
        assert_eq!(read.state.heard.get("complaint"), Some(&2));
        let links: Vec<Option<&str>> = read
            .state
            .latest_heard
            .iter()
            .map(|h| h.link.as_deref())
            .collect();
        assert!(
            links.contains(&Some("https://www.instagram.com/p/C2/")),
            "{links:?}"
        );
        assert!(links.contains(&None));
        assert_eq!(read.state.since_id.as_deref(), Some("2026-12-04T09:00:00Z"));
        // The same post read again (a search started over) is kept once among the latest.
        let mut again = tweet("18", "", "#acmefibre down again. Useless.");
        again.source = Source::Instagram;
        again.found_by = Some(FoundBy::Search {
            query: "#acmefibre".into(),
        });
        let page = SearchPage {
            messages: vec![again],
            ..SearchPage::default()
        };
        let reread = read_page(&read.state, page, &hashtags, at(6));
        let ids: Vec<&str> = reread
            .state
            .latest_heard
            .iter()
            .map(|h| h.external_id.as_str())
            .collect();
        assert_eq!(ids.iter().filter(|id| **id == "18").count(), 1, "{ids:?}");
    }

    #[test]
    fn instagram_listens_for_hashtags_only() {
        let listening = |query: &str| Listening {
            queries: vec![query.into()],
            every_minutes: 5,
        };
        assert_eq!(listening("#AcmeFibre").check_hashtags(), Ok(()));
        assert_eq!(listening("acme_fibre2").check_hashtags(), Ok(()));
        for query in ["acme fibre", "#acme-fibre", "acme -from:acme", "#"] {
            assert_eq!(
                listening(query).check_hashtags(),
                Err(ListeningError::NotAHashtag(query.into())),
                "{query}"
            );
        }
        assert_eq!(
            crate::search::hashtag("#AcmeFibre").as_deref(),
            Some("acmefibre")
        );
    }

    fn searches(ticket_everything: bool) -> AccountSearches {
        AccountSearches {
            source: Source::X,
            account: "100".into(),
            listening: Listening {
                queries: vec!["acme -from:acme".into()],
                every_minutes: 5,
            },
            triage: TriageRules::default(),
            ticket_everything,
        }
    }

    #[test]
    fn complaints_are_ticketed_praise_is_heard_the_brand_is_neither() {
        let state = SearchState::new(Source::X, "100", "acme -from:acme");
        let page = SearchPage {
            messages: vec![
                tweet(
                    "9",
                    "7",
                    "Acme fibre is down again, third time this week. Useless.",
                ),
                tweet("8", "6", "Love the new Acme app, thank you!"),
                tweet("7", "100", "We're looking into the fibre outage."),
            ],
            newest_id: Some("9".into()),
            next_token: None,
            ..SearchPage::default()
        };
        let read = read_page(&state, page, &searches(false), at(10));
        assert_eq!(read.ticket.len(), 1);
        assert_eq!(read.ticket[0].external_id, "9");
        assert_eq!(
            read.ticket[0].found_by,
            Some(FoundBy::Search {
                query: "acme -from:acme".into()
            })
        );
        assert_eq!(read.state.found, 2);
        assert_eq!(read.state.ticketed, 1);
        assert_eq!(read.state.heard.get("praise"), Some(&1));
        assert_eq!(read.state.latest_heard.len(), 1);
        assert_eq!(read.state.latest_heard[0].external_id, "8");
        assert_eq!(read.state.since_id.as_deref(), Some("9"));
        assert_eq!(read.state.next_poll_at, Some(at(15)));
        assert_eq!(read.state.version, 1);
        let everything = read_page(
            &state,
            SearchPage {
                messages: vec![tweet("8", "6", "Love the new Acme app, thank you!")],
                newest_id: Some("8".into()),
                next_token: None,
                ..SearchPage::default()
            },
            &searches(true),
            at(10),
        );
        assert_eq!(everything.ticket.len(), 1);
        assert!(everything.state.heard.is_empty());
    }

    #[test]
    fn a_poll_of_several_pages_keeps_its_first_newest_id_until_the_last_page() {
        let state = SearchState::new(Source::X, "100", "acme");
        assert_eq!(
            state.request(at(10)).start_time,
            Some(at(10) - FIRST_LOOK_BACK)
        );
        let first = read_page(
            &state,
            SearchPage {
                messages: vec![tweet("30", "7", "acme is down?")],
                newest_id: Some("30".into()),
                next_token: Some("page2".into()),
                ..SearchPage::default()
            },
            &searches(false),
            at(10),
        )
        .state;
        assert_eq!(first.since_id, None);
        assert_eq!(
            first.resume,
            Some(Resume {
                next_token: "page2".into(),
                newest_id: "30".into(),
                start_time: Some(at(10) - FIRST_LOOK_BACK),
            })
        );
        assert!(first.due(at(10)), "a poll between pages goes on at once");
        let request = first.request(at(11));
        assert_eq!(request.next_token.as_deref(), Some("page2"));
        assert_eq!(
            request.start_time,
            Some(at(10) - FIRST_LOOK_BACK),
            "the first poll's bound, on each of its pages"
        );
        let last = read_page(
            &first,
            SearchPage {
                messages: vec![tweet("20", "8", "acme broke my router?")],
                newest_id: Some("20".into()),
                next_token: None,
                ..SearchPage::default()
            },
            &searches(false),
            at(11),
        )
        .state;
        assert_eq!(last.since_id.as_deref(), Some("30"));
        assert_eq!(last.resume, None);
        assert_eq!(last.found, 2);
        assert_eq!(last.version, 2);
        let empty = read_page(&last, SearchPage::default(), &searches(false), at(20)).state;
        assert_eq!(
            empty.since_id.as_deref(),
            Some("30"),
            "an empty page keeps it"
        );
        assert_eq!(empty.request(at(30)).start_time, None);
        // A mention search saw first is queued as the webhook's copy: not marked, not triaged.
        let mention = read_page(
            &empty,
            SearchPage {
                messages: vec![post("40", "9", "@acme thanks, love it")],
                newest_id: Some("40".into()),
                next_token: None,
                ..SearchPage::default()
            },
            &searches(false),
            at(30),
        );
        assert_eq!(mention.ticket.len(), 1);
        assert_eq!(mention.ticket[0].found_by, None);
        assert!(mention.state.heard.is_empty());
    }

    #[test]
    fn a_rate_limited_poll_waits_for_the_reset() {
        let state = SearchState::new(Source::X, "100", "acme");
        let paused = failed(
            &state,
            &ListenError::Paused {
                until: at(40),
                reason: "429".into(),
            },
            Duration::minutes(5),
            at(10),
        );
        assert_eq!(paused.next_poll_at, Some(at(40)));
        assert!(!paused.due(at(39)));
        assert!(paused.last_error.as_deref().unwrap().contains("429"));
        let refused = failed(
            &state,
            &ListenError::Refused("bad query".into()),
            Duration::minutes(5),
            at(10),
        );
        assert_eq!(refused.next_poll_at, Some(at(15)));
        let between_pages = SearchState {
            since_id: Some("10".into()),
            resume: Some(Resume {
                next_token: "stale".into(),
                newest_id: "30".into(),
                start_time: None,
            }),
            ..state.clone()
        };
        let gave_up = failed(
            &between_pages,
            &ListenError::Refused("invalid next_token".into()),
            Duration::minutes(5),
            at(10),
        );
        assert_eq!(
            gave_up.resume, None,
            "a refused page token is not asked again"
        );
        assert_eq!(
            gave_up.since_id, None,
            "nor a since_id X may refuse for its age"
        );
        assert_eq!(
            gave_up.request(at(15)).start_time,
            Some(at(15) - FIRST_LOOK_BACK)
        );
        let outage = failed(
            &between_pages,
            &ListenError::Unavailable("503".into()),
            Duration::minutes(5),
            at(10),
        );
        assert_eq!(
            outage.resume, between_pages.resume,
            "an outage goes on later"
        );
    }

    #[test]
    fn only_the_customers_own_fetched_message_is_stored() {
        let customer = tweet("1", "7", "my bill is wrong");
        assert_eq!(keep_fetched(&customer, "7"), FetchedStep::Store);
        assert_eq!(keep_fetched(&customer, "8"), FetchedStep::Leave);
        let announcement = tweet("2", "100", "New plans today!");
        assert_eq!(keep_fetched(&announcement, "7"), FetchedStep::Leave);
        let brand_reply = NormalizedMessage {
            in_reply_to: Some("1".into()),
            ..tweet("3", "100", "Sorry, DM us")
        };
        assert_eq!(
            keep_fetched(&brand_reply, "7"),
            FetchedStep::Follow("1".into())
        );
        let limits = Listening {
            queries: vec!["a".into(), " a ".into()],
            every_minutes: 5,
        };
        assert_eq!(
            limits.check(),
            Err(ListeningError::DuplicateQuery(" a ".into()))
        );
        let long = Listening {
            queries: vec!["x".repeat(513)],
            every_minutes: 5,
        };
        assert_eq!(long.check(), Err(ListeningError::LongQuery));
    }
}
