//! TicketReads and TicketCommands, and the newest-first ticket pages (also used by the
//! customer and incident ports).

use super::customers::get_customer;
use super::items::{all, insert_event, insert_message, one, update_ticket};
use super::metrics::add_samples;
use super::{SqliteStore, transaction};
use rusqlite::{Connection, params};
use socialcare_domain::inbox::{InboxQuery, InboxView};
use socialcare_domain::ports::{
    CommitError, StoreError, TicketCommands, TicketLists, TicketReads, TicketUpdate,
};
use socialcare_domain::{
    Cursor, Message, Page, Ticket, TicketDetail, TicketEvent, TicketId, TicketQuery,
};

pub(super) fn get_ticket(conn: &Connection, id: &str) -> rusqlite::Result<Option<Ticket>> {
    one(conn, "SELECT data FROM tickets WHERE id = ?1", [id])
}

/// The sort key a newest-first page starts below.
pub(super) fn before_cursor(query: &TicketQuery) -> String {
    // The sort keys are ASCII and start with a year; "~" sorts after every one of them.
    query
        .after
        .as_ref()
        .map(Cursor::sort_key)
        .unwrap_or_else(|| "~".to_string())
}

impl TicketCommands for SqliteStore {
    async fn change_ticket(
        &self,
        ticket: &Ticket,
        version_before: u64,
        event: &TicketEvent,
    ) -> Result<(), CommitError> {
        let (ticket, event) = (ticket.clone(), event.clone());
        transaction(&self.db, move |tx| {
            if !update_ticket(tx, &ticket, version_before)? {
                return Ok(Err(CommitError::Conflict));
            }
            if insert_event(tx, &event)? == 0 {
                return Ok(Err(CommitError::Duplicate));
            }
            Ok(Ok(()))
        })
        .await
    }

    async fn update_ticket(&self, update: &TicketUpdate) -> Result<(), CommitError> {
        let update = update.clone();
        transaction(&self.db, move |tx| {
            for reply in &update.replies {
                if !insert_message(tx, reply)? {
                    return Ok(Err(CommitError::Duplicate));
                }
            }
            if !update_ticket(tx, &update.ticket, update.version_before)? {
                return Ok(Err(CommitError::Conflict));
            }
            for event in &update.events {
                if insert_event(tx, event)? == 0 {
                    return Ok(Err(CommitError::Conflict));
                }
            }
            add_samples(tx, &update.samples)?;
            Ok(Ok(()))
        })
        .await
    }

    async fn add_event(&self, event: &TicketEvent) -> Result<(), CommitError> {
        let event = event.clone();
        let written = self.read(move |conn| insert_event(conn, &event)).await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }
}

impl TicketReads for SqliteStore {
    async fn ticket_detail(&self, id: &TicketId) -> Result<Option<TicketDetail>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| {
            let Some(ticket) = get_ticket(conn, &id)? else {
                return Ok(None);
            };
            let customer = get_customer(conn, ticket.customer_id.as_str())?;
            let messages = all(
                conn,
                "SELECT data FROM messages WHERE ticket_id = ?1 ORDER BY sort_key",
                [&id],
            )?;
            Ok(Some(TicketDetail {
                ticket,
                customer,
                messages,
            }))
        })
        .await
    }

    async fn ticket_messages(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let (id, after) = (id.to_string(), after.unwrap_or("").to_string());
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM messages WHERE ticket_id = ?1 AND sort_key > ?2
                 ORDER BY sort_key LIMIT ?3",
                params![id, after, limit],
            )
        })
        .await
    }

    async fn ticket_events_page(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TicketEvent>, StoreError> {
        let (id, after) = (id.to_string(), after.unwrap_or("").to_string());
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM ticket_events WHERE ticket_id = ?1 AND sort_key > ?2
                 ORDER BY sort_key LIMIT ?3",
                params![id, after, limit],
            )
        })
        .await
    }

    async fn ticket_events(&self, id: &TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM ticket_events WHERE ticket_id = ?1 ORDER BY sort_key",
                [id],
            )
        })
        .await
    }
}

