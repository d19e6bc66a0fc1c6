//! TicketReads and TicketCommands, and the ticket lists over the indexes (also used by the
//! customer and incident ports).

use super::items::{arrival_event, event_item, from_item, new_message, ticket_item};
use super::keys::{
    ALL_TICKETS, HIGHEST, LIST_SHARDS, LIST_SORT_KEY, MESSAGE_SK_PREFIX, TICKET_SK, events_pk,
    samples_pk, status_pk, ticket_pk,
};
use super::metrics::{REPORT_SAMPLES, samples_attribute};
use super::{DynamoStore, Item, failed, put_new, put_versioned, s};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::inbox::InboxQuery;
use socialcare_domain::ports::{
    CommitError, StoreError, TicketCommands, TicketLists, TicketReads, TicketUpdate,
};
use socialcare_domain::{Message, Page, Ticket, TicketDetail, TicketEvent, TicketId, TicketQuery};
use std::collections::HashMap;

impl TicketCommands for DynamoStore {
    async fn change_ticket(
        &self,
        ticket: &Ticket,
        version_before: u64,
        event: &TicketEvent,
    ) -> Result<(), CommitError> {
        // Either the version moved or the event is recorded: the caller reads again.
        let writes = vec![
            put_versioned(&self.table, ticket_item(ticket)?, version_before)?,
            put_new(&self.table, event_item(event)?)?,
        ];
        self.transact(writes, "change ticket").await
    }

    async fn update_ticket(&self, update: &TicketUpdate) -> Result<(), CommitError> {
        self.note_report_accounts(&update.samples).await?;
        let table = self.table.as_str();
        // The report's samples ride on the first new item of the change (for the stream to
        // add to the counters), or on an item of their own when it has none.
        let mut samples = samples_attribute(&update.samples);
        let mut writes = Vec::new();
        for reply in &update.replies {
            let dedupe_key = reply.body.dedupe_key();
            writes.extend(new_message(
                table,
                reply,
                &dedupe_key,
                None,
                samples.take(),
            )?);
        }
        writes.push(put_versioned(
            table,
            ticket_item(&update.ticket)?,
            update.version_before,
        )?);
        for event in &update.events {
            let mut item = event_item(event)?;
            if let Some(samples) = samples.take() {
                item.insert(REPORT_SAMPLES.into(), samples);
            }
            writes.push(put_new(table, item)?);
        }
        if let Some(samples) = samples {
            writes.push(put_new(table, samples_item(&update.ticket, samples))?);
        }
        self.transact(writes, "update ticket").await
    }

    async fn add_event(&self, event: &TicketEvent) -> Result<(), CommitError> {
        self.put_new_item(event_item(event)?, "add event").await
    }
}

/// The item of a change's samples when the change writes no message or event to carry them.
fn samples_item(ticket: &Ticket, samples: AttributeValue) -> Item {
    let expires = chrono::Utc::now() + chrono::Duration::days(2);
    HashMap::from([
        ("pk".to_string(), s(samples_pk(&ticket.id))),
        ("sk".to_string(), s(ticket.version.to_string())),
        (REPORT_SAMPLES.to_string(), samples),
        (
            "expires_at".to_string(),
            AttributeValue::N(expires.timestamp().to_string()),
        ),
    ])
}

