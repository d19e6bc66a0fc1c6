//! Checks through the API that every accepted message became exactly one stored message, and
//! that each follow-up sits on the ticket of the message it answers. A message that was never
//! acknowledged may be stored (its webhook may have been queued before the answer was lost),
//! but at most once.
//!
//! The ticket list is newest first by the platform time of each ticket's first message; the
//! burst's messages are all written after it started, so paging stops at the first older
//! ticket. A ticket's details are read again only when its `version` moved.

use crate::bodies::MessageKey;
use crate::burst::Expected;
use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Tickets per list page: the API's maximum.
const PAGE: u32 = 200;
/// Ticket details read at once.
const DETAILS_AT_ONCE: usize = 8;
/// Meta's times are whole seconds, and clocks drift a little: tickets this much older than the
/// burst are still read.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::seconds(5);
/// How long a read is retried while the runner answers 503 or not at all.
const READ_RETRY_FOR: Duration = Duration::from_secs(120);
/// Examples of each problem shown in the summary.
const EXAMPLES: usize = 5;

/// The API, with the bootstrap (or any integrator) key.
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(base: &str, key: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .context("building the HTTP client")?,
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
        })
    }

    /// GETs `path`, again while the runner answers 503 or not at all (a store outage, a
    /// restart: the faults a burst may be run with), for up to [`READ_RETRY_FOR`].
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let first = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            let answer = self
                .http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.key)
                .send()
                .await;
            let passing = match &answer {
                Ok(answer) => answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE,
                Err(_) => true,
            };
            if !passing || first.elapsed() + pause > READ_RETRY_FOR {
                let answer = answer.with_context(|| format!("GET {path}"))?;
                return self.read(path, answer).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        answer: reqwest::Response,
    ) -> anyhow::Result<T> {
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "GET {path} answered {status}: {}{}",
            text.chars().take(300).collect::<String>(),
            match status.as_u16() {
                401 => " (is --api-key / SOCIALCARE_API_KEY the runner's?)",
                _ => "",
            }
        );
        serde_json::from_str(&text).with_context(|| format!("reading the answer of GET {path}"))
    }

    /// One page of the ticket list (the verifier's only read while it waits for ingest).
    async fn tickets(&self, cursor: Option<&str>) -> anyhow::Result<TicketPage> {
        let mut path = format!("/v1/tickets?limit={PAGE}");
        if let Some(cursor) = cursor {
            path.push_str("&cursor=");
            path.push_str(&encode_query(cursor));
        }
        self.get(&path).await
    }

    /// A list page read only to learn what one costs the store (see `burst`'s request counts).
    pub async fn one_ticket_page(&self) -> anyhow::Result<()> {
        self.tickets(None).await.map(|_| ())
    }
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct TicketPage {
    tickets: Vec<TicketSummary>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TicketSummary {
    id: String,
    created_at: DateTime<Utc>,
    message_count: u64,
    version: u64,
}

#[derive(Debug, Deserialize)]
struct TicketDetail {
    messages: Vec<StoredMessage>,
}

#[derive(Debug, Deserialize)]
struct StoredMessage {
    source: String,
    account: String,
    external_id: String,
}

/// The tickets seen so far, with the messages of the version last read.
struct Seen {
    version: u64,
    message_count: u64,
    /// `None` until the details of this version are read.
    messages: Option<Vec<MessageKey>>,
}

/// Reads the burst's tickets, keeping what it read.
pub struct Scanner<'a> {
    api: &'a Api,
    since: DateTime<Utc>,
    tickets: HashMap<String, Seen>,
    /// List pages read, to tell the verifier's share of the store's reads.
    pub list_pages: u64,
    pub detail_reads: u64,
}

impl<'a> Scanner<'a> {
    pub fn new(api: &'a Api, burst_started_at: DateTime<Utc>) -> Self {
        Self {
            api,
            since: burst_started_at - CLOCK_SLACK,
            tickets: HashMap::new(),
            list_pages: 0,
            detail_reads: 0,
        }
    }

    /// Pages through the tickets written since the burst started.
    async fn list(&mut self) -> anyhow::Result<()> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self.api.tickets(cursor.as_deref()).await?;
            self.list_pages += 1;
            let mut older_reached = false;
            for ticket in page.tickets {
                if ticket.created_at < self.since {
                    older_reached = true;
                    break;
                }
                let seen = self.tickets.entry(ticket.id).or_insert(Seen {
                    version: ticket.version,
                    message_count: ticket.message_count,
                    messages: None,
                });
                if seen.version != ticket.version {
                    *seen = Seen {
                        version: ticket.version,
                        message_count: ticket.message_count,
                        messages: None,
                    };
                }
            }
            cursor = page.next_cursor;
            if older_reached || cursor.is_none() {
                return Ok(());
            }
        }
    }

    /// Reads the details of every ticket whose version moved since they were last read.
    async fn read_changed(&mut self) -> anyhow::Result<()> {
        let stale: Vec<(String, u64)> = self
            .tickets
            .iter()
            .filter(|(_, seen)| seen.messages.is_none())
            .map(|(id, seen)| (id.clone(), seen.version))
            .collect();
        let api = self.api;
        let mut reads = futures::stream::iter(stale)
            .map(|(id, version)| async move {
                let detail: anyhow::Result<TicketDetail> =
                    api.get(&format!("/v1/tickets/{id}")).await;
                (id, version, detail)
            })
            .buffer_unordered(DETAILS_AT_ONCE);
        while let Some((id, version, detail)) = reads.next().await {
            self.detail_reads += 1;
            let messages = detail?
                .messages
                .into_iter()
                .map(|m| MessageKey {
                    source: m.source,
                    account: m.account,
                    external_id: m.external_id,
                })
                .collect();
            // The version the list showed: a later change shows up at the next listing.
            if let Some(seen) = self.tickets.get_mut(&id).filter(|s| s.version == version) {
                seen.messages = Some(messages);
            }
        }
        Ok(())
    }

    fn message_total(&self) -> u64 {
        self.tickets.values().map(|seen| seen.message_count).sum()
    }

    /// Where each expected message is stored: the tickets holding it, once per copy.
    fn places(&self, expected: &HashSet<&MessageKey>) -> HashMap<MessageKey, Vec<String>> {
        let mut places: HashMap<MessageKey, Vec<String>> = HashMap::new();
        for (ticket, seen) in &self.tickets {
            for key in seen.messages.iter().flatten() {
                if expected.contains(key) {
                    places.entry(key.clone()).or_default().push(ticket.clone());
                }
            }
        }
        places
    }
}

