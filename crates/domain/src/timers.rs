//! What is due on a ticket and when: its service-level deadlines (first or next response,
//! resolution) and its follow-ups (still on it, auto-close, satisfaction survey).
//!
//! The timers live on the ticket and move with what happens to it: a customer message starts
//! the response clock, a human answer stops it, resolving stops everything and schedules the
//! survey. [`Timers::next`] is the one reminder that comes due next; stores keep it in a due
//! index and the scheduler hands it to the reminders queue shortly before it is due. A reminder
//! acts only while it is still the ticket's next one, so whatever the ticket did since (an
//! answer, a resolve) cancels it, and a second delivery finds it already done.

use crate::ids::TicketId;
use crate::sla::Measure;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A service-level deadline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub measure: Measure,
    pub due_at: DateTime<Utc>,
    /// When the owner is warned.
    pub warn_at: DateTime<Utc>,
    #[serde(default)]
    pub warned: bool,
    /// It passed: recorded as an event and escalated.
    #[serde(default)]
    pub breached: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// The brand's next answer (first or next response).
    #[serde(default)]
    pub response: Option<Deadline>,
    #[serde(default)]
    pub resolution: Option<Deadline>,
    /// `pending_internal`: when the customer hears the brand is still on it.
    #[serde(default)]
    pub followup_at: Option<DateTime<Utc>>,
    /// `pending_customer`: when the ticket closes.
    #[serde(default)]
    pub auto_close_at: Option<DateTime<Utc>>,
    /// Resolved: when the satisfaction survey goes out.
    #[serde(default)]
    pub survey_at: Option<DateTime<Utc>>,
    /// The survey went out (once per ticket).
    #[serde(default)]
    pub surveyed: bool,
}

/// What a reminder does when it comes due.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReminderKind {
    SlaWarning { measure: Measure },
    SlaBreach { measure: Measure },
    CustomerFollowup,
    Satisfaction,
    AutoClose,
}

impl ReminderKind {
    /// A short stable name, for keys and logs.
    pub fn key(self) -> String {
        match self {
            ReminderKind::SlaWarning { measure } => format!("sla_warning:{}", measure.as_str()),
            ReminderKind::SlaBreach { measure } => format!("sla_breach:{}", measure.as_str()),
            ReminderKind::CustomerFollowup => "customer_followup".into(),
            ReminderKind::Satisfaction => "satisfaction".into(),
            ReminderKind::AutoClose => "auto_close".into(),
        }
    }
}

/// One thing due on one ticket at one instant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub ticket_id: TicketId,
    pub due_at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: ReminderKind,
}

impl Reminder {
    /// Stable for this reminder: keys of what it writes, so a second run writes nothing new.
    pub fn key(&self) -> String {
        format!(
            "reminder:{}:{}",
            self.kind.key(),
            self.due_at.timestamp_millis()
        )
    }
}

impl Timers {
    /// The reminder that comes due first (in order of listing when two are due together).
    pub fn next(&self, ticket_id: &TicketId) -> Option<Reminder> {
        let deadline = |d: &Option<Deadline>| -> Option<(DateTime<Utc>, ReminderKind)> {
            let d = d.as_ref()?;
            match (d.warned, d.breached) {
                (false, _) if d.warn_at < d.due_at => {
                    Some((d.warn_at, ReminderKind::SlaWarning { measure: d.measure }))
                }
                (_, false) => Some((d.due_at, ReminderKind::SlaBreach { measure: d.measure })),
                _ => None,
            }
        };
        [
            deadline(&self.response),
            deadline(&self.resolution),
            self.followup_at
                .map(|at| (at, ReminderKind::CustomerFollowup)),
            self.auto_close_at.map(|at| (at, ReminderKind::AutoClose)),
            self.survey_at.map(|at| (at, ReminderKind::Satisfaction)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
        .map(|(due_at, kind)| Reminder {
            ticket_id: ticket_id.clone(),
            due_at,
            kind,
        })
    }

    /// The earliest service-level deadline not yet passed: what the ticket shows as due.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        [self.response, self.resolution]
            .into_iter()
            .flatten()
            .filter(|d| !d.breached)
            .map(|d| d.due_at)
            .min()
    }
}
