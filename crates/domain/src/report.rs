//! The response-time report: figures counted when tickets change (not by scanning tickets when
//! asked), kept per brand account, UTC day and group (the day itself, the agent, the channel).
//!
//! Times are from platform timestamps: the customer's first message to the brand's first human
//! answer, to the first answer of any kind (the acknowledgement), to resolved. Medians and p90s
//! come from log-scale buckets with about 1 % relative error (the DDSketch mapping): counters
//! that add, so concurrent writers never read-modify-write a list.

use crate::ticket::{Ticket, TicketStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the report groups tickets.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    Agent,
    Channel,
}

impl GroupBy {
    pub const ALL: [GroupBy; 3] = [GroupBy::Day, GroupBy::Agent, GroupBy::Channel];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Agent => "agent",
            GroupBy::Channel => "channel",
        }
    }
}

/// Counters by name; they only ever add.
pub type Counters = BTreeMap<String, i64>;

/// What one ticket change adds to one group of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub account: String,
    pub day: NaiveDate,
    pub group_by: GroupBy,
    /// The day (`YYYY-MM-DD`), the agent, or the channel.
    pub group: String,
    pub counters: Counters,
}

const HOUR: i64 = 3600;

/// The counters a change of `before` into `after` adds, in every grouping. `actor`: the agent
/// who made the change, when one did (a human answer, a resolve).
pub fn samples(before: Option<&Ticket>, after: &Ticket, actor: Option<&str>) -> Vec<Sample> {
    let mut counters = Counters::new();
    let mut add = |name: &str, value: i64| *counters.entry(name.to_string()).or_default() += value;
    let since_opened = |at: DateTime<Utc>| (at - after.created_at).num_seconds().max(0);
    if before.is_none() {
        add("tickets", 1);
    }
    let newly = |get: fn(&Ticket) -> Option<DateTime<Utc>>| {
        get(after).filter(|_| before.and_then(get).is_none())
    };
    // A ticket the brand opened waited for no answer: its answers are no response times. It
    // stops being one when the customer's earlier message comes after all (the counters add
    // a one back), and its times count from that message.
    let opened_by_brand = |t: &Ticket| t.opened_by_brand;
    // The one taken back is taken from the day and group it was added to (the ticket's
    // opening moved to the customer's earlier message).
    let mut taken_back = Vec::new();
    match (before, opened_by_brand(after)) {
        (None, true) => add("opened_by_brand", 1),
        (Some(before), true) if !before.opened_by_brand => add("opened_by_brand", 1),
        (Some(before), false) if before.opened_by_brand => {
            let counters = Counters::from([("opened_by_brand".to_string(), -1)]);
            taken_back = grouped(before, before.owner.as_deref(), counters);
        }
        _ => {}
    }
    if let Some(at) = newly(|t| t.acknowledged_at.filter(|_| !t.opened_by_brand)) {
        add("acknowledged", 1);
        add("acknowledgement_seconds", since_opened(at));
    }
    if let Some(at) = newly(|t| t.first_response_at.filter(|_| !t.opened_by_brand)) {
        let seconds = since_opened(at);
        add("responded", 1);
        add("response_seconds", seconds);
        add("responded_within_1h", i64::from(seconds <= HOUR));
        add("responded_within_48h", i64::from(seconds <= 48 * HOUR));
        add(&format!("response_b{}", bucket(seconds)), 1);
    }
    let breached = |t: &Ticket| {
        [t.timers.response, t.timers.resolution]
            .into_iter()
            .flatten()
            .filter(|d| d.breached)
            .count() as i64
    };
    let new_breaches = breached(after) - before.map_or(0, breached);
    if new_breaches > 0 {
        add("breaches", new_breaches);
    }
    let resolved = |t: &Ticket| {
        matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) && t.resolved_at.is_some()
    };
    if resolved(after) && !before.is_some_and(resolved) {
        let seconds = since_opened(after.resolved_at.unwrap_or(after.created_at));
        add("resolved", 1);
        add("resolution_seconds", seconds);
        add(&format!("resolution_b{}", bucket(seconds)), 1);
    }
    // The survey's answer counts once, when it comes (1 poor to 5 great).
    if let Some(score) = after
        .satisfaction
        .filter(|_| before.is_none_or(|b| b.satisfaction.is_none()))
    {
        add("rated", 1);
        add("rating_sum", i64::from(score));
    }
    let mut all = match counters.is_empty() {
        true => Vec::new(),
        false => grouped(after, actor.or(after.owner.as_deref()), counters),
    };
    all.extend(taken_back);
    all
}

