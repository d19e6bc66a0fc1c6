//! The listening contract (SQLite and DynamoDB), against the fake X: a search's state is
//! written once per version; the scheduler's searches queue the complaints they find (the
//! webhook's copy of one is the same message), count the rest and go on from the newest; a
//! brand reply to a tweet socialcare never saw fetches it, and one that cannot be fetched is a
//! ticket the brand opened, with no response time.

use crate::fake_x::FakeX;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_app::ingest::{QueueRecord, ingest_batch};
use socialcare_app::listening::{
    HashtagPoll, ListenJob, Lookup, listen, poll_hashtag, queue_hashtag_polls,
};
use socialcare_domain::ingest::{IngestOutcome, ingest};
use socialcare_domain::listening::{
    AccountSearches, ListenError, Listener, Listening, Recovered, SearchPage, fetch_awaited,
};
use socialcare_domain::message::FoundBy;
use socialcare_domain::ports::{CommitError, Queue};
use socialcare_domain::report::{GroupBy, totals};
use socialcare_domain::search::SearchState;
use socialcare_domain::threading::Rules;
use socialcare_domain::triage::TriageRules;
use socialcare_domain::{
    Author, Channel, Direction, EventKind, InboundEvent, NormalizedMessage, Source, TicketId,
};
use socialcare_platforms::{Credentials, Endpoints, XCredentials, XListener};
use socialcare_sqlite::{Database, SqliteQueue};
use std::time::Duration;

pub use socialcare_domain::ports::TicketStore as Store;

/// The fixtures' brand account.
const BRAND: &str = "1100000000000000001";
/// What a run of the searches may take.
const BUDGET: Duration = Duration::from_secs(30);

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, minute, 0).unwrap()
}

fn listener(x: &FakeX) -> XListener {
    let credentials = Credentials {
        x: Some(XCredentials {
            consumer_key: x.consumer_key().into(),
            consumer_secret: x.consumer_secret().into(),
            accounts: Vec::new(),
        }),
        meta: None,
    };
    let endpoints = Endpoints {
        x_api: x.url(),
        ..Endpoints::default()
    };
    XListener::new(&credentials, &endpoints, Duration::from_secs(5)).unwrap()
}

fn post(id: &str, author: &str, text: &str, minute: u32) -> Value {
    json!({ "id": id, "text": text, "author_id": author,
            "created_at": at(minute).to_rfc3339(), "edit_history_tweet_ids": [id] })
}

fn user(id: &str, handle: &str) -> Value {
    json!({ "id": id, "name": format!("Customer {handle}"), "username": handle,
            "public_metrics": { "followers_count": 40 } })
}

fn searches(queries: &[&str]) -> Vec<AccountSearches> {
    searches_of(queries)
}

fn searches_of(queries: &[&str]) -> Vec<AccountSearches> {
    vec![AccountSearches {
        source: Source::X,
        account: BRAND.into(),
        listening: Listening {
            queries: queries.iter().map(|q| q.to_string()).collect(),
            every_minutes: 5,
        },
        triage: TriageRules::default(),
        ticket_everything: false,
    }]
}

/// The brand acknowledges new public complaints.
fn acknowledging() -> Rules {
    let mut rules = Rules::default();
    rules.acknowledgements.insert(
        Source::X,
        BRAND,
        socialcare_domain::acknowledgement::Acknowledgement::default(),
    );
    rules
}

/// Ingests whatever the queue holds, as the ingest consumer does (acknowledging).
async fn drain<S: Store>(store: &S, queue: &SqliteQueue, lookup: Option<&Lookup>) -> usize {
    let mut ingested = 0;
    loop {
        let deliveries = queue.receive(10, Duration::ZERO).await.unwrap();
        if deliveries.is_empty() {
            return ingested;
        }
        let records = deliveries
            .iter()
            .map(|d| QueueRecord {
                message_id: d.message_id.clone(),
                group_id: d.group_id.clone(),
                body: d.body.clone(),
            })
            .collect();
        let failed = ingest_batch(store, &acknowledging(), None, lookup, records).await;
        assert!(failed.is_empty(), "{failed:?}");
        ingested += deliveries.len();
        queue
            .delete_all(deliveries.into_iter().map(|d| d.receipt).collect())
            .await
            .unwrap();
    }
}

fn inbound_queue() -> SqliteQueue {
    SqliteQueue::inbound(Database::in_memory().unwrap())
}

