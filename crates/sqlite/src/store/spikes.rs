//! SpikeCounters: the topic counts of each account's windows.

use super::SqliteStore;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use socialcare_domain::incidents::TopicCounts;
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{SpikeCounters, StoreError};

impl SpikeCounters for SqliteStore {
    async fn count_topics(
        &self,
        account: &str,
        window_start: DateTime<Utc>,
        terms: &[(String, u64)],
        messages: u64,
        capacity: u32,
    ) -> Result<TopicCounts, StoreError> {
        // SQLite's integers are signed; a count past i64 is not one a window reaches.
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (account, window, messages) = (
            account.to_string(),
            sortable_time(window_start),
            signed(messages),
        );
        let terms: Vec<(String, i64)> = terms
            .iter()
            .map(|(term, named)| (term.clone(), signed(*named)))
            .collect();
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                // The messages are counted in full while the window has room.
                let roomy = tx
                    .query_row(
                        "INSERT INTO topic_windows (account, window_start, messages)
                         VALUES (?1, ?2, ?4)
                         ON CONFLICT (account, window_start) DO UPDATE
                            SET messages = messages + ?4 WHERE messages < ?3
                         RETURNING messages",
                        params![account, window, capacity, messages],
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                    ?
                    .is_some();
                let mut counts = Vec::with_capacity(terms.len());
                for (term, named) in terms {
                    let sql = match roomy {
                        true => {
                            "INSERT INTO topic_counts (account, term, window_start, count)
                             VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (account, term, window_start) DO UPDATE SET count = count + ?4
                             RETURNING count"
                        }
                        false => {
                            "UPDATE topic_counts SET count = count + ?4
                             WHERE account = ?1 AND term = ?2 AND window_start = ?3
                             RETURNING count"
                        }
                    };
                    let count: Option<i64> = tx
                        .query_row(sql, params![account, term, window, named], |row| row.get(0))
                        .optional()
                        ?;
                    counts.push((term, count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)));
                }
                tx.commit()?;
                Ok(TopicCounts {
                    counts,
                    full: !roomy,
                })
            })
            .await
            .map_err(StoreError::from)
    }

    async fn topic_history(
        &self,
        account: &str,
        term: &str,
        windows: &[DateTime<Utc>],
    ) -> Result<Vec<u64>, StoreError> {
        let (account, term) = (account.to_string(), term.to_string());
        let windows: Vec<String> = windows.iter().map(|w| sortable_time(*w)).collect();
        self.query(move |conn| {
            let mut statement = conn.prepare(
                "SELECT count FROM topic_counts
                 WHERE account = ?1 AND term = ?2 AND window_start = ?3",
            )?;
            let mut counts = Vec::new();
            for window in windows {
                let count: Option<i64> = statement
                    .query_row(params![account, term, window], |row| row.get(0))
                    .optional()?;
                counts.extend(count.map(|c| u64::try_from(c).unwrap_or(0)));
            }
            Ok(counts)
        })
        .await
    }
}
