//! ListeningStore: each search's state, one small item per source, account and query.

use super::DynamoStore;
use super::items::{from_item, to_item};
use super::keys::search_pk;
use socialcare_domain::Source;
use socialcare_domain::ids::key_digest;
use socialcare_domain::ports::{CommitError, ListeningStore, StoreError};
use socialcare_domain::search::SearchState;

impl ListeningStore for DynamoStore {
    async fn search_state(
        &self,
        source: Source,
        account: &str,
        query: &str,
    ) -> Result<Option<SearchState>, StoreError> {
        // Eventually consistent: a poll that reads an older state writes at a version that
        // is taken and stops, and the next minute's run reads it again.
        self.get_item(search_pk(source, account), &key_digest(query), false)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_search_state(&self, state: &SearchState) -> Result<(), CommitError> {
        // A query may be 512 characters of any script: the sort key is its digest (a key has
        // at most 1,024 bytes).
        let item = to_item(
            state,
            [
                ("pk", search_pk(state.source, &state.account)),
                ("sk", key_digest(&state.query)),
            ],
        )?;
        match state.version {
            0 => Err(CommitError::Store(StoreError::invalid(
                "a search state is written from version 1",
            ))),
            1 => match self.put_new_item(item, "put search state").await {
                Err(CommitError::Duplicate) => Err(CommitError::Conflict),
                other => other,
            },
            version => {
                self.put_at_version(item, version - 1, "put search state")
                    .await
            }
        }
    }
}