/// A public X post as the Account Activity webhook queues it.
fn webhook_copy(id: &str, author: &str, handle: &str, text: &str, minute: u32) -> InboundEvent {
    InboundEvent {
        message: NormalizedMessage {
            source: Source::X,
            account: BRAND.into(),
            channel: Channel::Public,
            direction: match author == BRAND {
                true => Direction::Outbound,
                false => Direction::Inbound,
            },
            external_id: id.into(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: author.into(),
                name: Some(format!("Customer {handle}")),
                handle: Some(handle.into()),
                email: None,
                followers: Some(40),
                verified_email: false,
            },
            text: text.into(),
            attachments: vec![],
            created_at: at(minute),
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        },
        received_at: at(minute) + chrono::Duration::seconds(2),
    }
}

pub async fn a_search_state_is_written_once_per_version<S: Store>(store: &S) {
    let query = "acme fibre -from:acme_care -is:retweet ñandú ".repeat(10);
    assert_eq!(
        store.search_state(Source::X, BRAND, &query).await.unwrap(),
        None
    );
    let mut state = SearchState::new(Source::X, BRAND, &query);
    state.version = 1;
    state.since_id = Some("100".into());
    store.put_search_state(&state).await.unwrap();
    assert_eq!(
        store.put_search_state(&state).await,
        Err(CommitError::Conflict),
        "a second first write"
    );
    let stored = store
        .search_state(Source::X, BRAND, &query)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, state);
    let next = SearchState {
        version: 2,
        since_id: Some("200".into()),
        found: 3,
        ..stored.clone()
    };
    store.put_search_state(&next).await.unwrap();
    let stale = SearchState {
        version: 2,
        since_id: Some("150".into()),
        ..stored
    };
    assert_eq!(
        store.put_search_state(&stale).await,
        Err(CommitError::Conflict)
    );
    let read = store
        .search_state(Source::X, BRAND, &query)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.since_id.as_deref(), Some("200"));
    assert_eq!(read.found, 3);
    // A later version is never the first one written.
    let skipped = SearchState {
        version: 2,
        ..SearchState::new(Source::X, BRAND, "acme outage")
    };
    assert_eq!(
        store.put_search_state(&skipped).await,
        Err(CommitError::Conflict)
    );
    assert_eq!(
        store
            .search_state(Source::X, BRAND, "acme outage")
            .await
            .unwrap(),
        None
    );
    // Another query of the account, and the same query of another account, are their own.
    assert_eq!(
        store.search_state(Source::X, BRAND, "acme").await.unwrap(),
        None
    );
    assert_eq!(
        store.search_state(Source::X, "42", &query).await.unwrap(),
        None
    );
}

