//! SessionStore: console sessions. Ended ones are removed when the next one is opened.

use super::SqliteStore;
use super::items::{one, to_json};
use rusqlite::params;
use socialcare_domain::ports::{SessionStore, StoreError};
use socialcare_domain::sessions::Session;

impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        self.read(move |conn| {
            // Those that ended before this one began.
            let now = session.created_at.timestamp();
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            conn.execute(
                "INSERT INTO sessions (id, expires_at, data) VALUES (?1, ?2, ?3)",
                params![session.id, session.ends_at.timestamp(), to_json(&session)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| one(conn, "SELECT data FROM sessions WHERE id = ?1", [id]))
            .await
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.read(move |conn| conn.execute("DELETE FROM sessions WHERE id = ?1", [id]))
            .await?;
        Ok(())
    }
}
