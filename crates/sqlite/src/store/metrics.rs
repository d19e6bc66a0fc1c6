//! MetricsStore: the report's counters, added to by ingest and ticket changes, read per day.

use super::SqliteStore;
use chrono::NaiveDate;
use rusqlite::{Connection, params};
use socialcare_domain::ports::{MetricsStore, StoreError};
use socialcare_domain::report::{Counters, GroupBy, Sample};

/// Adds a change's counters to the report.
pub(super) fn add_samples(conn: &Connection, samples: &[Sample]) -> rusqlite::Result<()> {
    for sample in samples {
        for (name, value) in &sample.counters {
            conn.execute(
                "INSERT INTO metrics (account, group_by, grp, day, name, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account, group_by, day, grp, name)
                 DO UPDATE SET value = value + excluded.value",
                params![
                    sample.account,
                    sample.group_by.as_str(),
                    sample.group,
                    sample.day.to_string(),
                    name,
                    value
                ],
            )?;
        }
    }
    Ok(())
}

impl MetricsStore for SqliteStore {
    async fn report_accounts(&self) -> Result<Vec<String>, StoreError> {
        self.query(|conn| {
            let mut statement =
                conn.prepare("SELECT DISTINCT account FROM metrics ORDER BY account")?;
            let accounts = statement.query_map([], |row| row.get(0))?;
            accounts.collect()
        })
        .await
    }

    async fn metric_rows(
        &self,
        account: &str,
        group_by: GroupBy,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, Counters)>, StoreError> {
        let args = (
            account.to_string(),
            group_by.as_str(),
            from.to_string(),
            to.to_string(),
        );
        self.query(move |conn| {
            let mut statement = conn.prepare(
                "SELECT grp, name, SUM(value) FROM metrics
                 WHERE account = ?1 AND group_by = ?2 AND day BETWEEN ?3 AND ?4
                 GROUP BY grp, name",
            )?;
            let mut groups: std::collections::BTreeMap<String, Counters> = Default::default();
            let rows = statement.query_map(params![args.0, args.1, args.2, args.3], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (group, name, value) = row?;
                groups.entry(group).or_default().insert(name, value);
            }
            Ok(groups.into_iter().collect())
        })
        .await
    }
}