pub async fn searches_queue_complaints_count_the_rest_and_go_on_from_the_newest<S: Store>(
    store: &S,
) {
    let x = FakeX::start().await;
    x.add_post(
        post(
            "1860000000000000001",
            "77",
            "acme fibre is down again, nothing works",
            1,
        ),
        user("77", "ann"),
    );
    x.add_post(
        post(
            "1860000000000000002",
            "78",
            "Love the acme fibre, thank you team!",
            2,
        ),
        user("78", "bob"),
    );
    x.add_post(
        post(
            "1860000000000000003",
            BRAND,
            "acme fibre: we're looking into it",
            3,
        ),
        user(BRAND, "acme_care"),
    );
    let (listener, queue) = (listener(&x), inbound_queue());
    let searches = searches(&["acme fibre -from:acme_care"]);
    let listened = listen(store, &listener, &queue, &searches, at(10), BUDGET)
        .await
        .unwrap();
    assert_eq!(listened.requests, 1);
    assert_eq!(listened.queued, 1);
    assert_eq!(listened.heard, 1);
    assert_eq!(drain(store, &queue, None).await, 1);

    let state = store
        .search_state(Source::X, BRAND, "acme fibre -from:acme_care")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.since_id.as_deref(), Some("1860000000000000003"));
    assert_eq!(state.found, 2, "the brand's own post is not counted");
    assert_eq!(state.ticketed, 1);
    assert_eq!(state.heard.get("praise"), Some(&1));
    assert_eq!(state.latest_heard.len(), 1);
    assert_eq!(state.latest_heard[0].external_id, "1860000000000000002");
    assert_eq!(state.latest_heard[0].author_handle.as_deref(), Some("bob"));
    assert_eq!(state.next_poll_at, Some(at(15)));

    // The complaint is a ticket, its message marked as found by the search, not answered by
    // a machine (X forbids automated replies to posts found by keyword); its webhook copy (the
    // post also mentioned the brand) is the same message.
    let found = store
        .find_message(&format!("x:{BRAND}:1860000000000000001"))
        .await
        .unwrap();
    let found = match found {
        Some(found) => found,
        None => panic!("the complaint is stored under the mention's dedupe key"),
    };
    let detail = store
        .ticket_detail(&found.ticket_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(
        detail.messages[0].body.found_by,
        Some(FoundBy::Search {
            query: "acme fibre -from:acme_care".into()
        })
    );
    assert_eq!(
        detail.ticket.subject,
        "acme fibre is down again, nothing works"
    );
    let copy = webhook_copy(
        "1860000000000000001",
        "77",
        "ann",
        "acme fibre is down again, nothing works",
        1,
    );
    assert!(matches!(
        ingest(store, &copy).await.unwrap(),
        IngestOutcome::Duplicate { ticket_id, .. } if ticket_id == found.ticket_id
    ));

    // Not due before its interval; then it asks only for newer posts.
    let early = listen(store, &listener, &queue, &searches, at(12), BUDGET)
        .await
        .unwrap();
    assert_eq!(early.requests, 0);
    x.add_post(
        post(
            "1860000000000000004",
            "79",
            "is acme fibre broken for anyone else?",
            14,
        ),
        user("79", "cat"),
    );
    let later = listen(store, &listener, &queue, &searches, at(16), BUDGET)
        .await
        .unwrap();
    assert_eq!((later.requests, later.queued), (1, 1));
    let asked = x.searches();
    let since = asked[1]
        .iter()
        .find(|(name, _)| name == "since_id")
        .map(|(_, value)| value.as_str());
    assert_eq!(since, Some("1860000000000000003"));
    assert!(
        !asked[1].iter().any(|(name, _)| name == "start_time"),
        "a later poll goes on from the newest, not from a time"
    );
    assert_eq!(drain(store, &queue, None).await, 1);

    // Over the rate limit: the search waits for the reset and says why.
    // X's reset is read against the clock (a wait beyond a day is not believed): ten minutes
    // from now, whenever the test runs.
    let reset = Utc::now().timestamp() + 600;
    let reset_at = DateTime::from_timestamp(reset, 0).unwrap();
    x.limit_searches_until(Some(reset));
    let limited = listen(store, &listener, &queue, &searches, at(22), BUDGET)
        .await
        .unwrap();
    assert_eq!((limited.requests, limited.failed), (1, 1));
    let paused = store
        .search_state(Source::X, BRAND, "acme fibre -from:acme_care")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.next_poll_at, Some(reset_at));
    assert!(paused.last_error.as_deref().unwrap().contains("429"));
    assert_eq!(paused.since_id.as_deref(), Some("1860000000000000004"));
    let waiting = listen(
        store,
        &listener,
        &queue,
        &searches,
        reset_at - chrono::Duration::seconds(1),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!(waiting.requests, 0);
    // The limit is the app's: the first query over it stops the run, the next is not asked.
    let two = searches_of(&["acme fibre -from:acme_care", "acme router"]);
    let after_reset = reset_at + chrono::Duration::minutes(1);
    let stopped = listen(store, &listener, &queue, &two, after_reset, BUDGET)
        .await
        .unwrap();
    assert_eq!((stopped.requests, stopped.failed), (1, 1));
    assert!(stopped.paused);
    assert_eq!(
        store
            .search_state(Source::X, BRAND, "acme router")
            .await
            .unwrap(),
        None,
        "not asked"
    );
    // Nor is anything polled once the run's time is spent.
    x.limit_searches_until(None);
    let spent = listen(store, &listener, &queue, &two, after_reset, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(spent.requests, 0);
}

pub async fn a_search_of_many_pages_is_read_over_several_runs<S: Store>(store: &S) {
    let x = FakeX::start().await;
    // 320 complaints: three pages of 100 in the first run, the last 20 in the next.
    for n in 0..320u32 {
        x.add_post(
            post(
                &format!("18600000000000{:05}", n),
                &format!("{}", 5000 + n),
                "acme router broken again, no internet",
                1,
            ),
            user(&format!("{}", 5000 + n), &format!("user{n}")),
        );
    }
    let (listener, queue) = (listener(&x), inbound_queue());
    let searches = searches(&["acme router"]);
    let first = listen(store, &listener, &queue, &searches, at(10), BUDGET)
        .await
        .unwrap();
    assert_eq!((first.requests, first.queued), (3, 300));
    let between = store
        .search_state(Source::X, BRAND, "acme router")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(between.since_id, None, "not before the last page is read");
    let resume = between.resume.clone().expect("it says where to go on");
    assert_eq!(resume.newest_id, "1860000000000000319");
    let second = listen(store, &listener, &queue, &searches, at(11), BUDGET)
        .await
        .unwrap();
    assert_eq!((second.requests, second.queued), (1, 20));
    let done = store
        .search_state(Source::X, BRAND, "acme router")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.since_id.as_deref(), Some("1860000000000000319"));
    assert_eq!(done.resume, None);
    assert_eq!(done.found, 320);
    // Queued, each once (ingesting them is the other cases').
    let mut queued = std::collections::BTreeSet::new();
    loop {
        let deliveries = queue.receive(10, Duration::ZERO).await.unwrap();
        if deliveries.is_empty() {
            break;
        }
        for delivery in &deliveries {
            assert!(queued.insert(delivery.body.clone()), "queued twice");
        }
        queue
            .delete_all(deliveries.into_iter().map(|d| d.receipt).collect())
            .await
            .unwrap();
    }
    assert_eq!(queued.len(), 320);
}

