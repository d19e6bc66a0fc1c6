use crate::database::Database;
use rusqlite::{OptionalExtension, Transaction, params};
use socialcare_domain::ports::{Clock, Delivery, Outgoing, Queue, QueueError, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use ulid::Ulid;

/// How a queue behaves; the same knobs as the SQS queues in template.yaml.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// FIFO: messages need a group id, a group is delivered in order and one batch at a time,
    /// and a dedupe id is dropped when seen again within five minutes.
    pub fifo: bool,
    pub visibility_timeout: Duration,
    /// After this many receives, the next receive moves the message to `dead_letter`.
    pub max_receive_count: u32,
    pub dead_letter: Option<String>,
}

/// SQS keeps a dedupe id for five minutes; so does this queue.
const DEDUPE_WINDOW: Duration = Duration::from_secs(300);
/// SQS refuses delays over fifteen minutes; so does this queue.
const MAX_DELAY: Duration = Duration::from_secs(900);
/// How often a waiting receive looks again for messages whose delay or timeout ran out.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// A queue kept in the SQLite database, with delays, visibility timeouts, FIFO groups,
/// deduplication and a dead-letter queue, as SQS has them.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Database,
    name: String,
    options: QueueOptions,
    clock: Arc<dyn Clock>,
    sent: Arc<Notify>,
}

impl SqliteQueue {
    pub fn new(db: Database, name: impl Into<String>, options: QueueOptions) -> Self {
        Self::with_clock(db, name, options, Arc::new(SystemClock))
    }

