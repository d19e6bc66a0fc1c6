//! The agents' inbox: which tickets a view shows and in what order. Active views put the
//! ticket whose service-level deadline comes first (or passed longest ago) at the top; the
//! resolved view shows the newest first, as the ticket lists do.

use crate::message::Source;
use crate::ticket::{Priority, Ticket, TicketStatus};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxView {
    /// The caller's tickets that are still active (open or pending).
    Mine,
    /// Open tickets nobody owns.
    Unassigned,
    /// Every open ticket.
    Open,
    /// Waiting on the customer or on the brand's side.
    Pending,
    /// Resolved and closed, newest first.
    Resolved,
}

impl InboxView {
    pub const ALL: [InboxView; 5] = [
        InboxView::Mine,
        InboxView::Unassigned,
        InboxView::Open,
        InboxView::Pending,
        InboxView::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxView::Mine => "mine",
            InboxView::Unassigned => "unassigned",
            InboxView::Open => "open",
            InboxView::Pending => "pending",
            InboxView::Resolved => "resolved",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            InboxView::Mine => "Mine",
            InboxView::Unassigned => "Unassigned",
            InboxView::Open => "All open",
            InboxView::Pending => "Pending",
            InboxView::Resolved => "Resolved",
        }
    }

    /// The statuses the view shows.
    pub fn statuses(self) -> &'static [TicketStatus] {
        use TicketStatus::*;
        match self {
            InboxView::Mine => &[Open, PendingCustomer, PendingInternal],
            InboxView::Unassigned | InboxView::Open => &[Open],
            InboxView::Pending => &[PendingCustomer, PendingInternal],
            InboxView::Resolved => &[Resolved, Closed],
        }
    }
}

impl fmt::Display for InboxView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown view {0:?}; expected one of mine, unassigned, open, pending, resolved")]
pub struct UnknownView(pub String);

impl FromStr for InboxView {
    type Err = UnknownView;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InboxView::ALL
            .into_iter()
            .find(|view| view.as_str() == s)
            .ok_or_else(|| UnknownView(s.to_string()))
    }
}

/// One view of the inbox, narrowed by the filters that are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    pub view: InboxView,
    /// Whose "mine" it is (the signed-in agent's name).
    pub agent: String,
    pub account: Option<String>,
    pub source: Option<Source>,
    pub priority: Option<Priority>,
    pub team: Option<String>,
    pub limit: u32,
}

impl InboxQuery {
    pub const DEFAULT_LIMIT: u32 = 100;

    pub fn new(view: InboxView, agent: &str) -> Self {
        Self {
            view,
            agent: agent.to_string(),
            account: None,
            source: None,
            priority: None,
            team: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Whether the view, with its filters, shows `ticket`.
    pub fn admits(&self, ticket: &Ticket) -> bool {
        let owner_fits = match self.view {
            InboxView::Mine => ticket.owner.as_deref() == Some(self.agent.as_str()),
            InboxView::Unassigned => ticket.owner.is_none(),
            _ => true,
        };
        owner_fits
            && self.view.statuses().contains(&ticket.status)
            && self.account.as_ref().is_none_or(|a| *a == ticket.account)
            && self.source.is_none_or(|s| s == ticket.source)
            && self.priority.is_none_or(|p| p == ticket.priority)
            && self
                .team
                .as_ref()
                .is_none_or(|t| Some(t) == ticket.team.as_ref())
    }

    /// The inbox's order of two tickets of this view.
    pub fn order(&self, a: &Ticket, b: &Ticket) -> Ordering {
        match self.view {
            InboxView::Resolved => b
                .created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.as_str().cmp(a.id.as_str())),
            _ => by_deadline(a, b),
        }
    }

    /// The first [`Self::limit`] of `tickets` this view shows, in its order.
    pub fn select(&self, tickets: impl IntoIterator<Item = Ticket>) -> Vec<Ticket> {
        let mut shown: Vec<Ticket> = tickets.into_iter().filter(|t| self.admits(t)).collect();
        shown.sort_by(|a, b| self.order(a, b));
        shown.truncate(self.limit as usize);
        shown
    }
}

/// The service-level deadline the inbox sorts by: the earliest of the response and resolution
/// deadlines, passed or not (one that passed is the most urgent of all).
pub fn deadline(ticket: &Ticket) -> Option<DateTime<Utc>> {
    [ticket.timers.response, ticket.timers.resolution]
        .into_iter()
        .flatten()
        .map(|d| d.due_at)
        .min()
}

/// Nearest deadline first; tickets without one after them, the longest waiting first.
fn by_deadline(a: &Ticket, b: &Ticket) -> Ordering {
    match (deadline(a), deadline(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.created_at.cmp(&b.created_at))
    .then_with(|| a.id.as_str().cmp(b.id.as_str()))
}
