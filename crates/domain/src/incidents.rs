//! Spikes and incidents: when many customers complain about the same thing at once.
//!
//! Every new ticket that needs an answer counts its topic terms ([`crate::triage::topic_terms`])
//! in fixed windows of platform time, per brand account: one atomic add per message, never a
//! scan. When a term's count in the current window reaches the floor and exceeds its baseline
//! (the mean of the windows before) by the factor, an **incident** opens for that term. While it
//! is active, every new ticket of the account that names the term is attached to it, and the
//! tickets of the current and previous window that named it are attached when it opens. A ticket
//! attached to an incident counts towards no other, so the terms of one outage ("internet",
//! "down", "outage") open one incident, not three. (A worker whose view of the active incidents
//! is older than the incident counts its complaint before attaching it: at most a batch's worth.)

use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::{IncidentId, TicketId};
pub use crate::incident::{ActiveIncident, Incident, IncidentStatus, Spike, TopicCounts};
use crate::ports::{
    CommitError, IncidentRecords, SpikeCounters, StoreError, TicketCommands, TicketLists,
    TicketReads, TicketUpdate,
};
use crate::retry::{Round, optimistic};
use crate::ticket::{Ticket, TicketQuery};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The knobs of spike detection for one brand account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRules {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The length of a counting window.
    #[serde(default = "ten")]
    pub window_minutes: u32,
    /// How many windows before the current one make the baseline.
    #[serde(default = "twelve")]
    pub baseline_windows: u32,
    /// How many times its baseline a term's count must be.
    #[serde(default = "four")]
    pub factor: f64,
    /// The count a term must reach in one window, whatever its baseline.
    #[serde(default = "twenty")]
    pub floor: u64,
    /// Words that never make a topic for this account, such as its brand and product names:
    /// they are in every complaint, so they would rise with any busy hour.
    #[serde(default)]
    pub ignore_terms: Vec<String>,
}

fn yes() -> bool {
    true
}
fn ten() -> u32 {
    10
}
fn twelve() -> u32 {
    12
}
fn four() -> f64 {
    4.0
}
fn twenty() -> u64 {
    20
}

impl Default for SpikeRules {
    fn default() -> Self {
        Self {
            enabled: yes(),
            window_minutes: ten(),
            baseline_windows: twelve(),
            factor: four(),
            floor: twenty(),
            ignore_terms: Vec::new(),
        }
    }
}

impl SpikeRules {
    pub fn check(&self) -> Result<(), &'static str> {
        if !(1..=1440).contains(&self.window_minutes) {
            return Err("window_minutes must be 1 to 1440");
        }
        if !(1..=1000).contains(&self.baseline_windows) {
            return Err("baseline_windows must be 1 to 1000");
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err("factor must be at least 1");
        }
        if self.floor == 0 {
            return Err("floor must be at least 1");
        }
        Ok(())
    }

    /// The topic terms of a ticket that count: all but the ignored ones (compared stemmed).
    pub fn counted_terms(&self, topics: &[String]) -> Vec<String> {
        let ignored: Vec<String> = self
            .ignore_terms
            .iter()
            .flat_map(|term| crate::triage::topic_terms(term))
            .collect();
        topics
            .iter()
            .filter(|term| !ignored.contains(term))
            .cloned()
            .collect()
    }

    pub fn window(&self) -> Duration {
        Duration::minutes(i64::from(self.window_minutes.max(1)))
    }

    /// The start of the window `at` falls in.
    pub fn window_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.duration_trunc(self.window()).unwrap_or(at)
    }

    /// The starts of the baseline's windows before the one starting at `current`, oldest first.
    pub fn baseline_windows(&self, current: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let n = self.baseline_windows.max(1) as i32;
        (1..=n).rev().map(|i| current - self.window() * i).collect()
    }
}

/// The spike rules of each brand account (the default for an account not named).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spikes {
    pub by_account: BTreeMap<String, SpikeRules>,
    pub default: SpikeRules,
}

impl Spikes {
    pub fn of(&self, account: &str) -> &SpikeRules {
        self.by_account.get(account).unwrap_or(&self.default)
    }
}

