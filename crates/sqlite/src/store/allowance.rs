//! PostAllowance: the posts an account has used in a pacing slice.

use super::SqliteStore;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{PostAllowance, StoreError};

impl PostAllowance for SqliteStore {
    async fn reserve_posts(
        &self,
        account: &str,
        slice_start: DateTime<Utc>,
        wanted: u32,
        allowance: u32,
    ) -> Result<u32, StoreError> {
        let account = account.to_string();
        let slice = sortable_time(slice_start);
        // Budgets of slices a day old are of no use to anyone.
        let stale = sortable_time(slice_start - chrono::Duration::days(1));
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let used: u32 = tx
                .query_row(
                    "SELECT used FROM post_budgets WHERE account = ?1 AND slice_start = ?2",
                    params![account, slice],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let granted = wanted.min(allowance.saturating_sub(used));
            if granted > 0 {
                tx.execute(
                    "INSERT INTO post_budgets (account, slice_start, used) VALUES (?1, ?2, ?3)
                     ON CONFLICT (account, slice_start) DO UPDATE SET used = used + ?3",
                    params![account, slice, granted],
                )?;
            }
            tx.execute(
                "DELETE FROM post_budgets WHERE account = ?1 AND slice_start < ?2",
                params![account, stale],
            )?;
            tx.commit()?;
            Ok(granted)
        })
        .await
    }
}
