//! WebhookStore: webhook subscriptions (`WEBHOOKS`/`<id>`) and their deliveries
//! (`DELIVERIES#<subscription>`/`<event id>`, newest first by the event's time-ordered id).

use super::items::{from_item, to_item};
use super::{DynamoStore, failed, s};
use socialcare_domain::ports::{CommitError, StoreError, WebhookStore};
use socialcare_domain::subscriptions::{EventDelivery, WebhookSubscription};

const WEBHOOKS: &str = "WEBHOOKS";

fn deliveries_pk(subscription: &str) -> String {
    format!("DELIVERIES#{subscription}")
}

fn subscription_item(subscription: &WebhookSubscription) -> Result<super::Item, StoreError> {
    to_item(
        subscription,
        [("pk", WEBHOOKS.into()), ("sk", subscription.id.clone())],
    )
}

fn delivery_item(delivery: &EventDelivery) -> Result<super::Item, StoreError> {
    to_item(
        delivery,
        [
            ("pk", deliveries_pk(&delivery.subscription_id)),
            ("sk", delivery.event.id.clone()),
        ],
    )
}

impl WebhookStore for DynamoStore {
    async fn create_subscription(
        &self,
        subscription: &WebhookSubscription,
    ) -> Result<(), CommitError> {
        self.put_new_item(subscription_item(subscription)?, "create subscription")
            .await
    }

    async fn get_subscription(&self, id: &str) -> Result<Option<WebhookSubscription>, StoreError> {
        self.get_consistent(WEBHOOKS.into(), id)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_subscriptions(&self) -> Result<Vec<WebhookSubscription>, StoreError> {
        let mut subscriptions = self
            .partition(WEBHOOKS.into(), "list subscriptions")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<WebhookSubscription>, _>>()?;
        subscriptions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(subscriptions)
    }

    async fn put_subscription(
        &self,
        subscription: &WebhookSubscription,
        version_before: u64,
    ) -> Result<(), CommitError> {
        self.put_at_version(
            subscription_item(subscription)?,
            version_before,
            "put subscription",
        )
        .await
    }

    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(WEBHOOKS))
            .key("sk", s(id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| failed("delete subscription", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn create_delivery(&self, delivery: &EventDelivery) -> Result<(), CommitError> {
        self.put_new_item(delivery_item(delivery)?, "create delivery")
            .await
    }

    async fn get_delivery(
        &self,
        subscription_id: &str,
        event_id: &str,
    ) -> Result<Option<EventDelivery>, StoreError> {
        self.get_consistent(deliveries_pk(subscription_id), event_id)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_delivery(
        &self,
        delivery: &EventDelivery,
        version_before: u64,
    ) -> Result<(), CommitError> {
        self.put_at_version(delivery_item(delivery)?, version_before, "put delivery")
            .await
    }

    async fn list_deliveries(
        &self,
        subscription_id: &str,
        limit: u32,
    ) -> Result<Vec<EventDelivery>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(deliveries_pk(subscription_id)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| failed("list deliveries", e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }
}
