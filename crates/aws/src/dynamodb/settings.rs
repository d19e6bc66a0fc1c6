//! The brand's configuration: SettingsStore (SLA policies), TemplateStore, ApiKeyStore and
//! IntegrationStore.

use super::items::{from_item, to_item};
use super::keys::{API_KEYS, INTEGRATIONS, SETTINGS, SLA_POLICIES_SK, TEMPLATES};
use super::{DynamoStore, Item, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::access::ApiKey;
use socialcare_domain::integrations::Integration;
use socialcare_domain::ports::{
    ApiKeyStore, CommitError, IntegrationStore, SettingsStore, StoreError, TemplateStore,
};
use socialcare_domain::sla::Policies;
use socialcare_domain::templates::Template;
use std::collections::HashMap;

fn key_item(key: &ApiKey) -> Result<Item, StoreError> {
    to_item(key, [("pk", API_KEYS.to_string()), ("sk", key.id.clone())])
}

fn integration_item(integration: &Integration) -> Result<Item, StoreError> {
    to_item(
        integration,
        [
            ("pk", INTEGRATIONS.to_string()),
            ("sk", integration.source.clone()),
        ],
    )
}

impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, integration: &Integration) -> Result<(), CommitError> {
        self.put_new_item(integration_item(integration)?, "create integration")
            .await
    }

    async fn get_integration(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        self.get(INTEGRATIONS.to_string(), source)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn replace_integration(
        &self,
        integration: &Integration,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let item = integration_item(integration)?;
        self.put_at_version(item, version_before, "replace integration")
            .await
    }

    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        // The sort key is the source: the partition comes back in order.
        self.partition(INTEGRATIONS.into(), "query integrations")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}

impl SettingsStore for DynamoStore {
    // Kept as one JSON string: the document is small and always read and written whole.
    async fn sla_policies(&self) -> Result<Policies, StoreError> {
        let Some(item) = self.get(SETTINGS.into(), SLA_POLICIES_SK).await? else {
            return Ok(Policies::default());
        };
        match item.get("data") {
            Some(AttributeValue::S(json)) => serde_json::from_str(json)
                .map_err(|e| StoreError::invalid(format!("decoding SLA policies: {e}"))),
            _ => Err(StoreError::invalid("malformed SLA policies item")),
        }
    }

    async fn put_sla_policies(&self, policies: &Policies) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(policies).map_err(|e| StoreError::invalid(e.to_string()))?;
        let item: Item = HashMap::from([
            ("pk".to_string(), s(SETTINGS)),
            ("sk".to_string(), s(SLA_POLICIES_SK)),
            ("data".to_string(), s(json)),
        ]);
        self.put_item(item, "put SLA policies").await
    }
}

impl TemplateStore for DynamoStore {
    async fn create_template(&self, template: &Template) -> Result<(), CommitError> {
        let item = to_item(
            template,
            [("pk", TEMPLATES.into()), ("sk", template.id.clone())],
        )?;
        self.put_new_item(item, "create template").await
    }

    async fn get_template(&self, id: &str) -> Result<Option<Template>, StoreError> {
        self.get(TEMPLATES.into(), id)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_template(&self, template: &Template) -> Result<(), StoreError> {
        let item = to_item(
            template,
            [("pk", TEMPLATES.into()), ("sk", template.id.clone())],
        )?;
        self.put_item(item, "put template").await
    }

    async fn delete_template(&self, id: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(TEMPLATES))
            .key("sk", s(id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| failed("delete template", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list_templates(&self) -> Result<Vec<Template>, StoreError> {
        self.partition(TEMPLATES.into(), "query templates")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}

impl ApiKeyStore for DynamoStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), CommitError> {
        self.put_new_item(key_item(key)?, "create key").await
    }

    async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        // Consistent: a revoked key stops working at once.
        self.get_consistent(API_KEYS.to_string(), id)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.put_item(key_item(key)?, "put key").await
    }

    async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .partition(API_KEYS.into(), "query keys")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }
}
