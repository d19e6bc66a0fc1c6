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
            // Written at the version after the stored one, or as the first.
            let stored = conn.execute(
                "INSERT INTO search_states (source, account, query, version, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, account, query) DO UPDATE
                 SET version = excluded.version, data = excluded.data
                 WHERE search_states.version = excluded.version - 1",
                params![
                    state.source.as_str(),
                    state.account,
                    state.query,
                    version(state.version),
                    to_json(&state)?
                ],
            )?;
            Ok(match stored {
                0 => Err(CommitError::Conflict),
                _ => Ok(()),
            })
        })
        .await
    }
}
