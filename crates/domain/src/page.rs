//! Pages of results and the opaque cursors that continue them.

use crate::ids::TicketId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};

/// A position in a newest-first list of tickets: (created_at, id) of the last item seen.
/// Clients get it as an opaque string and hand it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: TicketId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this API handed out")]
pub struct BadCursor;

impl Cursor {
    pub fn new(created_at: DateTime<Utc>, id: TicketId) -> Self {
        Self { created_at, id }
    }

    /// The sort key both stores order tickets by: time, then id, as one sortable string.
    pub fn sort_key(&self) -> String {
        format!("{}#{}", sortable_time(self.created_at), self.id)
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sort_key())
    }

    pub fn decode(raw: &str) -> Result<Self, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (time, id) = text.split_once('#').ok_or(BadCursor)?;
        let created_at = DateTime::parse_from_rfc3339(time)
            .map_err(|_| BadCursor)?
            .with_timezone(&Utc);
        let id = TicketId::parse(id).ok_or(BadCursor)?;
        Ok(Self { created_at, id })
    }
}

/// RFC 3339 in UTC with milliseconds: strings of this form sort as the times do.
pub fn sortable_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cursor_round_trips() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let cursor = Cursor::new(at, TicketId::derive(at, "k"));
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn foreign_cursors_are_refused() {
        assert_eq!(Cursor::decode("%%%"), Err(BadCursor));
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("no-hash")),
            Err(BadCursor)
        );
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00.000Z#tkt_bad")),
            Err(BadCursor)
        );
    }

    #[test]
    fn sortable_time_sorts_like_time() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 9, 59, 59).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        assert!(sortable_time(a) < sortable_time(b));
        assert_eq!(sortable_time(b), "2026-01-01T10:00:00.000Z");
    }
}
