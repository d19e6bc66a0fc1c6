//! How times, deadlines and people read on the pages.

use chrono::{DateTime, Duration, Utc};
use socialcare_domain::{Customer, Ticket, inbox};

/// A service-level badge: "due in 12 min", "breached 3 h ago".
pub struct SlaBadge {
    /// `due`, `soon` (within 30 minutes) or `breached`: the badge's colour.
    pub class: &'static str,
    pub text: String,
    /// The deadline itself.
    pub title: String,
}

/// The badge of an active ticket's nearest deadline; none when it has none or is done.
pub fn sla_badge(ticket: &Ticket, now: DateTime<Utc>) -> Option<SlaBadge> {
    if !ticket.status.is_active() {
        return None;
    }
    let due = inbox::deadline(ticket)?;
    let title = format!("deadline {}", when(due));
    Some(if due <= now {
        SlaBadge {
            class: "breached",
            text: format!("breached {} ago", span(now - due)),
            title,
        }
    } else {
        SlaBadge {
            class: if due - now <= Duration::minutes(30) {
                "soon"
            } else {
                "due"
            },
            text: format!("due in {}", span(due - now)),
            title,
        }
    })
}

/// A duration as people say it: "under 1 min", "12 min", "3 h", "2 d".
pub fn span(d: Duration) -> String {
    let minutes = d.num_minutes();
    match minutes {
        m if m < 1 => "under 1 min".into(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / (24 * 60)),
    }
}

/// A time on the page (UTC, to the minute).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The customer as the inbox names them: their name, else their handle, else "customer".
pub fn customer_name(customer: Option<&Customer>) -> String {
    customer
        .and_then(|c| {
            c.name.clone().or_else(|| {
                c.identities
                    .iter()
                    .find_map(|i| i.handle.as_ref().map(|h| format!("@{h}")))
            })
        })
        .unwrap_or_else(|| "customer".into())
}

/// A file's size as people read it: `812 B`, `14.2 KB`, `3.1 MB`.
pub fn file_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::seconds(30)), "under 1 min");
        assert_eq!(span(Duration::minutes(12)), "12 min");
        assert_eq!(span(Duration::minutes(200)), "3 h");
        assert_eq!(span(Duration::hours(50)), "2 d");
    }
}
