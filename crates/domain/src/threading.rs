//! Threading: which ticket a message belongs to.
//!
//! Rules, in order:
//! 1. A message that answers a message already on a ticket joins that ticket; a message that
//!    an already stored reply answers (the reply overtook it) joins the reply's ticket.
//! 2. Otherwise a message of a customer with an active ticket (open or pending) joins it.
//! 3. Otherwise, when the customer's last ticket was resolved less than the reopen window
//!    (default 72 h) before the message was written, the message reopens it.
//! 4. Otherwise the message opens a new ticket (a closed ticket is never reopened).
//!
//! A customer's message that joins a resolved or closed ticket (rule 1) reopens it.

use crate::customer::Customer;
use crate::message::{Direction, NormalizedMessage};
use crate::ticket::{Ticket, TicketStatus};
use chrono::{DateTime, Utc};

/// What is known around a message when it arrives.
#[derive(Debug, Clone, Default)]
pub struct Surroundings {
    /// The ticket of the message this one answers, when that message is stored.
    pub parent_ticket: Option<Ticket>,
    /// The ticket of a stored reply to this message, when the reply came first.
    pub child_ticket: Option<Ticket>,
    /// The customer who wrote it, when already known.
    pub customer: Option<Customer>,
    /// That customer's current ticket, when they have one.
    pub customer_ticket: Option<Ticket>,
}

// One lives for the placing of one message; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Join this ticket (as it was read).
    Join(Ticket),
    /// Open a new ticket.
    Open,
}

/// The knobs of threading and of who owns a new ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// How long after being resolved a ticket is reopened by the customer's next message.
    pub reopen_window: chrono::Duration,
    /// The teams a returning customer's new ticket may go to.
    pub teams: crate::ownership::Teams,
    /// The brand accounts that acknowledge new public complaints, and how.
    pub acknowledgements: crate::acknowledgement::Acknowledgements,
    /// The service levels and follow-ups of each brand account (read from the store).
    pub policies: crate::sla::Policies,
    /// How each brand account triages new complaints (the defaults for one not named).
    pub triage: std::collections::BTreeMap<String, crate::triage::TriageRules>,
    /// The brand accounts whose praise and noise open tickets that need an answer like any
    /// complaint (by default they are stored, closed).
    pub answer_everything: std::collections::BTreeSet<String>,
    /// The brand accounts whose customers are merged on their own when two write from the same
    /// verified e-mail address (see [`crate::contacts`]).
    pub link_same_email: std::collections::BTreeSet<String>,
    /// The brand's own mailboxes: an address of one a customer writes ("I wrote to
    /// support@...") is no contact of theirs.
    pub mailboxes: std::collections::BTreeSet<String>,
    /// How each brand account detects spikes of complaints.
    pub spikes: crate::incidents::Spikes,
    /// The active incidents (read from the store) that new complaints join.
    pub incidents: Vec<crate::incidents::ActiveIncident>,
    /// How fast incident updates may post for each brand account (the platform's default for
    /// one not named).
    pub paces: crate::updates::Paces,
}

impl Rules {
    pub fn triage_of(&self, account: &str) -> &crate::triage::TriageRules {
        static DEFAULT: std::sync::LazyLock<crate::triage::TriageRules> =
            std::sync::LazyLock::new(Default::default);
        self.triage.get(account).unwrap_or(&DEFAULT)
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            reopen_window: chrono::Duration::hours(72),
            teams: crate::ownership::Teams::default(),
            acknowledgements: Default::default(),
            policies: Default::default(),
            triage: Default::default(),
            answer_everything: Default::default(),
            link_same_email: Default::default(),
            mailboxes: Default::default(),
            spikes: Default::default(),
            incidents: Vec::new(),
            paces: Default::default(),
        }
    }
}

pub fn place(around: &Surroundings, written_at: DateTime<Utc>, rules: &Rules) -> Placement {
    if let Some(related) = around
        .parent_ticket
        .as_ref()
        .or(around.child_ticket.as_ref())
    {
        return Placement::Join(related.clone());
    }
    match &around.customer_ticket {
        Some(ticket) if ticket.status.is_active() => Placement::Join(ticket.clone()),
        Some(ticket)
            if ticket.status == TicketStatus::Resolved
                && ticket
                    .resolved_at
                    .is_some_and(|resolved| written_at - resolved < rules.reopen_window) =>
        {
            Placement::Join(ticket.clone())
        }
        _ => Placement::Open,
    }
}