async fn ticket_of<S: Store>(store: &S, external_id: &str) -> TicketId {
    store
        .find_message(&format!("x:{BRAND}:{external_id}"))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{external_id} is stored"))
        .ticket_id
}

/// The brand's native reply on X to `parent`, addressed to `customer`, as the webhook queues
/// it.
fn brand_answer(id: &str, customer: &str, parent: &str, minute: u32) -> InboundEvent {
    let mut event = webhook_copy(
        id,
        BRAND,
        "acme_care",
        "Sorry about that! Please DM us your account number.",
        minute,
    );
    event.message.in_reply_to = Some(parent.into());
    event.message.recipient_id = Some(customer.into());
    event.message.author.name = Some("Acme Care".into());
    event
}

pub async fn a_brand_reply_fetches_the_tweet_it_answers<S: Store>(store: &S) {
    let x = FakeX::start().await;
    x.add_post(
        post(
            "1860000000000000100",
            "77",
            "my acme bill doubled this month??",
            0,
        ),
        user("77", "ann"),
    );
    let lookup = Lookup::ready(listener(&x));
    let queue = inbound_queue();
    let answer = brand_answer("1860000000000000101", "77", "1860000000000000100", 14);
    queue
        .send(
            socialcare_app::queues::inbound_message(answer.message.clone(), answer.received_at)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(drain(store, &queue, Some(&lookup)).await, 1);
    assert_eq!(x.lookups(), ["1860000000000000100"]);

    let ticket = ticket_of(store, "1860000000000000101").await;
    assert_eq!(ticket_of(store, "1860000000000000100").await, ticket);
    let detail = store.ticket_detail(&ticket).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.ticket.created_at, at(0), "from the customer's tweet");
    assert!(!detail.ticket.opened_by_brand);
    assert_eq!(detail.ticket.first_response_at, Some(at(14)));
    assert_eq!(detail.ticket.subject, "my acme bill doubled this month??");
    let fetched = detail
        .messages
        .iter()
        .find(|m| m.body.external_id == "1860000000000000100")
        .unwrap();
    assert_eq!(fetched.body.found_by, Some(FoundBy::Lookup));
    assert_eq!(fetched.body.direction, Direction::Inbound);
    assert_eq!(fetched.body.author.handle.as_deref(), Some("ann"));
    let customer = detail.customer.expect("the ticket has its customer");
    assert_eq!(customer.name.as_deref(), Some("Customer ann"));

    // The report measures the first response from the customer's tweet: 14 minutes.
    store.catch_up().await.unwrap();
    let day = at(0).date_naive();
    let rows = store
        .metric_rows(BRAND, GroupBy::Day, day, day)
        .await
        .unwrap();
    let figures = totals(&rows);
    assert_eq!(figures.tickets, 1);
    assert_eq!(figures.opened_by_brand, 0);
    assert_eq!(figures.first_response.count, 1);
    assert_eq!(figures.first_response.mean_seconds, Some(14.0 * 60.0));

    // Delivered again (fetched again: its parent is asked for before the store), stored once.
    let again = fetch_awaited(
        store,
        &listener(&x),
        &Rules::default(),
        &answer.message,
        "1860000000000000100",
        at(20),
    )
    .await
    .unwrap();
    match again {
        Recovered::Stored(stored) => {
            assert!(matches!(stored[0].outcome, IngestOutcome::Duplicate { .. }))
        }
        other => panic!("{other:?}"),
    }
    let detail = store.ticket_detail(&ticket).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 2);

    // A customer's reply to the brand's announcement fetches nothing: it is not theirs.
    let mut reply = webhook_copy(
        "1860000000000000501",
        "91",
        "eve",
        "@acme_care is it fixed?",
        16,
    );
    reply.message.in_reply_to = Some("1860000000000000500".into());
    reply.message.recipient_id = Some(BRAND.into());
    let recovered = fetch_awaited(
        store,
        &listener(&x),
        &Rules::default(),
        &reply.message,
        "1860000000000000500",
        at(20),
    )
    .await
    .unwrap();
    assert_eq!(recovered, Recovered::NotTheCustomers);
    assert_eq!(x.lookups(), ["1860000000000000100", "1860000000000000100"]);
}