/// How long to wait before the next poll: `poll_every`, or four times what the last poll took
/// when that is longer, so that the verifier never takes more than a fifth of the store's time
/// (moto's queries scan the whole table: there a list pass takes seconds, and ingest waits
/// behind it).
fn pause(last_pass: Duration, poll_every: Duration) -> Duration {
    poll_every.max(last_pass * 4)
}

/// Polls the ticket list until the tickets since the burst hold as many messages as were
/// accepted (cheap: no details), or the deadline passes. Returns when, after `started`.
pub async fn wait_for_ingest(
    scanner: &mut Scanner<'_>,
    expected: u64,
    started: Instant,
    deadline: Instant,
    poll_every: Duration,
) -> anyhow::Result<Option<Duration>> {
    loop {
        let pass = Instant::now();
        scanner.list().await?;
        if scanner.message_total() >= expected {
            return Ok(Some(started.elapsed()));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause(pass.elapsed(), poll_every)).await;
    }
}

/// What the store holds of the burst.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub stored: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub misthreaded: u64,
    /// Messages never acknowledged that the store holds anyway (allowed, once).
    pub stored_unacknowledged: u64,
    /// Tickets holding the burst's messages.
    pub tickets: u64,
    /// When every message was there, after the burst started.
    pub all_stored_after: Option<Duration>,
    /// Reads of every changed ticket's details until all were there (1: at the first).
    pub detail_passes: u32,
    /// A few examples of each problem.
    pub examples: Vec<String>,
}

/// Reads every ticket's messages until each expected message is there (or the deadline
/// passes), then once more after `settle`, to catch copies that arrive late.
pub async fn check(
    scanner: &mut Scanner<'_>,
    expected: &[Expected],
    unacknowledged: &[MessageKey],
    started: Instant,
    deadline: Instant,
    poll_every: Duration,
    settle: Duration,
) -> anyhow::Result<Verification> {
    let keys: HashSet<&MessageKey> = expected.iter().map(|e| &e.key).collect();
    let mut all_stored_after = None;
    let mut detail_passes = 0;
    loop {
        detail_passes += 1;
        let pass = Instant::now();
        scanner.list().await?;
        scanner.read_changed().await?;
        let places = scanner.places(&keys);
        if keys.iter().all(|key| places.contains_key(*key)) {
            all_stored_after = Some(started.elapsed());
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(pause(pass.elapsed(), poll_every)).await;
    }
    if all_stored_after.is_some() {
        tokio::time::sleep(settle).await;
        scanner.list().await?;
        scanner.read_changed().await?;
    }
    let all: HashSet<&MessageKey> = keys.iter().copied().chain(unacknowledged).collect();
    let places = scanner.places(&all);
    let mut verification = Verification {
        all_stored_after,
        detail_passes,
        ..Verification::default()
    };
    let mut tickets = HashSet::new();
    let example = |verification: &mut Verification, text: String| {
        if verification.examples.len() < 3 * EXAMPLES {
            verification.examples.push(text);
        }
    };
    for wanted in expected {
        let found = places.get(&wanted.key).map(Vec::as_slice).unwrap_or(&[]);
        tickets.extend(found.iter().cloned());
        match found.len() {
            0 => {
                verification.lost += 1;
                example(&mut verification, format!("lost: {}", wanted.key));
            }
            1 => verification.stored += 1,
            copies => {
                verification.stored += 1;
                verification.duplicated += 1;
                example(
                    &mut verification,
                    format!("stored {copies} times: {} on {found:?}", wanted.key),
                );
            }
        }
        let parent = wanted
            .answers
            .as_ref()
            .and_then(|parent| places.get(parent));
        if let (Some([ticket]), Some([parent_ticket])) = (Some(found), parent.map(Vec::as_slice))
            && ticket != parent_ticket
        {
            verification.misthreaded += 1;
            example(
                &mut verification,
                format!(
                    "follow-up {} on {ticket}, the message it answers on {parent_ticket}",
                    wanted.key
                ),
            );
        }
    }
    for key in unacknowledged {
        match places.get(key).map_or(0, Vec::len) {
            0 => {}
            1 => verification.stored_unacknowledged += 1,
            copies => {
                verification.stored_unacknowledged += 1;
                verification.duplicated += 1;
                example(
                    &mut verification,
                    format!("never acknowledged, stored {copies} times: {key}"),
                );
            }
        }
    }
    verification.tickets = tickets.len() as u64;
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_escaped_for_the_query() {
        assert_eq!(encode_query("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode_query("plain-1_2.3~"), "plain-1_2.3~");
    }
}