/// Whether `count` in the window starting at `window_start` is a spike over `history` (the
/// counts of the baseline windows; windows without complaints may be missing: they are zero).
pub fn spike(
    count: u64,
    window_start: DateTime<Utc>,
    history: &[u64],
    rules: &SpikeRules,
) -> Option<Spike> {
    if !rules.enabled || count < rules.floor {
        return None;
    }
    let baseline = history.iter().sum::<u64>() as f64 / f64::from(rules.baseline_windows.max(1));
    // A term never seen before has a baseline of zero: the floor alone decides.
    (count as f64 >= rules.factor * baseline).then_some(Spike {
        window_start,
        window_minutes: rules.window_minutes,
        count,
        baseline: (baseline * 100.0).round() / 100.0,
    })
}

/// What the account's escalation target is told when an incident opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentNotice {
    /// Stable across retries: the receiver's idempotency key.
    pub id: String,
    /// Where it is POSTed.
    pub url: String,
    pub incident_id: IncidentId,
    pub account: String,
    pub topic: String,
    pub spike: Spike,
    pub example: String,
    pub opened_at: DateTime<Utc>,
    /// For people: one line saying what happened (Slack shows it as the message).
    pub text: String,
}

impl IncidentNotice {
    /// The notice of `incident` opening, to `url`.
    pub fn opened(incident: &Incident, url: &str) -> Self {
        let spike = &incident.spike;
        let text = format!(
            "Incident {}: {} new complaints about \"{}\" in {} minutes on account {} (usually {:.1}). For example: \"{}\"",
            incident.id,
            spike.count,
            incident.topic,
            spike.window_minutes,
            incident.account,
            spike.baseline,
            incident.example
        );
        Self {
            id: format!("{}:opened", incident.id),
            url: url.to_string(),
            incident_id: incident.id.clone(),
            account: incident.account.clone(),
            topic: incident.topic.clone(),
            spike: spike.clone(),
            example: incident.example.clone(),
            opened_at: incident.opened_at,
            text,
        }
    }
}

/// The active incident of `account` that a ticket with these topic terms belongs to, if any
/// (the oldest, when several match).
pub fn incident_for<'a>(
    active: &'a [ActiveIncident],
    account: &str,
    terms: &[String],
) -> Option<&'a ActiveIncident> {
    active
        .iter()
        .filter(|i| i.account == account && terms.contains(&i.topic))
        .min_by(|a, b| a.id.cmp(&b.id))
}

/// Attaches `ticket` to `incident`: what the ticket and its trail record of it.
pub fn attach(ticket: &mut Ticket, incident: &ActiveIncident, at: DateTime<Utc>) -> TicketEvent {
    ticket.incident_id = Some(incident.id.clone());
    TicketEvent::new(
        ticket.id.clone(),
        at,
        Actor::System,
        EventKind::AttachedToIncident {
            incident_id: incident.id.clone(),
            topic: incident.topic.clone(),
        },
        &format!("incident:{}", incident.id),
    )
}

/// Whether a ticket counts towards spikes and may join an incident: a complaint or question
/// not closed (praise and noise need no answer).
pub fn counts(ticket: &Ticket) -> bool {
    !ticket.topics.is_empty() && ticket.status.is_active()
}

/// How many messages a window's topic record counts in full. A message adds at most
/// [`crate::triage::MAX_TOPIC_TERMS`] terms of at most [`crate::triage::MAX_TERM_BYTES`]
/// bytes, each stored with its count (about 30 bytes on DynamoDB), so a full window holds at
/// most 500 x 24 x 30 = 360,000 bytes: under DynamoDB's 400 KB item limit. An outage's
/// complaints join its incident and count no more, so only unrelated traffic fills it.
pub const WINDOW_CAPACITY: u32 = 500;

/// What [`watch`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Watched {
    /// Counted; nothing spiked. `window_full`: the window's record had reached its capacity,
    /// so the terms it did not have yet went uncounted.
    Counted { window_full: bool },
    /// The ticket joined an incident another worker had opened.
    Attached(IncidentId),
    /// The ticket's complaint tipped a spike: the incident opened, with these many tickets
    /// attached at once (this one included).
    Opened(Box<Incident>, usize),
}