pub async fn a_brand_reply_to_an_unfetchable_tweet_has_no_response_time<S: Store>(store: &S) {
    let x = FakeX::start().await;
    let lookup = Lookup::ready(listener(&x));
    let queue = inbound_queue();
    let answer = brand_answer("1860000000000000201", "88", "1860000000000000200", 30);
    queue
        .send(
            socialcare_app::queues::inbound_message(answer.message.clone(), answer.received_at)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(drain(store, &queue, Some(&lookup)).await, 1);
    assert_eq!(x.lookups(), ["1860000000000000200"]);
    let ticket = ticket_of(store, "1860000000000000201").await;
    let detail = store.ticket_detail(&ticket).await.unwrap().unwrap();
    assert!(detail.ticket.opened_by_brand);
    assert_eq!(detail.messages.len(), 1);
    let events = store.ticket_events(&ticket).await.unwrap();
    let unknown: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OpeningUnknown {
                external_id,
                reason,
            } => Some((external_id.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        unknown,
        [(
            "1860000000000000200".to_string(),
            "Could not find tweet with id: [1860000000000000200].".to_string()
        )]
    );
    store.catch_up().await.unwrap();
    let day = at(30).date_naive();
    let figures = totals(
        &store
            .metric_rows(BRAND, GroupBy::Day, day, day)
            .await
            .unwrap(),
    );
    assert_eq!(figures.tickets, 1);
    assert_eq!(figures.opened_by_brand, 1);
    assert_eq!(
        figures.first_response.count, 0,
        "never a 0 s first response"
    );

    // Without the app's credentials the tweet cannot be read either: recorded the same way,
    // once however often it is tried.
    let none = XListener::new(
        &Credentials::default(),
        &Endpoints {
            x_api: x.url(),
            ..Endpoints::default()
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let other = brand_answer("1860000000000000301", "89", "1860000000000000300", 40);
    ingest(store, &other).await.unwrap();
    for _ in 0..2 {
        let recovered = fetch_awaited(
            store,
            &none,
            &Rules::default(),
            &other.message,
            "1860000000000000300",
            at(41),
        )
        .await
        .unwrap();
        assert!(
            matches!(&recovered, Recovered::Unknown { reason } if reason.contains("no X app credentials")),
            "{recovered:?}"
        );
    }
    let ticket = ticket_of(store, "1860000000000000301").await;
    let events = store.ticket_events(&ticket).await.unwrap();
    let unknown = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::OpeningUnknown { .. }))
        .count();
    assert_eq!(unknown, 1);
}

/// A platform read that answers from a script, and counts what it was asked.
struct Scripted {
    answers: std::sync::Mutex<std::collections::VecDeque<Result<SearchPage, ListenError>>>,
    asked: std::sync::atomic::AtomicUsize,
}

impl Listener for Scripted {
    async fn search(
        &self,
        _: Source,
        _: &str,
        _: &socialcare_domain::listening::SearchRequest,
    ) -> Result<SearchPage, ListenError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let answer = self.answers.lock().unwrap().pop_front();
        answer.unwrap_or_else(|| Err(ListenError::Unavailable("nothing scripted".into())))
    }
    async fn fetch(
        &self,
        _: Source,
        _: &str,
        _: &str,
    ) -> Result<socialcare_domain::listening::Fetched, ListenError> {
        Err(ListenError::Refused("not asked here".into()))
    }
}

/// Instagram's hashtags: the scheduler claims a due one on its state and queues its poll; the
/// sender polls from that claim only, once; a refused poll keeps where it was, so nothing is
/// counted twice.
pub async fn a_hashtag_poll_goes_on_from_its_claim_once<S: Store>(store: &S) {
    const IG: &str = "17841400000000001";
    let outbox = SqliteQueue::outbox(Database::in_memory().unwrap());
    let searches = vec![AccountSearches {
        source: Source::Instagram,
        account: IG.into(),
        listening: Listening {
            queries: vec!["#acmefibre".into()],
            every_minutes: 5,
        },
        triage: TriageRules::default(),
        ticket_everything: false,
    }];
    assert_eq!(
        queue_hashtag_polls(store, &outbox, &searches, at(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        queue_hashtag_polls(store, &outbox, &searches, at(1))
            .await
            .unwrap(),
        0,
        "claimed: not due again before its interval"
    );
    let queued = outbox.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(queued.len(), 1);
    let job: ListenJob = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!((job.query.as_str(), job.claimed), ("#acmefibre", 1));

    let post = |id: &str, text: &str| {
        let mut message = crate::events::inbound(id, "", text, at(0)).message;
        message.source = Source::Instagram;
        message.account = IG.into();
        message.channel = Channel::Public;
        message.found_by = Some(FoundBy::Search {
            query: "#acmefibre".into(),
        });
        message
    };
    let page = SearchPage {
        messages: vec![
            post("18000000000000002", "#acmefibre down again, useless"),
            post("18000000000000001", "Loving my #acmefibre, thank you!"),
        ],
        newest_id: Some("2026-12-03T09:00:30Z".into()),
        ..SearchPage::default()
    };
    let listener = Scripted {
        answers: std::sync::Mutex::new(
            [
                Ok(page),
                Err(ListenError::Refused("the token was revoked".into())),
            ]
            .into(),
        ),
        asked: Default::default(),
    };
    let asked = || listener.asked.load(std::sync::atomic::Ordering::SeqCst);
    // A read of the state behind the claim polls nothing yet.
    let ahead = ListenJob {
        claimed: 2,
        ..job.clone()
    };
    assert_eq!(
        poll_hashtag(store, &listener, &ahead, at(1)).await.unwrap(),
        HashtagPoll::NotYet
    );
    assert_eq!(asked(), 0);
    let HashtagPoll::Polled(polled) = poll_hashtag(store, &listener, &job, at(1)).await.unwrap()
    else {
        panic!("polled");
    };
    assert_eq!((polled.requests, polled.heard, polled.queued), (1, 2, 0));
    // The job delivered again: done already, the platform not asked.
    assert_eq!(
        poll_hashtag(store, &listener, &job, at(1)).await.unwrap(),
        HashtagPoll::Done
    );
    assert_eq!(asked(), 1);
    let state = || async {
        store
            .search_state(Source::Instagram, IG, "#acmefibre")
            .await
            .unwrap()
            .unwrap()
    };
    let read = state().await;
    assert_eq!((read.found, read.ticketed), (2, 0));
    assert_eq!(read.since_id.as_deref(), Some("2026-12-03T09:00:30Z"));

    // Due again; the platform refuses: it waits, and goes on after what it counted.
    assert_eq!(
        queue_hashtag_polls(store, &outbox, &searches, at(6))
            .await
            .unwrap(),
        1
    );
    let queued = outbox.receive(10, Duration::from_secs(1)).await.unwrap();
    let next: ListenJob = serde_json::from_str(&queued[queued.len() - 1].body).unwrap();
    let HashtagPoll::Polled(refused) = poll_hashtag(store, &listener, &next, at(6)).await.unwrap()
    else {
        panic!("polled");
    };
    assert_eq!(refused.failed, 1);
    let after = state().await;
    assert_eq!(after.found, 2);
    assert_eq!(after.since_id.as_deref(), Some("2026-12-03T09:00:30Z"));
    assert!(after.last_error.unwrap().contains("the token was revoked"));
}

#[macro_export]
macro_rules! listening_contract {
    ($make:expr) => {
        $crate::listening_contract!(@cases $make;
            a_search_state_is_written_once_per_version,
            searches_queue_complaints_count_the_rest_and_go_on_from_the_newest,
            a_search_of_many_pages_is_read_over_several_runs,
            a_brand_reply_fetches_the_tweet_it_answers,
            a_brand_reply_to_an_unfetchable_tweet_has_no_response_time,
            a_hashtag_poll_goes_on_from_its_claim_once
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::listening::$case(&store).await;
            }
        )+
    };
}
