//! The key formats of the table (the table in `mod.rs` shows them all), and the sharding of
//! the ticket lists.

use chrono::{DateTime, Utc};
use socialcare_domain::page::sortable_time;
use socialcare_domain::report::GroupBy;
use socialcare_domain::timers::Reminder;
use socialcare_domain::{IncidentId, Message, TicketId};

pub(super) const TICKET_SK: &str = "#TICKET";
pub(super) const MSGKEY_SK: &str = "#MSGKEY";
pub(super) const CUSTOMER_SK: &str = "#CUSTOMER";
pub(super) const IDENTITY_SK: &str = "#IDENTITY";
pub(super) const AWAIT_SK: &str = "#AWAIT";
pub(super) const ALL_TICKETS: &str = "TICKETS";
pub(super) const ERASURES: &str = "ERASURES";
pub(super) const MERGES: &str = "MERGES";

pub(super) fn search_pk(source: socialcare_domain::Source, account: &str) -> String {
    format!("SEARCH#{source}#{account}")
}
/// A contact's notes, one per customer who gave it; the contact is a digest (an address may
/// have 254 characters of any script, and is personal data).
pub(super) fn contact_pk(contact: &socialcare_domain::customer::Contact) -> String {
    format!("CONTACT#{}", contact_sk(contact))
}
pub(super) fn contact_sk(contact: &socialcare_domain::customer::Contact) -> String {
    socialcare_domain::ids::key_digest(&contact.key())
}
/// The same notes, by the customer who gave them.
pub(super) fn customer_contacts_pk(id: &str) -> String {
    format!("CONTACTS#{id}")
}
pub(super) fn ticket_pk(id: &str) -> String {
    format!("TICKET#{id}")
}
pub(super) fn msgkey_pk(dedupe_key: &str) -> String {
    format!("MSGKEY#{dedupe_key}")
}
pub(super) fn customer_pk(id: &str) -> String {
    format!("CUSTOMER#{id}")
}
pub(super) fn identity_pk(key: &str) -> String {
    format!("IDENTITY#{key}")
}
pub(super) fn events_pk(ticket_id: &str) -> String {
    format!("EVENTS#{ticket_id}")
}
pub(super) fn status_pk(status: &str) -> String {
    format!("TICKETS#{status}")
}

/// The lists of all tickets and of tickets by status are spread over this many partitions
/// (write sharding), so that a burst of new open tickets does not pile onto one; a page reads
/// every shard and merges them newest first.
pub const LIST_SHARDS: u32 = 8;

/// The sort key of every ticket list's index (gsi1 to gsi4 and gsi6): the ticket's cursor,
/// stored once, where each index had its own copy (five copies of 55 bytes took a ticket
/// item over 1 KB, so two write units, more often than not). It keeps the name gsi1 always
/// used, so a table from before has it on every ticket when its indexes are rebuilt.
pub(super) const LIST_SORT_KEY: &str = "gsi1sk";

pub(super) fn shard_of(id: &TicketId) -> u32 {
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let hash = id.as_str().bytes().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    });
    hash % LIST_SHARDS
}

pub(super) fn incident_pk(id: &IncidentId) -> String {
    format!("INCIDENT#{id}")
}

pub(super) const DUE: &str = "DUE";
pub(super) const INCIDENTS: &str = "INCIDENTS";
pub(super) const ACTIVE_INCIDENTS: &str = "ACTIVE_INCIDENTS";
pub(super) const COUNTS_SK: &str = "#COUNTS";

/// The marker that a ticket's reminder is on the reminders queue (TTL a day after it is due).
pub(super) fn queued_pk(ticket: &TicketId) -> String {
    format!("QUEUED#{ticket}")
}
pub(super) const QUEUED_SK: &str = "#QUEUED";

pub(super) fn due_sort_key(reminder: &Reminder) -> String {
    format!("{}#{}", sortable_time(reminder.due_at), reminder.ticket_id)
}

pub(super) fn message_sk(message: &Message) -> String {
    format!("{MESSAGE_SK_PREFIX}{}", message.sort_key())
}

pub(super) const MESSAGE_SK_PREFIX: &str = "MSG#";
/// Above every sort key that starts with a prefix: their ranges end here.
pub(super) const HIGHEST: char = '\u{10FFFF}';

/// The report's counters of one account, grouping, shard, day and group: added to, never
/// read-modify-written. The report feed adds to shard 0; shards 1 to 7 hold the counts of
/// before it, when each change added to a shard by its ticket (see `metrics`).
pub(super) fn metrics_pk(account: &str, group_by: GroupBy, shard: u32) -> String {
    format!("{METRICS_PREFIX}{account}#{}#{shard}", group_by.as_str())
}
pub(super) const METRICS_PREFIX: &str = "METRICS#";

pub(super) const API_KEYS: &str = "APIKEYS";
/// The accounts the report has counters of, one item each (sk: the account).
pub(super) const REPORT_ACCOUNTS: &str = "REPORT_ACCOUNTS";
/// Where the report's feed stands in each shard of the table's stream (sk: the shard id).
pub(super) const REPORT_FEED: &str = "REPORT_FEED";
/// The samples of a ticket change that has no message or event to carry them (sk: the
/// ticket's version; TTL two days, long after the stream has carried them).
pub(super) fn samples_pk(ticket: &TicketId) -> String {
    format!("SAMPLES#{ticket}")
}
pub(super) const SESSION_SK: &str = "#SESSION";

pub(super) fn session_pk(id: &str) -> String {
    format!("SESSION#{id}")
}
pub(super) const INTEGRATIONS: &str = "INTEGRATIONS";
pub(super) const TEMPLATES: &str = "TEMPLATES";
pub(super) const SETTINGS: &str = "SETTINGS";
pub(super) const SLA_POLICIES_SK: &str = "SLA_POLICIES";
/// A brand account's sealed token (`#TOKEN`) and health (`#HEALTH`).
pub(super) fn account_pk(source: socialcare_domain::Source, account: &str) -> String {
    format!("ACCOUNT#{}#{account}", source.as_str())
}
pub(super) const TOKEN_SK: &str = "#TOKEN";
/// A connection under way (TTL at its expiry).
pub(super) fn pending_pk(state: &str) -> String {
    format!("CONNECT#{state}")
}
pub(super) const PENDING_SK: &str = "#CONNECT";
pub(super) const HEALTH_SK: &str = "#HEALTH";

/// The configuration document: its newest version's number (`HEAD`) and each version.
pub(super) const CONFIGURATION: &str = "CONFIGURATION";
pub(super) const CONFIGURATION_HEAD_SK: &str = "HEAD";
pub(super) const CONFIGURATION_VERSION_PREFIX: &str = "V#";

/// Zero-padded, so that versions sort by number.
pub(super) fn configuration_sk(version: u64) -> String {
    format!("{CONFIGURATION_VERSION_PREFIX}{version:020}")
}

pub(super) fn updates_pk(incident: &IncidentId) -> String {
    format!("UPDATES#{incident}")
}

pub(super) fn topics_pk(account: &str, window_start: DateTime<Utc>) -> String {
    format!("TOPICS#{account}#{}", sortable_time(window_start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tickets_spread_over_every_shard_the_same_way_every_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let ids: Vec<TicketId> = (0..200)
            .map(|n| TicketId::derive(at, &n.to_string()))
            .collect();
        let mut counts = [0u32; LIST_SHARDS as usize];
        for id in &ids {
            counts[shard_of(id) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c >= 10), "{counts:?}");
        assert_eq!(shard_of(&ids[0]), shard_of(&ids[0].clone()));
    }
}
