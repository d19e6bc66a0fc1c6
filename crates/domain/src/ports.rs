//! The ports: what the domain needs from the outside world, as small traits.
//!
//! Every adapter of a port passes the same contract suite (`tests/` at the top of the repo).
//! Methods return `impl Future + Send` so handlers stay `Send` when generic over an adapter.

use crate::access::ApiKey;
use crate::configuration::{ConfigurationChange, ConfigurationVersion};
use crate::customer::{
    Contact, ContactMark, ContactMarks, ContactNote, Customer, Erasure, Identity, Merge,
};
use crate::events::TicketEvent;
use crate::ids::{CustomerId, IncidentId, MessageId, TicketId, UpdateId};
use crate::incident::{ActiveIncident, Incident, TopicCounts};
use crate::integrations::Integration;
use crate::message::{Message, Source};
use crate::page::{Cursor, Page};
use crate::report::{Counters, GroupBy, Sample};
use crate::search::SearchState;
use crate::sla::Policies;
use crate::subscriptions::{EventDelivery, WebhookSubscription};
use crate::templates::Template;
use crate::ticket::{Ticket, TicketDetail, TicketQuery};
use crate::timers::Reminder;
use crate::tokens::{AccountHealth, Observation, PendingConnect, StoredToken};
use crate::update::IncidentUpdate;
use chrono::{DateTime, NaiveDate, Utc};
use std::future::Future;
use std::sync::Mutex;

mod queue;
pub use queue::{Delivery, Outgoing, Queue, QueueError};

/// What kind of failure a store or queue call had: whether trying again can help, and how soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Asked too fast: try again after a pause.
    Throttled,
    /// Could not be reached, or failed on its side: try again.
    Unavailable,
    /// Refused what was asked, or answered what cannot be read: trying again will not help
    /// (a bug, bad data or a missing resource).
    Invalid,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Throttled => "throttled",
            Failure::Unavailable => "unavailable",
            Failure::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store failed; [`Failure`] says how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ticket store failed ({failure}): {detail}")]
pub struct StoreError {
    pub failure: Failure,
    pub detail: String,
}

impl StoreError {
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            detail: detail.into(),
        }
    }

    pub fn throttled(detail: impl Into<String>) -> Self {
        Self::new(Failure::Throttled, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Failure::Unavailable, detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Failure::Invalid, detail)
    }
}

/// Where a message landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub message_id: MessageId,
    pub ticket_id: TicketId,
}

/// Everything one ingested message changes, written atomically or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestChange {
    pub message: Message,
    /// The ticket as it is after the message; created when `ticket_version_before` is `None`.
    pub ticket: Ticket,
    pub ticket_version_before: Option<u64>,
    /// The customer as they are after the message; created when `customer_version_before` is `None`.
    pub customer: Customer,
    pub customer_version_before: Option<u64>,
    /// Whether the customer is written: not when the message changes nothing of them but the
    /// time they last wrote (they are then as stored, `updated_at` included). A joined
    /// ticket's versioned write still catches whatever moved meanwhile.
    pub customer_written: bool,
    /// Identities seen for the first time; each must not be claimed by anyone yet.
    pub new_identities: Vec<Identity>,
    /// What the audit trail records of it.
    pub events: Vec<TicketEvent>,
    /// When the message answers one not stored yet: that message's dedupe key, so that it
    /// joins this ticket when it comes (replies may overtake what they answer).
    pub awaited_parent: Option<String>,
    /// Replies socialcare writes on its own (an acknowledgement), stored like the message.
    pub replies: Vec<Message>,
    /// What the change adds to the response-time report, in the same write.
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The message is already stored: this is a redelivery.
    #[error("message already stored")]
    Duplicate,
    /// The ticket, customer or an identity changed since it was read: read again and retry.
    #[error("concurrent change to the ticket or customer")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The keys of [`IngestStore::look_up`].
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The message's own dedupe key.
    pub dedupe_key: &'a str,
    /// The dedupe key of the message it answers, if it answers one.
    pub parent_key: Option<&'a str>,
    /// Its author's identity key.
    pub identity_key: &'a str,
}

