//! Escalation notices: what a team's escalation target (a Slack-style incoming webhook or an
//! integrator's system) is told when a ticket is about to miss, or missed, its service level.

pub use crate::events::NoticeReason;
use crate::ids::TicketId;
use crate::replies::PostError;
use crate::sla::Measure;
use crate::ticket::Priority;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One notice to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable across retries: the receiver's idempotency key, and the id of the event that
    /// records the delivery.
    pub id: String,
    /// Where it is POSTed.
    pub url: String,
    pub ticket_id: TicketId,
    pub account: String,
    pub reason: NoticeReason,
    pub measure: Measure,
    pub due_at: DateTime<Utc>,
    pub priority: Priority,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub subject: String,
    /// Who is told: the team's name, or `account` for the account's own target.
    pub target: String,
    /// For people: one line saying what happened (Slack shows it as the message).
    pub text: String,
    /// The instant it is about (the warning or the deadline).
    pub at: DateTime<Utc>,
}

/// Posts notices to their targets.
pub trait Notifier: Send + Sync {
    /// Posts `notice` to `notice.url`. The same errors as a platform's: rate limited (wait),
    /// transient (back off), permanent (give up), unknown (it may have arrived; the receiver
    /// has the idempotency key, so it is sent again).
    fn notify(&self, notice: &Notice) -> impl Future<Output = Result<(), PostError>> + Send;

    /// Posts `notice` (an incident opened) to `notice.url`, with the same errors.
    fn announce(
        &self,
        notice: &crate::incidents::IncidentNotice,
    ) -> impl Future<Output = Result<(), PostError>> + Send;

    /// POSTs `event` to a webhook subscription's `url`, signed with each of its `secrets` (one
    /// `v1=` each), the event's id as the idempotency key.
    fn deliver(
        &self,
        url: &str,
        secrets: &[&str],
        event: &crate::domain_events::DomainEvent,
    ) -> impl Future<Output = crate::subscriptions::Posted> + Send;
}
