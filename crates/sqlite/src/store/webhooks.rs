//! WebhookStore: webhook subscriptions and their deliveries.

use super::SqliteStore;
use super::items::{all, one, to_json, version};
use rusqlite::params;
use socialcare_domain::ports::{CommitError, StoreError, WebhookStore};
use socialcare_domain::subscriptions::{EventDelivery, WebhookSubscription};

impl WebhookStore for SqliteStore {
    async fn create_subscription(
        &self,
        subscription: &WebhookSubscription,
    ) -> Result<(), CommitError> {
        let subscription = subscription.clone();
        let inserted = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO webhook_subscriptions (id, created_at, version, data)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                    params![
                        subscription.id,
                        subscription.created_at.to_rfc3339(),
                        version(subscription.version),
                        to_json(&subscription)?
                    ],
                )
            })
            .await?;
        match inserted {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_subscription(&self, id: &str) -> Result<Option<WebhookSubscription>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM webhook_subscriptions WHERE id = ?1",
                [id],
            )
        })
        .await
    }

    async fn list_subscriptions(&self) -> Result<Vec<WebhookSubscription>, StoreError> {
        self.query(|conn| {
            all(
                conn,
                "SELECT data FROM webhook_subscriptions ORDER BY created_at, id",
                [],
            )
        })
        .await
    }

    async fn put_subscription(
        &self,
        subscription: &WebhookSubscription,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let subscription = subscription.clone();
        let updated = self
            .read(move |conn| {
                conn.execute(
                    "UPDATE webhook_subscriptions SET version = ?2, data = ?3
                     WHERE id = ?1 AND version = ?4",
                    params![
                        subscription.id,
                        version(subscription.version),
                        to_json(&subscription)?,
                        version(version_before)
                    ],
                )
            })
            .await?;
        match updated {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            conn.execute("DELETE FROM webhook_subscriptions WHERE id = ?1", [id])
                .map(|deleted| deleted > 0)
        })
        .await
    }

    async fn create_delivery(&self, delivery: &EventDelivery) -> Result<(), CommitError> {
        let delivery = delivery.clone();
        let inserted = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO webhook_deliveries (subscription_id, event_id, version, data)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![
                        delivery.subscription_id,
                        delivery.event.id,
                        version(delivery.version),
                        to_json(&delivery)?
                    ],
                )
            })
            .await?;
        match inserted {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_delivery(
        &self,
        subscription_id: &str,
        event_id: &str,
    ) -> Result<Option<EventDelivery>, StoreError> {
        let (subscription, event) = (subscription_id.to_string(), event_id.to_string());
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM webhook_deliveries WHERE subscription_id = ?1 AND event_id = ?2",
                params![subscription, event],
            )
        })
        .await
    }

    async fn put_delivery(
        &self,
        delivery: &EventDelivery,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let delivery = delivery.clone();
        let updated = self
            .read(move |conn| {
                conn.execute(
                    "UPDATE webhook_deliveries SET version = ?3, data = ?4
                     WHERE subscription_id = ?1 AND event_id = ?2 AND version = ?5",
                    params![
                        delivery.subscription_id,
                        delivery.event.id,
                        version(delivery.version),
                        to_json(&delivery)?,
                        version(version_before)
                    ],
                )
            })
            .await?;
        match updated {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn list_deliveries(
        &self,
        subscription_id: &str,
        limit: u32,
    ) -> Result<Vec<EventDelivery>, StoreError> {
        let subscription = subscription_id.to_string();
        // Event ids are ULIDs: their order is their time's.
        self.query(move |conn| {
            all(
                conn,
                "SELECT data FROM webhook_deliveries WHERE subscription_id = ?1
                 ORDER BY event_id DESC LIMIT ?2",
                params![subscription, limit],
            )
        })
        .await
    }
}