    pub fn with_clock(
        db: Database,
        name: impl Into<String>,
        options: QueueOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            name: name.into(),
            options,
            clock,
            sent: Arc::new(Notify::new()),
        }
    }

    /// The inbound queue, as template.yaml declares it on SQS: FIFO, five receives, then the
    /// dead-letter queue. The visibility timeout is shorter than on AWS because the local
    /// consumer is in the same process and backs off on its own.
    pub fn inbound(db: Database) -> Self {
        Self::new(
            db,
            "inbound",
            QueueOptions {
                fifo: true,
                visibility_timeout: Duration::from_secs(30),
                max_receive_count: 5,
                dead_letter: Some("inbound-dlq".into()),
            },
        )
    }

    /// Where inbound messages go after five failed receives.
    pub fn inbound_dead_letter(db: Database) -> Self {
        Self::new(
            db,
            "inbound-dlq",
            QueueOptions {
                fifo: true,
                visibility_timeout: Duration::from_secs(30),
                max_receive_count: u32::MAX,
                dead_letter: None,
            },
        )
    }

    /// The outbox of replies, as template.yaml declares it on SQS: standard (delays allowed),
    /// ten receives, then its dead-letter queue.
    pub fn outbox(db: Database) -> Self {
        Self::new(
            db,
            "outbox",
            QueueOptions {
                fifo: false,
                visibility_timeout: Duration::from_secs(30),
                max_receive_count: 10,
                dead_letter: Some("outbox-dlq".into()),
            },
        )
    }

    /// Where replies go after ten failed attempts.
    pub fn outbox_dead_letter(db: Database) -> Self {
        Self::new(
            db,
            "outbox-dlq",
            QueueOptions {
                fifo: false,
                visibility_timeout: Duration::from_secs(30),
                max_receive_count: u32::MAX,
                dead_letter: None,
            },
        )
    }

    /// The reminders queue, as template.yaml declares it on SQS: standard (the scheduler
    /// delays each reminder to its due time), ten receives, then its dead-letter queue.
    pub fn reminders(db: Database) -> Self {
        Self::new(
            db,
            "reminders",
            QueueOptions {
                fifo: false,
                visibility_timeout: Duration::from_secs(30),
                max_receive_count: 10,
                dead_letter: Some("reminders-dlq".into()),
            },
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    async fn run<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> rusqlite::Result<T> + Send + 'static,
    {
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            })
            .await
            .map_err(QueueError::from)
    }

    /// Runs `work` in the next group commit (see [`Database::write`]), answered once durable.
    async fn grouped<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.db
            .write(move |conn| Ok((true, work(conn)?)))
            .await
            .map_err(QueueError::from)
    }

    /// One receive attempt: moves exhausted messages to the dead-letter queue, then takes up
    /// to `max` deliverable messages and hides them for the visibility timeout.
    async fn receive_now(&self, max: u32) -> Result<Vec<Delivery>, QueueError> {
        let queue = self.name.clone();
        let options = self.options.clone();
        let now = self.now_millis();
        let hidden_until = now + millis(options.visibility_timeout);
        self.grouped(move |tx| {
            // A FIFO group with a message in flight delivers nothing until that one is done.
            let mut candidates = tx.prepare(
                "SELECT seq, id, body, group_id, receive_count FROM queue_messages m
                 WHERE queue = ?1 AND visible_at <= ?2
                   AND (m.group_id IS NULL OR NOT EXISTS (
                        SELECT 1 FROM queue_messages f
                        WHERE f.queue = m.queue AND f.group_id = m.group_id
                          AND f.receive_count > 0 AND f.visible_at > ?2))
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = candidates
                // More than `max`: some candidates may be moved to the dead-letter queue instead.
                .query_map(params![queue, now, max * 2 + 10], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, u32>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut deliveries = Vec::new();
            for (seq, id, body, group_id, received) in rows {
                if deliveries.len() >= max as usize {
                    break;
                }
                if received >= options.max_receive_count
                    && let Some(dead_letter) = &options.dead_letter
                {
                    tx.execute(
                        "UPDATE queue_messages
                         SET queue = ?2, receive_count = 0, visible_at = ?3, receipt = NULL
                         WHERE seq = ?1",
                        params![seq, dead_letter, now],
                    )?;
                    continue;
                }
                let receipt = Ulid::generate().to_string();
                tx.execute(
                    "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?2,
                     receipt = ?3 WHERE seq = ?1",
                    params![seq, hidden_until, receipt],
                )?;
                deliveries.push(Delivery {
                    message_id: id,
                    receipt,
                    body,
                    group_id,
                    receive_count: received + 1,
                });
            }
            Ok(deliveries)
        })
        .await
    }

    /// How many messages the queue holds, visible or not (for tests and the load generator).
    pub async fn depth(&self) -> Result<u64, QueueError> {
        let queue = self.name.clone();
        let count: i64 = self
            .run(move |tx| {
                tx.query_row(
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1",
                    [queue],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(count.unsigned_abs())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Queue for SqliteQueue {
    async fn send(&self, message: Outgoing) -> Result<(), QueueError> {
        if self.options.fifo && message.group_id.is_none() {
            return Err(QueueError::invalid(format!(
                "{}: a FIFO queue needs a message group id",
                self.name
            )));
        }
        if self.options.fifo && !message.delay.is_zero() {
            return Err(QueueError::invalid(format!(
                "{}: a FIFO queue takes no per-message delay",
                self.name
            )));
        }
        if message.delay > MAX_DELAY {
            return Err(QueueError::invalid(format!(
                "{}: a delay is at most 15 minutes",
                self.name
            )));
        }
        let queue = self.name.clone();
        let now = self.now_millis();
        let dedupe_id = message.dedupe_id.filter(|_| self.options.fifo);
        // Group commit: the sends that arrive together share one durable commit.
        let sent = move |tx: &rusqlite::Connection| -> rusqlite::Result<()> {
            if let Some(dedupe_id) = &dedupe_id {
                let seen: Option<i64> = tx
                    .query_row(
                        "SELECT expires_at FROM queue_dedupe WHERE queue = ?1 AND dedupe_id = ?2",
                        params![queue, dedupe_id],
                        |row| row.get(0),
                    )
                    .optional()?;
                if seen.is_some_and(|expires_at| expires_at > now) {
                    return Ok(());
                }
                tx.execute(
                    "INSERT INTO queue_dedupe (queue, dedupe_id, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (queue, dedupe_id) DO UPDATE SET expires_at = excluded.expires_at",
                    params![queue, dedupe_id, now + millis(DEDUPE_WINDOW)],
                )?;
                tx.execute("DELETE FROM queue_dedupe WHERE expires_at <= ?1", [now])?;
            }
            tx.execute(
                "INSERT INTO queue_messages (queue, id, body, group_id, visible_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    queue,
                    Ulid::generate().to_string(),
                    message.body,
                    message.group_id,
                    now + millis(message.delay)
                ],
            )?;
            Ok(())
        };
        self.grouped(sent).await?;
        self.sent.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let sent = self.sent.notified();
            let deliveries = self.receive_now(max.max(1)).await?;
            let now = tokio::time::Instant::now();
            if !deliveries.is_empty() || now >= deadline {
                return Ok(deliveries);
            }
            let nap = POLL_EVERY.min(deadline - now);
            let _ = tokio::time::timeout(nap, sent).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let queue = self.name.clone();
        let receipt = receipt.to_string();
        self.grouped(move |tx| {
            tx.execute(
                "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                params![queue, receipt],
            )
        })
        .await?;
        Ok(())
    }

    // One write in the next group commit, however many.
    async fn delete_all(&self, receipts: Vec<String>) -> Result<(), QueueError> {
        let queue = self.name.clone();
        self.grouped(move |conn| {
            let mut statement = conn
                .prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2")?;
            for receipt in &receipts {
                statement.execute(params![queue, receipt])?;
            }
            Ok(())
        })
        .await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let queue = self.name.clone();
        let receipt = receipt.to_string();
        let visible_at = self.now_millis() + millis(timeout);
        self.grouped(move |tx| {
            tx.execute(
                "UPDATE queue_messages SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
                params![queue, receipt, visible_at],
            )
        })
        .await?;
        self.sent.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use socialcare_domain::ports::FixedClock;

    // With a fixed clock, to the millisecond; the queue contract checks delays on both
    // adapters in real time.
    #[tokio::test]
    async fn a_delayed_message_is_invisible_until_its_delay_passes() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let clock = Arc::new(FixedClock::new(start));
        let options = QueueOptions {
            fifo: false,
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5,
            dead_letter: None,
        };
        let queue = SqliteQueue::with_clock(
            Database::in_memory().unwrap(),
            "later",
            options,
            clock.clone(),
        );
        let delayed = Outgoing {
            body: "remind".into(),
            group_id: None,
            dedupe_id: None,
            delay: Duration::from_secs(600),
        };
        queue.send(delayed.clone()).await.unwrap();
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
        clock.set(start + chrono::Duration::seconds(599));
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
        clock.set(start + chrono::Duration::seconds(600));
        let got = queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "remind");

        let too_late = Outgoing {
            delay: Duration::from_secs(901),
            ..delayed
        };
        assert!(queue.send(too_late).await.is_err());
    }

    /// Sends that arrive while the database is busy share one commit (one fsync), and each is
    /// answered only once it is committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_that_wait_together_are_committed_together() {
        let db = Database::in_memory().unwrap();
        let options = QueueOptions {
            fifo: false,
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5,
            dead_letter: None,
        };
        let queue = SqliteQueue::new(db.clone(), "together", options);
        // Something else holds the connection while 64 webhooks send.
        let (release, busy) = db.hold().await;
        let commits_before = db.group_commits();
        let sends: Vec<_> = (0..64)
            .map(|n| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    queue
                        .send(Outgoing {
                            body: format!("webhook {n}"),
                            group_id: None,
                            dedupe_id: None,
                            delay: Duration::ZERO,
                        })
                        .await
                })
            })
            .collect();
        let waited = std::time::Instant::now();
        while db.writes_waiting() < 64 {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the sends never queued"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // None is answered while nothing is committed.
        assert!(sends.iter().all(|send| !send.is_finished()));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for send in sends {
            send.await.unwrap().unwrap();
        }
        assert_eq!(db.group_commits() - commits_before, 1);
        let mut bodies: Vec<String> = queue
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .into_iter()
            .map(|delivery| delivery.body)
            .collect();
        let mut received = bodies.len();
        while received < 64 {
            let more = queue.receive(10, Duration::ZERO).await.unwrap();
            assert!(!more.is_empty(), "only {received} of 64 received");
            received += more.len();
            bodies.extend(more.into_iter().map(|delivery| delivery.body));
        }
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), 64);
    }
}