/// After a batch's new tickets are stored: counts their topic terms, one write per account and
/// window, and for each ticket whose terms spiked, attaches it to the account's active incident
/// on them or opens one (then attaches the recent tickets that named the term). The outcomes
/// are in the order of `tickets`. `active` is the caller's view of the active incidents; it is
/// refreshed here when the store knows more.
pub async fn watch_all<S>(
    store: &S,
    tickets: &[Ticket],
    spikes: &Spikes,
    active: &mut Vec<ActiveIncident>,
) -> Vec<Result<Watched, StoreError>>
where
    S: SpikeCounters + IncidentRecords + TicketReads + TicketLists + TicketCommands,
{
    // Each counted ticket's terms, and the tickets of each account and window.
    let mut windows: BTreeMap<(&str, DateTime<Utc>), Vec<usize>> = BTreeMap::new();
    let terms: Vec<Vec<String>> = tickets
        .iter()
        .enumerate()
        .map(|(i, ticket)| {
            let rules = spikes.of(&ticket.account);
            // A complaint already part of an incident counts towards no other: the other words
            // of an outage ("down", "since", "again") must not open incidents of their own.
            if !rules.enabled || !counts(ticket) || ticket.incident_id.is_some() {
                return Vec::new();
            }
            let terms = rules.counted_terms(&ticket.topics);
            if !terms.is_empty() {
                let window = rules.window_start(ticket.created_at);
                windows
                    .entry((&ticket.account, window))
                    .or_default()
                    .push(i);
            }
            terms
        })
        .collect();
    let mut counted: Vec<Option<Result<TopicCounts, StoreError>>> =
        tickets.iter().map(|_| None).collect();
    for ((account, window), members) in windows {
        let mut named: BTreeMap<&str, u64> = BTreeMap::new();
        for &i in &members {
            for term in &terms[i] {
                *named.entry(term).or_default() += 1;
            }
        }
        let named: Vec<(String, u64)> = named.into_iter().map(|(t, n)| (t.into(), n)).collect();
        let messages = members.len() as u64;
        let result = store
            .count_topics(account, window, &named, messages, WINDOW_CAPACITY)
            .await;
        for &i in &members {
            counted[i] = Some(result.as_ref().map_err(Clone::clone).map(|all| {
                TopicCounts {
                    counts: all
                        .counts
                        .iter()
                        .filter(|(term, _)| terms[i].contains(term))
                        .cloned()
                        .collect(),
                    full: all.full,
                }
            }));
        }
    }
    let mut outcomes = Vec::with_capacity(tickets.len());
    for (ticket, counted) in tickets.iter().zip(counted) {
        outcomes.push(match counted {
            None => Ok(Watched::Counted { window_full: false }),
            Some(Err(e)) => Err(e),
            Some(Ok(counted)) => {
                let rules = spikes.of(&ticket.account);
                decide(store, ticket, counted, rules, active).await
            }
        });
    }
    outcomes
}

