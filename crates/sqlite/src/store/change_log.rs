//! The change log (see `database.rs`): the embedded store's stream, read as the events
//! integrators hear, in order, by one reader at a time (the local runner's).

use super::SqliteStore;
use super::items::from_json;
use rusqlite::{OptionalExtension, params};
use socialcare_domain::domain_events::DomainEvent;
use socialcare_domain::incidents::Incident;
use socialcare_domain::ports::{IngestStore, StoreError};
use socialcare_domain::update::IncidentUpdate;
use socialcare_domain::{Erasure, Merge, Message, TicketEvent};

/// The name the local runner reads the log under.
const READER: &str = "events";

enum Change {
    Trail(TicketEvent),
    Whole(Vec<DomainEvent>),
}

fn change(kind: &str, data: String) -> rusqlite::Result<Option<Change>> {
    Ok(Some(match kind {
        "trail" => Change::Trail(from_json(data)?),
        "reply" => Change::Whole(
            DomainEvent::of_reply(&from_json::<Message>(data)?)
                .into_iter()
                .collect(),
        ),
        "incident_opened" => Change::Whole(DomainEvent::of_incident(
            &from_json::<Incident>(data)?,
            true,
        )),
        "incident_resolved" => Change::Whole(DomainEvent::of_incident(
            &from_json::<Incident>(data)?,
            false,
        )),
        "update" => Change::Whole(vec![DomainEvent::of_incident_update(&from_json::<
            IncidentUpdate,
        >(data)?)]),
        "merge" => Change::Whole(
            DomainEvent::of_merge(&from_json::<Merge>(data)?)
                .into_iter()
                .collect(),
        ),
        "erasure" => Change::Whole(
            DomainEvent::of_erasure(&from_json::<Erasure>(data)?)
                .into_iter()
                .collect(),
        ),
        _ => return Ok(None),
    }))
}

impl SqliteStore {
    /// The events of the next `limit` changes after the last read, and the place to mark read
    /// once they are handled (`None`: nothing new).
    pub async fn unread_events(
        &self,
        limit: u32,
    ) -> Result<(Vec<DomainEvent>, Option<i64>), StoreError> {
        let rows: Vec<(i64, String, String)> = self
            .query(move |conn| {
                let after: i64 = conn
                    .query_row(
                        "SELECT seq FROM change_log_read WHERE reader = ?1",
                        [READER],
                        |row| row.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                let mut statement = conn.prepare(
                    "SELECT seq, kind, data FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = statement
                    .query_map(params![after, limit], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?;
        let last = rows.last().map(|(seq, _, _)| *seq);
        let mut events = Vec::new();
        for (seq, kind, data) in rows {
            // A change that does not read is left out, loudly (as on DynamoDB's stream).
            let told = match change(&kind, data) {
                Ok(told) => told,
                Err(error) => {
                    tracing::error!(seq, kind, %error, "a change does not read as events; left out");
                    continue;
                }
            };
            match told {
                Some(Change::Whole(told)) => events.extend(told),
                Some(Change::Trail(event)) => {
                    if let Some(ticket) = self.get_ticket(&event.ticket_id).await? {
                        events.extend(DomainEvent::of_trail(&event, &ticket));
                    }
                }
                None => {}
            }
        }
        Ok((events, last))
    }

    /// Marks the log read up to `seq` and forgets what is read.
    pub async fn mark_events_read(&self, seq: i64) -> Result<(), StoreError> {
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO change_log_read (reader, seq) VALUES (?1, ?2)
                 ON CONFLICT (reader) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![READER, seq],
            )?;
            conn.execute("DELETE FROM change_log WHERE seq <= ?1", [seq])
                .map(drop)
        })
        .await
    }
}