impl TicketLists for SqliteStore {
    async fn list_tickets(&self, query: &TicketQuery) -> Result<Page<Ticket>, StoreError> {
        let status = query.status.map(|s| s.as_str().to_string());
        let owner = query.owner.clone();
        let before = before_cursor(query);
        let fetch = query.fetch_size();
        let tickets = self
            .query(move |conn| {
                // One statement per access path, so that each walks its own index.
                match (owner, status) {
                    (Some(owner), status) => all(
                        conn,
                        "SELECT data FROM tickets
                         WHERE json_extract(data, '$.owner') = ?1 AND sort_key < ?2
                           AND (?3 IS NULL OR status = ?3)
                         ORDER BY sort_key DESC LIMIT ?4",
                        params![owner, before, status, fetch],
                    ),
                    (None, Some(status)) => all(
                        conn,
                        "SELECT data FROM tickets WHERE status = ?1 AND sort_key < ?2
                         ORDER BY sort_key DESC LIMIT ?3",
                        params![status, before, fetch],
                    ),
                    (None, None) => all(
                        conn,
                        "SELECT data FROM tickets WHERE sort_key < ?1
                         ORDER BY sort_key DESC LIMIT ?2",
                        params![before, fetch],
                    ),
                }
            })
            .await?;
        Ok(query.page(tickets))
    }

    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<Ticket>, StoreError> {
        let statuses: Vec<&str> = query.view.statuses().iter().map(|s| s.as_str()).collect();
        let statuses =
            serde_json::to_string(&statuses).map_err(|e| StoreError::invalid(e.to_string()))?;
        let owner = (query.view == InboxView::Mine).then(|| query.agent.clone());
        let unowned = query.view == InboxView::Unassigned;
        let account = query.account.clone();
        let source = query.source.map(|s| s.as_str());
        let priority = query.priority.map(|p| p.as_str());
        let team = query.team.clone();
        let limit = query.limit;
        let order = match query.view {
            InboxView::Resolved => "sort_key DESC".to_string(),
            _ => format!("{DEADLINE} IS NULL, {DEADLINE}, sort_key"),
        };
        // The owner as a plain condition when it is one, so that "mine" walks the owner index.
        let by_owner = match query.view {
            InboxView::Mine => "AND json_extract(data, '$.owner') = ?2",
            _ => "AND ?2 IS NULL",
        };
        let sql = format!(
            "SELECT data FROM tickets
             WHERE status IN (SELECT value FROM json_each(?1))
               {by_owner}
               AND (?3 = 0 OR json_extract(data, '$.owner') IS NULL)
               AND (?4 IS NULL OR json_extract(data, '$.account') = ?4)
               AND (?5 IS NULL OR json_extract(data, '$.source') = ?5)
               AND (?6 IS NULL OR json_extract(data, '$.priority') = ?6)
               AND (?7 IS NULL OR json_extract(data, '$.team') = ?7)
             ORDER BY {order} LIMIT ?8"
        );
        let tickets = self
            .query(move |conn| {
                all(
                    conn,
                    &sql,
                    params![
                        statuses, owner, unowned, account, source, priority, team, limit
                    ],
                )
            })
            .await?;
        // SQLite compares the deadlines as text; the domain's order settles ties within a second.
        Ok(query.select(tickets))
    }
}

/// The inbox's deadline of a ticket row (as [`socialcare_domain::inbox::deadline`]): the
/// earlier of the two, or the one that is set. Written as in the `tickets_by_deadline` index,
/// so that the index serves the order.
pub(crate) const DEADLINE: &str = "coalesce(min(json_extract(data, '$.timers.response.due_at'), json_extract(data, '$.timers.resolution.due_at')), json_extract(data, '$.timers.response.due_at'), json_extract(data, '$.timers.resolution.due_at'))";