/// `counters` in every grouping of `ticket`: its opening's day, the agent, its channel.
fn grouped(ticket: &Ticket, agent: Option<&str>, counters: Counters) -> Vec<Sample> {
    let day = ticket.created_at.date_naive();
    let agent = agent.unwrap_or("unassigned").to_string();
    GroupBy::ALL
        .into_iter()
        .map(|group_by| Sample {
            account: ticket.account.clone(),
            day,
            group_by,
            group: match group_by {
                GroupBy::Day => day.to_string(),
                GroupBy::Agent => agent.clone(),
                GroupBy::Channel => ticket.source.to_string(),
            },
            counters: counters.clone(),
        })
        .collect()
}

/// The DDSketch mapping with 1 % relative accuracy: bucket `i` holds (γ^(i-1), γ^i] seconds.
const GAMMA: f64 = 1.01 / 0.99;

fn bucket(seconds: i64) -> u32 {
    if seconds <= 0 {
        return 0;
    }
    ((seconds as f64).ln() / GAMMA.ln()).ceil().max(0.0) as u32 + 1
}

/// The value a bucket stands for: within 1 % of every value in it.
fn representative(bucket: u32) -> f64 {
    match bucket {
        0 => 0.0,
        b => 2.0 * GAMMA.powi(b as i32 - 1) / (1.0 + GAMMA),
    }
}

/// Times in seconds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Times {
    pub count: i64,
    pub mean_seconds: Option<f64>,
    /// Within 1 % (log-scale buckets).
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// The figures of one group.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The day, the agent or the channel.
    pub group: String,
    /// Tickets opened.
    pub tickets: i64,
    /// Of them, those whose first message is the brand's (outreach, or an answer to a
    /// message socialcare never saw): they have no response times.
    #[serde(default)]
    pub opened_by_brand: i64,
    pub acknowledgement: Times,
    /// The brand's first human answer.
    pub first_response: Times,
    /// Shares of the answered tickets answered within the hour and within 48 hours.
    pub answered_within_1h: Option<f64>,
    pub answered_within_48h: Option<f64>,
    pub sla_breaches: i64,
    pub resolution: Times,
    /// Satisfaction surveys answered, and their mean score (1 poor to 5 great).
    #[serde(default)]
    pub rated: i64,
    #[serde(default)]
    pub satisfaction: Option<f64>,
}

impl Figures {
    /// The figures of the summed counters of a group.
    pub fn of(group: String, c: &Counters) -> Self {
        let get = |name: &str| c.get(name).copied().unwrap_or(0);
        let share = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
        let responded = get("responded");
        Figures {
            group,
            tickets: get("tickets"),
            opened_by_brand: get("opened_by_brand"),
            acknowledgement: Times {
                count: get("acknowledged"),
                mean_seconds: mean(get("acknowledgement_seconds"), get("acknowledged")),
                median_seconds: None,
                p90_seconds: None,
            },
            first_response: times(c, "response", responded, get("response_seconds")),
            answered_within_1h: share(get("responded_within_1h"), responded),
            answered_within_48h: share(get("responded_within_48h"), responded),
            sla_breaches: get("breaches"),
            resolution: times(c, "resolution", get("resolved"), get("resolution_seconds")),
            rated: get("rated"),
            satisfaction: mean(get("rating_sum"), get("rated")),
        }
    }
}

fn mean(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| sum as f64 / count as f64)
}

fn times(c: &Counters, prefix: &str, count: i64, sum: i64) -> Times {
    let prefix = format!("{prefix}_b");
    let mut buckets: Vec<(u32, i64)> = c
        .iter()
        .filter_map(|(name, n)| Some((name.strip_prefix(&prefix)?.parse().ok()?, *n)))
        .collect();
    buckets.sort();
    let total: i64 = buckets.iter().map(|(_, n)| n).sum();
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    let quantile = |q: f64| {
        let rank = ((q * total as f64).ceil() as i64).max(1);
        let mut seen = 0;
        buckets.iter().find_map(|(bucket, n)| {
            seen += n;
            (seen >= rank).then(|| representative(*bucket).round())
        })
    };
    Times {
        count,
        mean_seconds: mean(sum, count),
        median_seconds: quantile(0.5),
        p90_seconds: quantile(0.9),
    }
}

/// The figures of every row together: the whole range, every group.
pub fn totals(rows: &[(String, Counters)]) -> Figures {
    let mut sum = Counters::new();
    for (_, counters) in rows {
        for (name, n) in counters {
            *sum.entry(name.clone()).or_default() += n;
        }
    }
    Figures::of("total".into(), &sum)
}