impl TicketReads for DynamoStore {
    async fn ticket_messages(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let first = format!("{MESSAGE_SK_PREFIX}{}", after.unwrap_or(""));
        let last = format!("{MESSAGE_SK_PREFIX}{HIGHEST}");
        self.range_page(
            ticket_pk(id.as_str()),
            &first,
            &last,
            limit,
            "page messages",
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }

    async fn ticket_events_page(
        &self,
        id: &TicketId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TicketEvent>, StoreError> {
        let last = HIGHEST.to_string();
        // A key condition may not hold an empty string; a space sorts before every time.
        let first = after.unwrap_or(" ");
        let mut events: Vec<TicketEvent> = self
            .range_page(events_pk(id.as_str()), first, &last, limit, "page events")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        // The first `limit` of each source hold the first `limit` of both.
        events.extend(self.arrivals(id, after).await?);
        events.sort_by_cached_key(TicketEvent::sort_key);
        events.truncate(limit as usize);
        Ok(events)
    }

    async fn ticket_events(&self, id: &TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let mut events: Vec<TicketEvent> = self
            .partition(events_pk(id.as_str()), "query events")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        events.extend(self.arrivals(id, None).await?);
        events.sort_by_cached_key(TicketEvent::sort_key);
        Ok(events)
    }

    async fn ticket_detail(&self, id: &TicketId) -> Result<Option<TicketDetail>, StoreError> {
        let mut ticket: Option<Ticket> = None;
        let mut messages: Vec<Message> = Vec::new();
        for item in self
            .partition(ticket_pk(id.as_str()), "query ticket")
            .await?
        {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == TICKET_SK => ticket = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with("MSG#") => {
                    messages.push(from_item(item)?)
                }
                _ => {}
            }
        }
        let Some(ticket) = ticket else {
            return Ok(None);
        };
        let customer = self.get_customer(ticket.customer_id.as_str()).await?;
        Ok(Some(TicketDetail {
            ticket,
            customer,
            messages,
        }))
    }
}

impl TicketLists for DynamoStore {
    async fn list_tickets(&self, query: &TicketQuery) -> Result<Page<Ticket>, StoreError> {
        match (&query.owner, query.status) {
            (Some(owner), _) => {
                self.query_tickets(TicketIndex::Owner, format!("OWNER#{owner}"), query)
                    .await
            }
            (None, Some(status)) => {
                self.query_shards(TicketIndex::Status, &status_pk(status.as_str()), query)
                    .await
            }
            (None, None) => {
                self.query_shards(TicketIndex::All, ALL_TICKETS, query)
                    .await
            }
        }
    }