/// The status a ticket has after a message joins it.
pub fn status_after(ticket: &Ticket, message: &NormalizedMessage) -> TicketStatus {
    match message.direction {
        Direction::Inbound if !ticket.status.is_active() => TicketStatus::Open,
        Direction::Inbound if ticket.status == TicketStatus::PendingCustomer => TicketStatus::Open,
        _ => ticket.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, TicketId};
    use crate::message::{Author, Channel, Source};
    use chrono::{TimeZone, Utc};

    fn ticket(status: TicketStatus) -> Ticket {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        Ticket {
            id: TicketId::derive(at, status.as_str()),
            account: "acme".into(),
            source: Source::Integration,
            customer_id: CustomerId::derive(at, "c"),
            status,
            subject: "help".into(),
            created_at: at,
            last_message_at: at,
            message_count: 1,
            resolved_at: None,
            priority: Default::default(),
            timers: Default::default(),
            satisfaction: None,
            triage: None,
            topics: Vec::new(),
            incident_id: None,
            erased_at: None,
            opened_by_brand: false,
            first_response_at: None,
            acknowledged_at: None,
            owner: None,
            team: None,
            version: 1,
        }
    }

    fn message(direction: Direction) -> NormalizedMessage {
        NormalizedMessage {
            source: Source::Integration,
            account: "acme".into(),
            channel: Channel::Private,
            direction,
            external_id: "m2".into(),
            in_reply_to: None,
            thread_id: None,
            conversation_id: None,
            recipient_id: None,
            author: Author {
                id: "c".into(),
                name: None,
                handle: None,
                email: None,
                followers: None,
                verified_email: false,
            },
            text: "still broken".into(),
            attachments: vec![],
            created_at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap(),
            callback_url: None,
            found_by: None,
            subject: None,
            quoted: None,
            html: None,
        }
    }

    #[test]
    fn a_reply_joins_its_parents_ticket_before_anything_else() {
        let parent = ticket(TicketStatus::Resolved);
        let around = Surroundings {
            parent_ticket: Some(parent.clone()),
            child_ticket: None,
            customer: None,
            customer_ticket: Some(ticket(TicketStatus::Open)),
        };
        assert_eq!(
            place(&around, now(), &Rules::default()),
            Placement::Join(parent)
        );
    }

    #[test]
    fn a_message_joins_the_ticket_of_a_reply_that_overtook_it() {
        let child = ticket(TicketStatus::Open);
        let around = Surroundings {
            child_ticket: Some(child.clone()),
            customer_ticket: Some(ticket(TicketStatus::PendingInternal)),
            ..Surroundings::default()
        };
        assert_eq!(
            place(&around, now(), &Rules::default()),
            Placement::Join(child)
        );
    }

    #[test]
    fn a_customer_with_an_active_ticket_joins_it() {
        for status in [
            TicketStatus::Open,
            TicketStatus::PendingCustomer,
            TicketStatus::PendingInternal,
        ] {
            let current = ticket(status);
            let around = Surroundings {
                customer_ticket: Some(current.clone()),
                ..Surroundings::default()
            };
            assert_eq!(
                place(&around, now(), &Rules::default()),
                Placement::Join(current),
                "{status}"
            );
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
    }

    fn resolved(hours_ago: i64) -> Ticket {
        Ticket {
            resolved_at: Some(now() - chrono::Duration::hours(hours_ago)),
            ..ticket(TicketStatus::Resolved)
        }
    }

    #[test]
    fn a_recently_resolved_ticket_is_reopened_and_an_old_one_is_not() {
        let rules = Rules::default();
        let around = |ticket: Ticket| Surroundings {
            customer_ticket: Some(ticket),
            ..Surroundings::default()
        };
        let recent = resolved(71);
        assert_eq!(
            place(&around(recent.clone()), now(), &rules),
            Placement::Join(recent)
        );
        assert_eq!(place(&around(resolved(72)), now(), &rules), Placement::Open);
        let short = Rules {
            reopen_window: chrono::Duration::hours(1),
            ..Rules::default()
        };
        assert_eq!(place(&around(resolved(2)), now(), &short), Placement::Open);
    }

    #[test]
    fn a_closed_ticket_is_never_reopened_by_threading() {
        let around = Surroundings {
            customer_ticket: Some(ticket(TicketStatus::Closed)),
            ..Surroundings::default()
        };
        assert_eq!(place(&around, now(), &Rules::default()), Placement::Open);
        assert_eq!(
            place(&Surroundings::default(), now(), &Rules::default()),
            Placement::Open
        );
    }

    #[test]
    fn a_customer_message_reopens_and_wakes_the_ticket() {
        let inbound = message(Direction::Inbound);
        assert_eq!(
            status_after(&ticket(TicketStatus::Resolved), &inbound),
            TicketStatus::Open
        );
        assert_eq!(
            status_after(&ticket(TicketStatus::Closed), &inbound),
            TicketStatus::Open
        );
        assert_eq!(
            status_after(&ticket(TicketStatus::PendingCustomer), &inbound),
            TicketStatus::Open
        );
        assert_eq!(
            status_after(&ticket(TicketStatus::PendingInternal), &inbound),
            TicketStatus::PendingInternal
        );
    }

    #[test]
    fn a_brand_message_leaves_the_status_alone() {
        let outbound = message(Direction::Outbound);
        for status in TicketStatus::ALL {
            assert_eq!(status_after(&ticket(status), &outbound), status);
        }
    }
}