/// Sums the stored counters by group (rows of several days or shards of one group add up).
pub fn report(rows: Vec<(String, Counters)>) -> Vec<Figures> {
    let mut groups: BTreeMap<String, Counters> = BTreeMap::new();
    for (group, counters) in rows {
        let sum = groups.entry(group).or_default();
        for (name, n) in counters {
            *sum.entry(name).or_default() += n;
        }
    }
    groups
        .into_iter()
        .map(|(group, counters)| Figures::of(group, &counters))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brand's reply at 00:10 opened a ticket; the customer's tweet it answered, from
    /// 23:50 the day before, comes after: the "opened by the brand" one is taken back from the
    /// day it was added to, and the 20-minute answer counts on the customer's day.
    #[test]
    fn a_ticket_that_turns_out_the_customers_is_taken_back_where_it_was_counted() {
        use chrono::TimeZone;
        let reply_at = Utc.with_ymd_and_hms(2026, 11, 23, 0, 10, 0).unwrap();
        let tweet_at = Utc.with_ymd_and_hms(2026, 11, 22, 23, 50, 0).unwrap();
        let before = Ticket {
            id: crate::ids::TicketId::derive(reply_at, "t"),
            account: "acme".into(),
            source: crate::message::Source::X,
            customer_id: crate::ids::CustomerId::derive(reply_at, "c"),
            status: TicketStatus::Open,
            subject: String::new(),
            created_at: reply_at,
            last_message_at: reply_at,
            message_count: 1,
            owner: Some("sally".into()),
            team: None,
            first_response_at: Some(reply_at),
            opened_by_brand: true,
            acknowledged_at: Some(reply_at),
            resolved_at: None,
            priority: Default::default(),
            timers: Default::default(),
            satisfaction: None,
            triage: None,
            topics: Vec::new(),
            incident_id: None,
            erased_at: None,
            version: 1,
        };
        let opened = samples(None, &before, None);
        assert!(opened.iter().all(|s| s.day == reply_at.date_naive()));
        assert!(
            opened
                .iter()
                .all(|s| s.counters.get("opened_by_brand") == Some(&1))
        );
        assert!(opened.iter().all(|s| !s.counters.contains_key("responded")));

        let after = Ticket {
            created_at: tweet_at,
            opened_by_brand: false,
            message_count: 2,
            version: 2,
            ..before.clone()
        };
        let joined = samples(Some(&before), &after, None);
        let on = |day: NaiveDate| -> Vec<&Sample> {
            joined
                .iter()
                .filter(|s| s.day == day && s.group_by == GroupBy::Day)
                .collect()
        };
        let taken = on(reply_at.date_naive());
        assert_eq!(taken.len(), 1);
        assert_eq!(
            taken[0].counters,
            Counters::from([("opened_by_brand".into(), -1)])
        );
        let counted = on(tweet_at.date_naive());
        assert_eq!(counted.len(), 1);
        assert_eq!(counted[0].counters.get("responded"), Some(&1));
        assert_eq!(counted[0].counters.get("response_seconds"), Some(&1200));
        assert!(!counted[0].counters.contains_key("opened_by_brand"));
        let by_agent: Vec<&Sample> = joined
            .iter()
            .filter(|s| s.group_by == GroupBy::Agent && s.counters.contains_key("opened_by_brand"))
            .collect();
        assert_eq!(by_agent.len(), 1);
        assert_eq!(by_agent[0].group, "sally");
    }

    #[test]
    fn every_bucket_is_within_one_percent_of_its_values() {
        for seconds in (1_i64..20_000).chain([86_400, 259_200, 2_592_000]) {
            let value = representative(bucket(seconds));
            let error = (value - seconds as f64).abs() / seconds as f64;
            assert!(error <= 0.01, "{seconds}: {value} ({error})");
        }
        assert_eq!(bucket(0), 0);
        assert!(bucket(100) < bucket(102));
    }

    #[test]
    fn a_survey_answer_counts_once_towards_the_mean_score() {
        use crate::ticket::Ticket;
        let ticket: Ticket = serde_json::from_value(serde_json::json!({
            "id": "tkt_01M8RW5PCRMSPW4KGVKY7R52C4", "account": "a", "source": "x",
            "customer_id": "cus_01M8RW5PCRMSPW4KGVKY7R52C4", "status": "resolved",
            "subject": "s", "created_at": "2026-11-20T09:00:00Z",
            "last_message_at": "2026-11-20T09:00:00Z", "message_count": 1,
            "resolved_at": "2026-11-20T10:00:00Z", "version": 3
        }))
        .unwrap();
        let rated = |score| Ticket {
            satisfaction: Some(score),
            version: 4,
            ..ticket.clone()
        };
        let first = samples(Some(&ticket), &rated(4), None);
        assert_eq!(first.len(), 3, "one sample per grouping");
        assert_eq!(first[0].counters.get("rated"), Some(&1));
        assert_eq!(first[0].counters.get("rating_sum"), Some(&4));
        // Written again (a redelivery, another change): not counted twice.
        assert!(samples(Some(&rated(4)), &rated(4), None).is_empty());
        let rows = vec![
            ("d".to_string(), first[0].counters.clone()),
            (
                "d".to_string(),
                Counters::from([("rated".into(), 1), ("rating_sum".into(), 1)]),
            ),
        ];
        let figures = &report(rows)[0];
        assert_eq!((figures.rated, figures.satisfaction), (2, Some(2.5)));
    }
}