/// What [`IngestStore::look_up`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookedUp {
    /// The message itself, stored already (a duplicate).
    pub stored: Option<MessageRef>,
    /// The message it answers.
    pub parent: Option<MessageRef>,
    /// The ticket of a stored answer to it (see [`IngestStore::find_awaiting`]).
    pub awaiting: Option<TicketId>,
    /// Its author's customer (a store may leave it out when the message is stored already).
    pub customer: Option<Customer>,
}

/// What ingest reads to place a message, and the one atomic write that places it.
pub trait IngestStore: Send + Sync {
    /// The message stored under this dedupe key ([`crate::NormalizedMessage::dedupe_key`]), if any.
    fn find_message(
        &self,
        dedupe_key: &str,
    ) -> impl Future<Output = Result<Option<MessageRef>, StoreError>> + Send;

    /// The ticket of a stored message that answers the message with this dedupe key (which
    /// had not come yet when the answer did), if any.
    fn find_awaiting(
        &self,
        dedupe_key: &str,
    ) -> impl Future<Output = Result<Option<TicketId>, StoreError>> + Send;

    /// The customer who owns this identity key ([`Identity::key`]), if any.
    fn find_customer(
        &self,
        identity_key: &str,
    ) -> impl Future<Output = Result<Option<Customer>, StoreError>> + Send;

    /// What placing a message reads first, together: whether it is stored already, its
    /// parent's record, the ticket awaiting it as a parent, and its author's customer. A store
    /// may read them in one request; by default, one after another.
    fn look_up(
        &self,
        keys: &Lookup<'_>,
    ) -> impl Future<Output = Result<LookedUp, StoreError>> + Send {
        async move {
            let parent = match keys.parent_key {
                Some(parent_key) => self.find_message(parent_key).await?,
                None => None,
            };
            Ok(LookedUp {
                stored: self.find_message(keys.dedupe_key).await?,
                parent,
                awaiting: self.find_awaiting(keys.dedupe_key).await?,
                customer: self.find_customer(keys.identity_key).await?,
            })
        }
    }

    fn get_ticket(
        &self,
        id: &TicketId,
    ) -> impl Future<Output = Result<Option<Ticket>, StoreError>> + Send;