/// What a counted ticket's terms make of it: attached, an incident opened, or only counted.
async fn decide<S>(
    store: &S,
    ticket: &Ticket,
    counted: TopicCounts,
    rules: &SpikeRules,
    active: &mut Vec<ActiveIncident>,
) -> Result<Watched, StoreError>
where
    S: SpikeCounters + IncidentRecords + TicketReads + TicketLists + TicketCommands,
{
    let window = rules.window_start(ticket.created_at);
    let window_full = counted.full;
    let mut over_floor: Vec<(String, u64)> = counted
        .counts
        .into_iter()
        .filter(|(_, count)| *count >= rules.floor)
        .collect();
    if over_floor.is_empty() {
        return Ok(Watched::Counted { window_full });
    }
    // Busy terms first: the one most complained about names the incident.
    over_floor.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // Another worker may have opened an incident since `active` was read.
    *active = store.active_incidents().await?;
    if let Some(incident) = incident_for(active, &ticket.account, &ticket.topics).cloned() {
        attach_stored(store, &ticket.id, &incident, ticket.created_at).await?;
        return Ok(Watched::Attached(incident.id));
    }
    for (term, count) in over_floor {
        let history = store
            .topic_history(&ticket.account, &term, &rules.baseline_windows(window))
            .await?;
        let Some(spike) = spike(count, window, &history, rules) else {
            continue;
        };
        let incident = Incident::open(
            ticket.source,
            &ticket.account,
            &term,
            &ticket.subject,
            ticket.created_at,
            spike,
        );
        match store.open_incident(&incident).await {
            Ok(()) => {}
            // Opened by another worker meanwhile: this ticket joins it below.
            Err(CommitError::Duplicate) | Err(CommitError::Conflict) => {}
            Err(CommitError::Store(e)) => return Err(e),
        }
        *active = store.active_incidents().await?;
        let Some(joined) = active
            .iter()
            .find(|i| i.account == ticket.account && i.topic == term)
            .cloned()
        else {
            return Err(StoreError::unavailable(format!(
                "incident {} did not open",
                incident.id
            )));
        };
        if joined.id != incident.id {
            attach_stored(store, &ticket.id, &joined, ticket.created_at).await?;
            return Ok(Watched::Attached(joined.id));
        }
        let attached = attach_recent(store, &joined, window - rules.window()).await?;
        return Ok(Watched::Opened(Box::new(incident), attached));
    }
    Ok(Watched::Counted { window_full })
}

/// Attaches the stored tickets of the incident's account opened since `since` that name its
/// topic and belong to no incident yet; how many.
async fn attach_recent<S>(
    store: &S,
    incident: &ActiveIncident,
    since: DateTime<Utc>,
) -> Result<usize, StoreError>
where
    S: TicketReads + TicketLists + TicketCommands,
{
    let mut query = TicketQuery::newest(TicketQuery::MAX_LIMIT);
    let mut attached = 0;
    loop {
        let page = store.list_tickets(&query).await?;
        let mut older = false;
        for ticket in &page.items {
            if ticket.created_at < since {
                older = true;
                break;
            }
            if ticket.account == incident.account
                && ticket.incident_id.is_none()
                && counts(ticket)
                && ticket.topics.contains(&incident.topic)
                && attach_stored(store, &ticket.id, incident, ticket.created_at).await?
            {
                attached += 1;
            }
        }
        match page.next {
            Some(next) if !older => query.after = Some(next),
            _ => return Ok(attached),
        }
    }
}

