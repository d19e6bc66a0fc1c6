//! SessionStore: console sessions, one item each, removed by the table's TTL after they end
//! (reads check the expiry too: TTL deletes lazily).

use super::items::{from_item, to_item};
use super::keys::{SESSION_SK, session_pk};
use super::{DynamoStore, s};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::ports::{SessionStore, StoreError};
use socialcare_domain::sessions::Session;

impl SessionStore for DynamoStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut item = to_item(
            session,
            [("pk", session_pk(&session.id)), ("sk", SESSION_SK.into())],
        )?;
        item.insert(
            "expires_at".into(),
            AttributeValue::N(session.ends_at.timestamp().to_string()),
        );
        self.put_item(item, "create session").await
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.get_consistent(session_pk(id), SESSION_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(session_pk(id)))
            .key("sk", s(SESSION_SK))
            .send()
            .await
            .map_err(|e| super::failed("delete session", e))?;
        Ok(())
    }
}
