//! How a ticket's timers ([`crate::timers::Timers`]) move with what happens to it: a customer
//! message starts the response clock, a human answer stops it, resolving stops everything and
//! schedules the survey.

use crate::sla::{Followups, Measure, Policy, minutes};
use crate::ticket::{Ticket, TicketStatus};
use crate::timers::Deadline;
use chrono::{DateTime, Utc};

/// What happened to a ticket, for its timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    /// The customer opened it.
    Opened,
    /// The customer wrote again on it.
    CustomerWrote,
    /// A person of the brand answered (not an automatic message).
    Answered,
    /// Its status changed.
    Status {
        from: TicketStatus,
        to: TicketStatus,
    },
}
/// The ticket's timers after `happened` at `at` under the account's `policy` (none: no
/// service levels, no follow-ups).
pub fn retime(ticket: &mut Ticket, happened: Happened, at: DateTime<Utc>, policy: Option<&Policy>) {
    // What stops runs with or without a policy; what starts needs one.
    let deadline = |measure: Measure, priority: &str| {
        policy?.due(priority, measure, at).map(|due| Deadline {
            measure,
            due_at: due.at,
            warn_at: due.warn_at,
            warned: false,
            breached: false,
        })
    };
    let priority = ticket.priority.as_str();
    let timers = &mut ticket.timers;
    match happened {
        Happened::Opened => {
            timers.response = deadline(Measure::FirstResponse, priority);
            timers.resolution = deadline(Measure::Resolution, priority);
        }
        Happened::CustomerWrote => {
            if timers.response.is_none() && ticket.status.is_active() {
                let measure = match ticket.first_response_at {
                    Some(_) => Measure::NextResponse,
                    None => Measure::FirstResponse,
                };
                timers.response = deadline(measure, priority);
            }
        }
        Happened::Answered => timers.response = None,
        Happened::Status { from, to } => {
            match from {
                TicketStatus::PendingInternal => timers.followup_at = None,
                TicketStatus::PendingCustomer => timers.auto_close_at = None,
                TicketStatus::Resolved => timers.survey_at = None,
                _ => {}
            }
            let after = |delay: fn(&Followups) -> Option<u32>| {
                minutes(delay(&policy?.followups)).map(|d| at + d)
            };
            match to {
                TicketStatus::Resolved | TicketStatus::Closed => {
                    timers.response = None;
                    timers.resolution = None;
                    timers.followup_at = None;
                    timers.auto_close_at = None;
                    if to == TicketStatus::Resolved && !timers.surveyed {
                        timers.survey_at = after(|f| f.survey_after_minutes);
                    }
                }
                TicketStatus::PendingInternal => {
                    timers.followup_at = after(|f| f.still_on_it_after_minutes);
                }
                // The brand asked the customer something: its answer is given.
                TicketStatus::PendingCustomer => {
                    timers.response = None;
                    timers.auto_close_at = after(|f| f.auto_close_after_minutes);
                }
                TicketStatus::Open => {
                    if timers.resolution.is_none() {
                        timers.resolution = deadline(Measure::Resolution, priority);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, TicketId};
    use crate::message::Source;
    use crate::sla::{Calendar, Day, Hours, Targets};
    use crate::ticket::Priority;
    use crate::timers::{Deadline, Reminder, ReminderKind, Timers};
    use chrono::{NaiveTime, TimeZone};
    use std::collections::{BTreeMap, BTreeSet};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
    }

    fn policy() -> Policy {
        let targets = |first, next, resolution| Targets {
            first_response_minutes: first,
            next_response_minutes: next,
            resolution_minutes: resolution,
        };
        Policy {
            targets: BTreeMap::from([
                ("normal".to_string(), targets(60, 30, 480)),
                ("high".to_string(), targets(15, 10, 120)),
            ]),
            calendar: None,
            warn_at_percent: 80,
            escalation_url: None,
            followups: Followups::default(),
        }
    }

    fn ticket() -> Ticket {
        Ticket {
            id: TicketId::derive(at(9, 0), "t"),
            account: "brand".into(),
            source: Source::X,
            customer_id: CustomerId::derive(at(9, 0), "c"),
            status: TicketStatus::Open,
            subject: "my router".into(),
            created_at: at(9, 0),
            last_message_at: at(9, 0),
            message_count: 1,
            owner: None,
            team: None,
            first_response_at: None,
            acknowledged_at: None,
            resolved_at: None,
            priority: Priority::Normal,
            timers: Timers::default(),
            satisfaction: None,
            triage: None,
            topics: Vec::new(),
            incident_id: None,
            erased_at: None,
            opened_by_brand: false,
            version: 1,
        }
    }

    fn deadline(measure: Measure, warn_at: DateTime<Utc>, due_at: DateTime<Utc>) -> Deadline {
        Deadline {
            measure,
            due_at,
            warn_at,
            warned: false,
            breached: false,
        }
    }

    #[test]
    fn an_opened_ticket_is_due_a_first_response_and_a_resolution() {
        let mut t = ticket();
        retime(&mut t, Happened::Opened, at(9, 0), Some(&policy()));
        assert_eq!(
            t.timers.response,
            Some(deadline(Measure::FirstResponse, at(9, 48), at(10, 0)))
        );
        assert_eq!(
            t.timers.resolution,
            Some(deadline(Measure::Resolution, at(15, 24), at(17, 0)))
        );
        assert_eq!(t.timers.due_at(), Some(at(10, 0)));
        let next = t.timers.next(&t.id).unwrap();
        assert_eq!(next.due_at, at(9, 48));
        assert_eq!(
            next.kind,
            ReminderKind::SlaWarning {
                measure: Measure::FirstResponse
            }
        );
    }

    #[test]
    fn a_warned_deadline_comes_due_as_a_breach_then_nothing() {
        let mut timers = Timers {
            response: Some(deadline(Measure::FirstResponse, at(9, 48), at(10, 0))),
            ..Timers::default()
        };
        let id = ticket().id;
        timers.response.as_mut().unwrap().warned = true;
        let next = timers.next(&id).unwrap();
        assert_eq!(
            (next.due_at, next.kind.key()),
            (at(10, 0), "sla_breach:first_response".to_string())
        );
        timers.response.as_mut().unwrap().breached = true;
        assert_eq!(timers.next(&id), None);
        assert_eq!(timers.due_at(), None);
    }

    #[test]
    fn a_human_answer_stops_the_response_clock_and_the_next_message_restarts_it() {
        let mut t = ticket();
        let p = policy();
        retime(&mut t, Happened::Opened, at(9, 0), Some(&p));
        retime(&mut t, Happened::Answered, at(9, 20), Some(&p));
        t.first_response_at = Some(at(9, 20));
        assert_eq!(t.timers.response, None);
        assert_eq!(
            t.timers.next(&t.id).unwrap().kind.key(),
            "sla_warning:resolution"
        );
        retime(&mut t, Happened::CustomerWrote, at(11, 0), Some(&p));
        assert_eq!(
            t.timers.response,
            Some(deadline(Measure::NextResponse, at(11, 24), at(11, 30)))
        );
        // A second message while waiting does not move the deadline.
        retime(&mut t, Happened::CustomerWrote, at(11, 10), Some(&p));
        assert_eq!(t.timers.response.unwrap().due_at, at(11, 30));
    }

    #[test]
    fn the_priority_picks_the_targets() {
        let mut t = Ticket {
            priority: Priority::High,
            ..ticket()
        };
        retime(&mut t, Happened::Opened, at(9, 0), Some(&policy()));
        assert_eq!(t.timers.response.unwrap().due_at, at(9, 15));
        assert_eq!(t.timers.resolution.unwrap().due_at, at(11, 0));
    }

    #[test]
    fn statuses_schedule_the_followups() {
        let p = policy();
        let mut t = ticket();
        retime(&mut t, Happened::Opened, at(9, 0), Some(&p));
        let status = |t: &mut Ticket, to: TicketStatus, when| {
            let from = t.status;
            t.status = to;
            retime(t, Happened::Status { from, to }, when, Some(&p));
        };
        status(&mut t, TicketStatus::PendingInternal, at(9, 30));
        assert_eq!(
            t.timers.followup_at,
            Some(at(9, 30) + chrono::Duration::hours(24))
        );
        status(&mut t, TicketStatus::PendingCustomer, at(10, 0));
        assert_eq!(t.timers.followup_at, None);
        assert_eq!(t.timers.response, None);
        assert_eq!(
            t.timers.auto_close_at,
            Some(at(10, 0) + chrono::Duration::days(7))
        );
        status(&mut t, TicketStatus::Resolved, at(11, 0));
        assert_eq!(
            t.timers,
            Timers {
                survey_at: Some(at(12, 0)),
                ..Timers::default()
            }
        );
        // Reopened: the survey waits for the next resolve; resolution is due again.
        status(&mut t, TicketStatus::Open, at(11, 30));
        assert_eq!(t.timers.survey_at, None);
        assert_eq!(t.timers.resolution.unwrap().due_at, at(19, 30));
        // Surveyed once: never again.
        t.timers.surveyed = true;
        status(&mut t, TicketStatus::Resolved, at(12, 0));
        assert_eq!(t.timers.survey_at, None);
        assert_eq!(t.timers.next(&t.id), None);
    }

    #[test]
    fn without_a_policy_nothing_is_due() {
        let mut t = ticket();
        retime(&mut t, Happened::Opened, at(9, 0), None);
        assert_eq!(t.timers, Timers::default());
        assert_eq!(t.timers.next(&t.id), None);
    }

    #[test]
    fn business_hours_move_the_deadline_across_the_weekend_in_the_accounts_zone() {
        let nine_to_five = Hours {
            open: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        };
        let p = Policy {
            calendar: Some(Calendar {
                time_zone: "America/New_York".into(),
                hours: [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]
                    .into_iter()
                    .map(|day| (day, nine_to_five))
                    .collect(),
                holidays: BTreeSet::new(),
            }),
            ..policy()
        };
        // Friday 20 Nov 2026, 16:30 in New York (21:30 UTC): 30 minutes of Friday count, the
        // other 30 of the hour start Monday 09:00 New York: due Monday 09:30 (14:30 UTC).
        let friday = Utc.with_ymd_and_hms(2026, 11, 20, 21, 30, 0).unwrap();
        let mut t = Ticket {
            created_at: friday,
            ..ticket()
        };
        retime(&mut t, Happened::Opened, friday, Some(&p));
        let response = t.timers.response.unwrap();
        assert_eq!(
            response.due_at,
            Utc.with_ymd_and_hms(2026, 11, 23, 14, 30, 0).unwrap()
        );
        // 80 % = 48 minutes: 30 on Friday, 18 on Monday.
        assert_eq!(
            response.warn_at,
            Utc.with_ymd_and_hms(2026, 11, 23, 14, 18, 0).unwrap()
        );
    }

    #[test]
    fn a_reminder_reads_and_writes_as_flat_json() {
        let reminder = Reminder {
            ticket_id: ticket().id,
            due_at: at(10, 0),
            kind: ReminderKind::SlaBreach {
                measure: Measure::FirstResponse,
            },
        };
        let json = serde_json::to_value(&reminder).unwrap();
        assert_eq!(json["kind"], "sla_breach");
        assert_eq!(json["measure"], "first_response");
        for measure in [
            Measure::FirstResponse,
            Measure::NextResponse,
            Measure::Resolution,
        ] {
            assert_eq!(serde_json::to_value(measure).unwrap(), measure.as_str());
        }
        assert_eq!(json["due_at"], "2026-11-20T10:00:00Z");
        assert_eq!(serde_json::from_value::<Reminder>(json).unwrap(), reminder);
    }
}