    /// Reads the view's status lists page by page (for "mine" too: the active lists, not the
    /// agent's whole history), at most [`INBOX_READ_LIMIT`] tickets read, and orders what the
    /// view admits as the domain does: one Query per shard and page, about one read unit per
    /// 4 KB of active tickets per refresh. Beyond the limit the oldest are not read: a
    /// deadline-ordered index is the answer at that size (see docs/console.md).
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<Ticket>, StoreError> {
        let mut admitted = Vec::new();
        let mut read = 0;
        for status in query.view.statuses() {
            let mut list = TicketQuery {
                status: Some(*status),
                ..TicketQuery::newest(TicketQuery::MAX_LIMIT)
            };
            loop {
                let page = self.list_tickets(&list).await?;
                read += page.items.len();
                admitted.extend(page.items.into_iter().filter(|t| query.admits(t)));
                match page.next {
                    Some(next) if read < INBOX_READ_LIMIT => list.after = Some(next),
                    _ => break,
                }
            }
        }
        Ok(query.select(admitted))
    }
}

/// How many tickets one inbox read reads at most before ordering them.
pub const INBOX_READ_LIMIT: usize = 5_000;

/// The indexes tickets are listed by, newest first.
#[derive(Debug, Clone, Copy)]
pub(super) enum TicketIndex {
    All,
    Status,
    Customer,
    Owner,
    Incident,
}

impl TicketIndex {
    /// The index and its partition key; every list sorts on [`LIST_SORT_KEY`].
    fn names(self) -> (&'static str, &'static str, &'static str) {
        let (index, partition_key) = match self {
            TicketIndex::Incident => ("gsi6", "gsi6pk"),
            TicketIndex::All => ("gsi1", "gsi1pk"),
            TicketIndex::Status => ("gsi2", "gsi2pk"),
            TicketIndex::Customer => ("gsi3", "gsi3pk"),
            TicketIndex::Owner => ("gsi4", "gsi4pk"),
        };
        (index, partition_key, LIST_SORT_KEY)
    }
}

impl DynamoStore {
    /// The arrival events the ticket's messages carry (see [`super::items::ARRIVAL_EVENT`]),
    /// after the event whose sort key is `after`. A message sorts by the time of its arrival
    /// event, so the messages from that time on hold them all. All of them, not a page:
    /// messages of one millisecond may hold their events in another order than their own, and
    /// a page cut between them would lose one.
    async fn arrivals(
        &self,
        id: &TicketId,
        after: Option<&str>,
    ) -> Result<Vec<TicketEvent>, StoreError> {
        let from_time = after.and_then(|key| key.split('#').next()).unwrap_or("");
        let first = format!("{MESSAGE_SK_PREFIX}{from_time}");
        let last = format!("{MESSAGE_SK_PREFIX}{HIGHEST}");
        let messages = self
            .partition_between(
                ticket_pk(id.as_str()),
                Some((&first, &last)),
                "query arrivals",
            )
            .await?;
        let mut events = Vec::new();
        for message in &messages {
            if let Some(event) = arrival_event(message)?
                && after.is_none_or(|after| event.sort_key().as_str() > after)
            {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The tickets of a list page, in its order. The list indexes hold keys only (a ticket
    /// write then costs no index write unless a list key changes), so the tickets are read
    /// from the table by key.
    async fn tickets_of(&self, entries: Vec<Item>) -> Result<Vec<Ticket>, StoreError> {
        let key = |item: &Item| match (item.get("pk"), item.get("sk")) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                Some((pk.clone(), sk.clone()))
            }
            _ => None,
        };
        let order: Vec<(String, String)> = entries.iter().filter_map(key).collect();
        let mut found: HashMap<(String, String), Item> = self
            .batch_get(order.iter().cloned(), None, "read listed tickets")
            .await?
            .into_iter()
            .filter_map(|item| Some((key(&item)?, item)))
            .collect();
        // An entry whose ticket is not there (the index is updated after the table) is left
        // out of the page.
        order
            .into_iter()
            .filter_map(|key| found.remove(&key))
            .map(from_item)
            .collect()
    }

    /// One page over every shard of a sharded list: each shard gives its newest tickets after
    /// the cursor, and the page is the newest of them all (the cursor is a sort key, valid in
    /// every shard).
    async fn query_shards(
        &self,
        index: TicketIndex,
        prefix: &str,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        let shards = futures::future::join_all(
            (0..LIST_SHARDS)
                .map(|shard| self.fetch_tickets(index, format!("{prefix}#{shard}"), query)),
        )
        .await;
        let mut tickets: Vec<Ticket> = Vec::new();
        for shard in shards {
            tickets.extend(shard?);
        }
        tickets.sort_by_key(|t| std::cmp::Reverse(t.cursor().sort_key()));
        tickets.truncate(query.fetch_size() as usize);
        Ok(query.page(tickets))
    }

    /// One page of the tickets under `pk` in `index`, newest first, after the query's cursor.
    pub(super) async fn query_tickets(
        &self,
        index: TicketIndex,
        pk: String,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        Ok(query.page(self.fetch_tickets(index, pk, query).await?))
    }

    /// Up to [`TicketQuery::fetch_size`] tickets under `pk` in `index`, newest first.
    async fn fetch_tickets(
        &self,
        index: TicketIndex,
        pk: String,
        query: &TicketQuery,
    ) -> Result<Vec<Ticket>, StoreError> {
        let index_kind = index;
        let (index, pk_name, sk_name) = index.names();
        let wanted = query.fetch_size() as usize;
        let mut tickets: Vec<Ticket> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .scan_index_forward(false)
                .limit((wanted - tickets.len()) as i32)
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start);
            request = match &query.after {
                Some(cursor) => request
                    .key_condition_expression("#pk = :pk AND #sk < :after")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":after", s(cursor.sort_key())),
                None => request.key_condition_expression("#pk = :pk"),
            };
            // By owner, the status (if asked) is a filter: the index holds every status.
            if let (TicketIndex::Owner, Some(status)) = (index_kind, query.status) {
                request = request
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let output = request
                .send()
                .await
                .map_err(|e| failed("query tickets", e))?;
            tickets.extend(self.tickets_of(output.items.unwrap_or_default()).await?);
            start = output.last_evaluated_key;
            if start.is_none() || tickets.len() >= wanted {
                break;
            }
        }
        Ok(tickets)
    }
}
