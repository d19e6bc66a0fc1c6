//! ListeningStore: each search's state, one row per source, account and query.

use super::items::{one, to_json, version};
use super::{SqliteStore, transaction};
use rusqlite::params;
use socialcare_domain::Source;
use socialcare_domain::ports::{CommitError, ListeningStore, StoreError};
use socialcare_domain::search::SearchState;

impl ListeningStore for SqliteStore {
    async fn search_state(
        &self,
        source: Source,
        account: &str,
        query: &str,
    ) -> Result<Option<SearchState>, StoreError> {
        let key = (source.as_str(), account.to_string(), query.to_string());
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM search_states WHERE source = ?1 AND account = ?2 AND query = ?3",
                params![key.0, key.1, key.2],
            )
        })
        .await
    }

    async fn put_search_state(&self, state: &SearchState) -> Result<(), CommitError> {
        let state = state.clone();
        transaction(&self.db, move |conn| {
            let data = to_json(&state)?;
            let key = (state.source.as_str(), &state.account, &state.query);
            // The first write inserts version 1; every later one replaces the version before.
            let written = match state.version {
                1 => conn.execute(
                    "INSERT OR IGNORE INTO search_states (source, account, query, version, data)
                     VALUES (?1, ?2, ?3, 1, ?4)",
                    params![key.0, key.1, key.2, data],
                )?,
                0 => 0,
                v => conn.execute(
                    "UPDATE search_states SET version = ?4, data = ?5
                     WHERE source = ?1 AND account = ?2 AND query = ?3 AND version = ?4 - 1",
                    params![key.0, key.1, key.2, version(v), data],
                )?,
            };
            Ok(match written {
                0 => Err(CommitError::Conflict),
                _ => Ok(()),
            })
        })
        .await
    }
}