    /// The whole message stored under this dedupe key, if any.
    fn get_message(
        &self,
        dedupe_key: &str,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;

    /// Replaces a stored message (same id, same ticket) unless its version moved from
    /// `version_before` (then `CommitError::Conflict`).
    fn replace_message(
        &self,
        message: &Message,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Replaces a stored reply as [`IngestStore::replace_message`] does and, given a
    /// `platform_key` (the dedupe key of the platform's id of the post), files the reply under
    /// it too, so that the platform's echo of the post finds it; atomically, and
    /// `CommitError::Conflict` when the version moved or the key is taken.
    fn record_delivery(
        &self,
        message: &Message,
        version_before: u64,
        platform_key: Option<&str>,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Writes the change atomically: the message (unless its dedupe key is taken), the ticket
    /// and the customer (unless their version moved), the new identities (unless taken).
    fn commit(&self, change: &IngestChange)
    -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// What the API changes on a ticket.
pub trait TicketCommands: Send + Sync {
    /// Replaces the ticket (unless its version moved from `version_before`: then
    /// `CommitError::Conflict`) and records `event`, atomically.
    fn change_ticket(
        &self,
        ticket: &Ticket,
        version_before: u64,
        event: &TicketEvent,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Writes a change to a ticket atomically: the ticket (unless its version moved:
    /// `Conflict`), the events (`Conflict` when one is recorded), the replies (`Duplicate` when
    /// one's dedupe key is taken) and the report's counters.
    fn update_ticket(
        &self,
        update: &TicketUpdate,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Records an event that changes nothing else (a note); a second write of the same event
    /// id is `CommitError::Duplicate`.
    fn add_event(
        &self,
        event: &TicketEvent,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// A ticket as socialcare changed it, with what that records and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketUpdate {
    pub ticket: Ticket,
    pub version_before: u64,
    pub events: Vec<TicketEvent>,
    pub replies: Vec<Message>,
    /// What the change adds to the response-time report, in the same write.
    pub samples: Vec<Sample>,
}

/// The due index: each ticket's next reminder ([`crate::timers::Timers::next`]), kept by every
/// write of the ticket, until the scheduler hands it to the reminders queue.
pub trait ReminderStore: Send + Sync {
    /// Reminders due at or before `until` that are not on the queue yet, earliest first, at
    /// most `limit`.
    fn due_reminders(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Reminder>, StoreError>> + Send;

    /// Takes `reminder` out of the due index, as it is on the queue now; nothing when the
    /// ticket's next reminder changed meanwhile (the new one stays due).
    fn mark_queued(
        &self,
        reminder: &Reminder,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The response-time report's counters.
pub trait MetricsStore: Send + Sync {
    /// The counters of `account` grouped by `group_by`, for the UTC days `from` to `to`
    /// included: one row per stored group and day (or shard), summed by the caller.
    fn metric_rows(
        &self,
        account: &str,
        group_by: GroupBy,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<(String, Counters)>, StoreError>> + Send;

    /// Every account the report has counters of (for the report over all accounts).
    fn report_accounts(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Adds the changes written so far to the counters, where a store adds them after the
    /// change (from a change log); returns how many changes it added. A store that counts in
    /// the change's own transaction has nothing to do.
    fn catch_up(&self) -> impl Future<Output = Result<usize, StoreError>> + Send {
        async { Ok(0) }
    }
}

/// Customers and the identities they are known by.
pub trait CustomerStore: Send + Sync {
    fn get_customer(
        &self,
        id: &CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>, StoreError>> + Send;

    /// Claims `identity` for the customer and stores the customer as given, atomically:
    /// `CommitError::Conflict` when the identity is claimed or the customer's version moved.
    fn link_identity(
        &self,
        customer: &Customer,
        version_before: u64,
        identity: &Identity,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The customer's tickets, newest first.
    fn customer_tickets(
        &self,
        id: &CustomerId,
        query: &TicketQuery,
    ) -> impl Future<Output = Result<Page<Ticket>, StoreError>> + Send;

    /// Merges `absorbed` into `into`: the records of the absorbed customer's identities name
    /// `into` from then on, `into` is stored as given and `absorbed` is deleted, atomically
    /// (a store may move identities ahead, in parts, when there are too many for one write);
    /// `CommitError::Conflict` when either customer's version moved or an identity changed
    /// hands.
    fn absorb_customer(
        &self,
        into: &Customer,
        into_version_before: u64,
        absorbed: &Customer,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Stores the record of a merge, replacing the one of the same merged-away customer only
    /// when that one merges into the same customer: `CommitError::Conflict` when the stored one
    /// names another (two merges of one customer at once: the first stored wins).
    fn put_merge(&self, merge: &Merge) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The record of the merge of `customer_id` into another, if they were merged.
    fn get_merge(
        &self,
        customer_id: &CustomerId,
    ) -> impl Future<Output = Result<Option<Merge>, StoreError>> + Send;
}

/// Whose turn it is in a team.
pub trait TeamTurns: Send + Sync {
    /// Atomically counts one more turn for the team and returns the count before it
    /// (0, 1, 2... across every process).
    fn next_turn(&self, team: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Reply templates.
pub trait TemplateStore: Send + Sync {
    /// Stores a new template; an id already taken is `CommitError::Duplicate`.
    fn create_template(
        &self,
        template: &Template,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_template(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Template>, StoreError>> + Send;

    /// Replaces a stored template.
    fn put_template(
        &self,
        template: &Template,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a template; `false` when there was none.
    fn delete_template(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every template, by id.
    fn list_templates(&self) -> impl Future<Output = Result<Vec<Template>, StoreError>> + Send;
}

/// Settings kept in the store: the service-level policies.
pub trait SettingsStore: Send + Sync {
    /// The policies; none stored is an empty document.
    fn sla_policies(&self) -> impl Future<Output = Result<Policies, StoreError>> + Send;

    /// Replaces the policies.
    fn put_sla_policies(
        &self,
        policies: &Policies,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The brand's configuration document, one version after another.
pub trait ConfigurationStore: Send + Sync {
    /// The newest version's number; `None` before the first. Cheap: read on every refresh.
    fn configuration_version(&self)
    -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// The newest version, document and all.
    fn configuration(
        &self,
    ) -> impl Future<Output = Result<Option<ConfigurationVersion>, StoreError>> + Send;

    /// Stores `next` as the newest version when it is the one after the newest stored (1 when
    /// none is); `CommitError::Conflict` when another change came first.
    fn put_configuration(
        &self,
        next: &ConfigurationVersion,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The changes, newest first, at most `limit`.
    fn configuration_changes(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ConfigurationChange>, StoreError>> + Send;
}

/// The brand accounts' sealed tokens and their health, by platform and account id.
pub trait AccountStore: Send + Sync {
    /// Stores the account's token, replacing the one before.
    fn put_token(&self, token: &StoredToken)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_token(
        &self,
        source: Source,
        account: &str,
    ) -> impl Future<Output = Result<Option<StoredToken>, StoreError>> + Send;

    /// Forgets the account's token; `false` when there was none.
    fn delete_token(
        &self,
        source: Source,
        account: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// What was seen of the account; the default when nothing was.
    fn account_health(
        &self,
        source: Source,
        account: &str,
    ) -> impl Future<Output = Result<AccountHealth, StoreError>> + Send;

    /// Keeps a connection under way.
    fn put_pending(
        &self,
        pending: &PendingConnect,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the connection under way with this state when it is bound to `binding`: removes
    /// and returns it, once (a second take finds nothing), expired or not (the caller checks).
    /// One bound to another binding is left as it is (and not returned).
    fn take_pending(
        &self,
        state: &str,
        binding: &str,
    ) -> impl Future<Output = Result<Option<PendingConnect>, StoreError>> + Send;

    /// Records what was seen, leaving the rest of the account's health as it is.
    fn observe(
        &self,
        source: Source,
        account: &str,
        observation: &Observation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why a token could not be sealed or opened (the key service is down, or the sealed token was
/// made for another account or altered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SealError(pub String);

/// Seals and opens secrets with a key the store never holds, each bound to its `context` (the
/// account): a sealed token copied to another account does not open.
pub trait Sealer: Send + Sync {
    fn seal(
        &self,
        context: &str,
        plaintext: &[u8],
    ) -> impl Future<Output = Result<String, SealError>> + Send;

    fn open(
        &self,
        context: &str,
        sealed: &str,
    ) -> impl Future<Output = Result<Vec<u8>, SealError>> + Send;
}

/// The API keys.
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; an id already taken is `CommitError::Duplicate`.
    fn create_key(&self, key: &ApiKey) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_key(&self, id: &str) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// Replaces a key's record (to revoke it).
    fn put_key(&self, key: &ApiKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every key, oldest first (a handful per deployment).
    fn list_keys(&self) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;
}

/// One ticket's detail, messages and trail.
pub trait TicketReads: Send + Sync {
    /// The ticket with its customer and messages (oldest first).
    fn ticket_detail(
        &self,
        id: &TicketId,
    ) -> impl Future<Output = Result<Option<TicketDetail>, StoreError>> + Send;

    /// At most `limit` of the ticket's messages, oldest first, after the one whose
    /// [`Message::sort_key`] is `after`: a page of a ticket that may hold thousands.
    fn ticket_messages(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Message>, StoreError>> + Send;

    /// At most `limit` of the ticket's events, oldest first, after the one whose
    /// [`TicketEvent::sort_key`] is `after`.
    fn ticket_events_page(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<TicketEvent>, StoreError>> + Send;

    /// The ticket's audit trail, oldest first.
    fn ticket_events(
        &self,
        id: &TicketId,
    ) -> impl Future<Output = Result<Vec<TicketEvent>, StoreError>> + Send;
}

/// Lists of tickets, read through the table's indexes (the API and the console).
pub trait TicketLists: Send + Sync {
    /// Tickets newest first (by platform time of their first message).
    fn list_tickets(
        &self,
        query: &TicketQuery,
    ) -> impl Future<Output = Result<Page<Ticket>, StoreError>> + Send;

    /// The first tickets of an inbox view, in its order (see [`crate::inbox`]).
    fn inbox(
        &self,
        query: &crate::inbox::InboxQuery,
    ) -> impl Future<Output = Result<Vec<Ticket>, StoreError>> + Send;
}

/// The topic counters that spikes are told from.
pub trait SpikeCounters: Send + Sync {
    /// Counts `messages` messages in the account's window starting at `window_start`: adds
    /// to each term the number of them that name it (`terms`: each term once), atomically
    /// (concurrent writers never lose a count); the counts after, in the order of `terms`.
    /// A batch's messages are counted in one call, so one write per window and batch.
    ///
    /// A window counts the terms of about `capacity` messages in full (a batch is counted in
    /// full while the window is under it), so that its record stays bounded (on DynamoDB,
    /// within the item size limit). Past that, only the terms the window already has are
    /// counted (a new term's count is 0) and the counts say `full`.
    fn count_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[(String, u64)],
        messages: u64,
        capacity: u32,
    ) -> impl Future<Output = Result<TopicCounts, StoreError>> + Send;

    /// The counts of `term` in the account's windows that start at `windows`; windows without
    /// a count are missing.
    fn topic_history(
        &self,
        account: &str,
        term: &str,
        windows: &[DateTime<Utc>],
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;
}

/// Incidents, with their active markers.
pub trait IncidentRecords: Send + Sync {
    /// Stores a new incident, active. `Duplicate` when the account already has an active
    /// incident on the topic (another worker opened it first, or this is a redelivery).
    fn open_incident(
        &self,
        incident: &Incident,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The active incidents of every account.
    fn active_incidents(
        &self,
    ) -> impl Future<Output = Result<Vec<ActiveIncident>, StoreError>> + Send;

    fn get_incident(
        &self,
        id: &IncidentId,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// The latest `limit` incidents, newest first.
    fn list_incidents(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;

    /// Replaces the incident unless its version moved from `version_before` (`Conflict`).
    fn put_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// The tickets attached to an incident (read through the incident index).
pub trait IncidentTickets: Send + Sync {
    /// The tickets attached to an incident, newest first (`query.status` and `query.owner`
    /// are not filters here).
    fn incident_tickets(
        &self,
        id: &IncidentId,
        query: &TicketQuery,
    ) -> impl Future<Output = Result<Page<Ticket>, StoreError>> + Send;
}

/// Ending an incident.
pub trait IncidentResolution: Send + Sync {
    /// Stores the incident as resolved (`Conflict` when its version moved from
    /// `version_before`) and ends its active marker, atomically: new complaints no longer
    /// join it.
    fn resolve_incident(
        &self,
        incident: &Incident,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// Status updates on incidents.
pub trait IncidentUpdateStore: Send + Sync {
    /// Stores a new status update; an id already stored is `Duplicate`.
    fn create_update(
        &self,
        update: &IncidentUpdate,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_update(
        &self,
        incident: &IncidentId,
        id: &UpdateId,
    ) -> impl Future<Output = Result<Option<IncidentUpdate>, StoreError>> + Send;

    /// Replaces an update unless its version moved from `version_before` (`Conflict`).
    fn put_update(
        &self,
        update: &IncidentUpdate,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The incident's updates, oldest first.
    fn incident_updates(
        &self,
        incident: &IncidentId,
    ) -> impl Future<Output = Result<Vec<IncidentUpdate>, StoreError>> + Send;
}

/// The posts each brand account may make per slice of time, shared by every worker.
pub trait PostAllowance: Send + Sync {
    /// Takes up to `wanted` of the `allowance` posts the account may make in the pacing slice
    /// that starts at `slice_start`, atomically across workers; how many it got (0: spent).
    fn reserve_posts(
        &self,
        account: &str,
        slice_start: DateTime<Utc>,
        wanted: u32,
        allowance: u32,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;
}

/// Spike counters, incidents, their updates and the post allowance together.
pub trait IncidentStore:
    SpikeCounters
    + IncidentRecords
    + IncidentTickets
    + IncidentResolution
    + IncidentUpdateStore
    + PostAllowance
{
}
impl<T> IncidentStore for T where
    T: SpikeCounters
        + IncidentRecords
        + IncidentTickets
        + IncidentResolution
        + IncidentUpdateStore
        + PostAllowance
{
}

/// Registered integrations and their signing secrets.
pub trait IntegrationStore: Send + Sync {
    /// Stores a new integration; `Duplicate` when its source is registered already.
    fn create_integration(
        &self,
        integration: &Integration,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_integration(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<Option<Integration>, StoreError>> + Send;

    /// Replaces it; `Conflict` when the stored one is no longer at `version_before`.
    fn replace_integration(
        &self,
        integration: &Integration,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// All of them, by source.
    fn list_integrations(
        &self,
    ) -> impl Future<Output = Result<Vec<Integration>, StoreError>> + Send;
}

/// Console sessions (see [`crate::sessions`]).
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    fn create_session(
        &self,
        session: &crate::sessions::Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session with this id, expired or not (the caller checks).
    fn get_session(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<crate::sessions::Session>, StoreError>> + Send;
    /// Ends a session; ending one that is gone is fine.
    fn delete_session(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What erasing a customer writes besides their tickets and messages (see [`crate::privacy`]).
pub trait PrivacyStore: Send + Sync {
    /// Replaces a recorded event (a note with its text erased) in its place in the trail.
    fn replace_event(
        &self,
        event: &TicketEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the customer and the records of their identities, atomically;
    /// `CommitError::Conflict` when the customer's version moved from `customer.version`.
    fn delete_customer(
        &self,
        customer: &Customer,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Stores the audit record of an erasure (replacing the one of the same customer).
    fn put_erasure(&self, erasure: &Erasure)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_erasure(
        &self,
        customer_id: &CustomerId,
    ) -> impl Future<Output = Result<Option<Erasure>, StoreError>> + Send;

    /// Every erasure's record, the latest asked first.
    fn list_erasures(&self) -> impl Future<Output = Result<Vec<Erasure>, StoreError>> + Send;
}

/// Webhook subscriptions and their deliveries.
pub trait WebhookStore: Send + Sync {
    /// `CommitError::Duplicate` when one has its id.
    fn create_subscription(
        &self,
        subscription: &WebhookSubscription,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_subscription(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<WebhookSubscription>, StoreError>> + Send;

    /// Every subscription, the oldest first.
    fn list_subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<WebhookSubscription>, StoreError>> + Send;

    /// Replaces it unless its version moved from `version_before` (`CommitError::Conflict`).
    fn put_subscription(
        &self,
        subscription: &WebhookSubscription,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// Deletes it (and not its deliveries' records); whether there was one.
    fn delete_subscription(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `CommitError::Duplicate` when the event's delivery to the subscription is recorded.
    fn create_delivery(
        &self,
        delivery: &EventDelivery,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    fn get_delivery(
        &self,
        subscription_id: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<EventDelivery>, StoreError>> + Send;

    /// Replaces it unless its version moved from `version_before` (`CommitError::Conflict`).
    fn put_delivery(
        &self,
        delivery: &EventDelivery,
        version_before: u64,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;

    /// The subscription's latest `limit` deliveries, the latest event first.
    fn list_deliveries(
        &self,
        subscription_id: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventDelivery>, StoreError>> + Send;
}

/// What retention deletes (see [`crate::retention`]).
pub trait RetentionStore: Send + Sync {
    /// Deletes the ticket with its messages and trail, unless it changed since `ticket` was
    /// read (a message reopened it): then `None`, and nothing is deleted. What files each
    /// message under its dedupe key stays, with nothing of the message but its ids (a store
    /// that keeps both in one row keeps the message erased as of `now`). Returns how many
    /// messages it deleted.
    fn purge_ticket(
        &self,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<usize>, StoreError>> + Send;

    /// Finishes the purges a crash cut short, where a store deletes a ticket before its
    /// messages; returns how many it finished.
    fn finish_purges(&self) -> impl Future<Output = Result<usize, StoreError>> + Send {
        async { Ok(0) }
    }

    /// Where the last purge stopped reading the closed tickets (`None`: at the newest).
    fn purge_cursor(&self) -> impl Future<Output = Result<Option<Cursor>, StoreError>> + Send;

    fn set_purge_cursor(
        &self,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The searches' states, by source, account and query.
pub trait ListeningStore: Send + Sync {
    fn search_state(
        &self,
        source: Source,
        account: &str,
        query: &str,
    ) -> impl Future<Output = Result<Option<SearchState>, StoreError>> + Send;

    /// Stores `state` when the stored one is at `state.version - 1` (none stored, for version
    /// 1); `CommitError::Conflict` when another poll wrote first.
    fn put_search_state(
        &self,
        state: &SearchState,
    ) -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// The contacts customers gave, looked up by contact and by customer ([`crate::contacts`]).
pub trait ContactStore: Send + Sync {
    /// Stores each note, replacing the one of the same contact and customer.
    fn note_contacts(
        &self,
        notes: &[ContactNote],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Who gave `contact`: the notes of at most [`MOST_NOTES_OF_A_CONTACT`] customers.
    fn contact_notes(
        &self,
        contact: &Contact,
    ) -> impl Future<Output = Result<Vec<ContactNote>, StoreError>> + Send;

    /// Every note of one customer.
    fn customer_contacts(
        &self,
        customer_id: &CustomerId,
    ) -> impl Future<Output = Result<Vec<ContactNote>, StoreError>> + Send;

    /// Deletes every note of the customer (erased, or merged into another who has them now).
    fn forget_contacts(
        &self,
        customer_id: &CustomerId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks an address mail is not sent to, replacing its mark (not when its owner wrote).
    fn mark_contact(
        &self,
        mark: &ContactMark,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The mark of `contact` and when its owner last wrote from it (all empty when nothing is
    /// known); [`ContactMarks::in_force`] says whether it holds.
    fn contact_marks(
        &self,
        contact: &Contact,
    ) -> impl Future<Output = Result<ContactMarks, StoreError>> + Send;

    /// Notes that the owner of `contact` wrote from it at `at` (`verified`: the mail service
    /// authenticated the sender); an earlier time than the one noted changes nothing.
    fn note_written(
        &self,
        contact: &Contact,
        at: DateTime<Utc>,
        verified: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets all that is known of the address's mail (its owner is erased).
    fn forget_marks(
        &self,
        contact: &Contact,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How many customers [`ContactStore::contact_notes`] names at most: a contact more people
/// gave than this suggests nobody in particular.
pub const MOST_NOTES_OF_A_CONTACT: usize = 20;

/// Every store port together: what a complete store adapter (SQLite, DynamoDB) implements.
pub trait TicketStore:
    IngestStore
    + TicketReads
    + TicketLists
    + TicketCommands
    + ApiKeyStore
    + CustomerStore
    + TeamTurns
    + TemplateStore
    + SettingsStore
    + ConfigurationStore
    + AccountStore
    + ReminderStore
    + MetricsStore
    + IncidentStore
    + IntegrationStore
    + SessionStore
    + PrivacyStore
    + RetentionStore
    + WebhookStore
    + ListeningStore
    + ContactStore
{
}
impl<T> TicketStore for T where
    T: IngestStore
        + TicketReads
        + TicketLists
        + TicketCommands
        + ApiKeyStore
        + CustomerStore
        + TeamTurns
        + TemplateStore
        + SettingsStore
        + ConfigurationStore
        + AccountStore
        + ReminderStore
        + MetricsStore
        + IncidentStore
        + IntegrationStore
        + SessionStore
        + PrivacyStore
        + RetentionStore
        + WebhookStore
        + ListeningStore
        + ContactStore
{
}

/// The time, from the system in production and fixed in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows what it is set to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}