/// Attaches a stored ticket (read again, written with its version); false when it belongs to
/// an incident already.
async fn attach_stored<S>(
    store: &S,
    id: &TicketId,
    incident: &ActiveIncident,
    at: DateTime<Utc>,
) -> Result<bool, StoreError>
where
    S: TicketReads + TicketCommands,
{
    optimistic(
        move || async move {
            let Some(detail) = store.ticket_detail(id).await? else {
                return Ok(Round::Done(false));
            };
            let mut ticket = detail.ticket;
            if ticket.incident_id.is_some() {
                return Ok(Round::Done(false));
            }
            let version_before = ticket.version;
            ticket.version += 1;
            let event = attach(&mut ticket, incident, at);
            let update = TicketUpdate {
                ticket,
                version_before,
                events: vec![event],
                replies: Vec::new(),
                samples: Vec::new(),
            };
            match store.update_ticket(&update).await {
                Ok(()) => Ok(Round::Done(true)),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e),
            }
        },
        || {
            StoreError::unavailable(format!(
                "ticket {id} kept changing while it was attached to incident {}",
                incident.id
            ))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Source;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
    }

    #[test]
    fn windows_are_aligned_and_the_baseline_is_the_windows_before() {
        let rules = SpikeRules::default();
        assert_eq!(rules.window_start(at(9, 17)), at(9, 10));
        assert_eq!(rules.window_start(at(9, 10)), at(9, 10));
        let baseline = rules.baseline_windows(at(9, 10));
        assert_eq!(baseline.len(), 12);
        assert_eq!(baseline.first(), Some(&at(7, 10)));
        assert_eq!(baseline.last(), Some(&at(9, 0)));
    }

    #[test]
    fn a_spike_needs_the_floor_and_the_factor() {
        let rules = SpikeRules::default();
        let start = at(9, 10);
        // Below the floor: never, even from nothing.
        assert_eq!(spike(19, start, &[], &rules), None);
        // At the floor from nothing: a spike with a zero baseline.
        let from_nothing = spike(20, start, &[], &rules).unwrap();
        assert_eq!(from_nothing.count, 20);
        assert_eq!(from_nothing.baseline, 0.0);
        assert_eq!(from_nothing.window_start, start);
        // A busy term: 12 windows of 10 each is a baseline of 10; 39 is not 4 times that.
        let busy = [10; 12];
        assert_eq!(spike(39, start, &busy, &rules), None);
        let spiked = spike(40, start, &busy, &rules).unwrap();
        assert_eq!(spiked.baseline, 10.0);
        // Missing windows count as zero: 24 over 12 windows is a baseline of 2.
        assert_eq!(spike(20, start, &[24], &rules).unwrap().baseline, 2.0);
        let off = SpikeRules {
            enabled: false,
            ..SpikeRules::default()
        };
        assert_eq!(spike(1000, start, &[], &off), None);
    }

    #[test]
    fn ignored_terms_do_not_count_however_they_are_written() {
        let rules = SpikeRules {
            ignore_terms: vec!["Acme".into(), "routers".into()],
            ..SpikeRules::default()
        };
        let topics = crate::triage::topic_terms("my acme router is down, acme fibre too");
        assert_eq!(topics, ["acm", "down", "fibr", "router"]);
        assert_eq!(rules.counted_terms(&topics), ["down", "fibr"]);
        assert_eq!(SpikeRules::default().counted_terms(&topics), topics);
    }

    #[test]
    fn the_same_spike_opens_the_same_incident() {
        let s = spike(25, at(9, 10), &[], &SpikeRules::default()).unwrap();
        let a = Incident::open(
            Source::X,
            "acme",
            "outag",
            "down again",
            at(9, 14),
            s.clone(),
        );
        let b = Incident::open(
            Source::X,
            "acme",
            "outag",
            "still down",
            at(9, 15),
            s.clone(),
        );
        assert_eq!(a.id, b.id);
        let other = Incident::open(Source::X, "acme", "internet", "down again", at(9, 14), s);
        assert_ne!(a.id, other.id);
    }

    #[test]
    fn a_ticket_joins_the_oldest_matching_incident_of_its_account() {
        let s = spike(25, at(9, 10), &[], &SpikeRules::default()).unwrap();
        let older = Incident::open(Source::X, "acme", "outag", "x", at(9, 14), s.clone()).active();
        let mut later = s.clone();
        later.window_start = at(9, 20);
        let newer = Incident::open(Source::X, "acme", "internet", "y", at(9, 24), later).active();
        let elsewhere = Incident::open(Source::X, "other", "outag", "z", at(9, 14), s).active();
        let active = [newer.clone(), older.clone(), elsewhere];
        let terms = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            incident_for(&active, "acme", &terms(&["internet", "outag"])),
            Some(&older)
        );
        assert_eq!(
            incident_for(&active, "acme", &terms(&["internet"])),
            Some(&newer)
        );
        assert_eq!(incident_for(&active, "acme", &terms(&["bill"])), None);
        assert_eq!(incident_for(&active, "nobody", &terms(&["outag"])), None);
    }

    #[test]
    fn rules_are_checked() {
        assert_eq!(SpikeRules::default().check(), Ok(()));
        let bad = |f: fn(&mut SpikeRules)| {
            let mut rules = SpikeRules::default();
            f(&mut rules);
            rules.check().is_err()
        };
        assert!(bad(|r| r.window_minutes = 0));
        assert!(bad(|r| r.baseline_windows = 0));
        assert!(bad(|r| r.factor = 0.5));
        assert!(bad(|r| r.factor = f64::NAN));
        assert!(bad(|r| r.floor = 0));
    }
}
