//! The brand's configuration: SettingsStore (SLA policies), ConfigurationStore (accounts and
//! teams), AccountStore (sealed tokens, health, connections under way), TemplateStore,
//! ApiKeyStore and IntegrationStore.

use super::items::{from_item, to_item};
use super::keys::{
    API_KEYS, CONFIGURATION, CONFIGURATION_HEAD_SK, CONFIGURATION_VERSION_PREFIX, HEALTH_SK,
    INTEGRATIONS, PENDING_SK, SETTINGS, SLA_POLICIES_SK, TEMPLATES, TOKEN_SK, account_pk,
    configuration_sk, pending_pk,
};
use super::{DynamoStore, Item, failed, put_new, put_versioned, s};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::Source;
use socialcare_domain::access::ApiKey;
use socialcare_domain::configuration::{ConfigurationChange, ConfigurationVersion};
use socialcare_domain::integrations::Integration;
use socialcare_domain::ports::{
    AccountStore, ApiKeyStore, CommitError, ConfigurationStore, IntegrationStore, SettingsStore,
    StoreError, TemplateStore,
};
use socialcare_domain::sla::Policies;
use socialcare_domain::templates::Template;
use socialcare_domain::tokens::{AccountHealth, Observation, PendingConnect, StoredToken};
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

impl DynamoStore {
    /// The newest `limit` versions' items, newest first: page after page, since a page ends
    /// at 1 MB of whole items (a projection does not shrink what is read).
    async fn newest_configurations(
        &self,
        limit: usize,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let wanted = limit - items.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(CONFIGURATION))
                .expression_attribute_values(":prefix", s(CONFIGURATION_VERSION_PREFIX))
                .scan_index_forward(false)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_projection_expression(projection.map(str::to_string))
                .set_exclusive_start_key(start)
                // A change saved a moment ago is read back by the admin who made it.
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| failed("query configuration", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if items.len() >= limit || start.is_none() {
                items.truncate(limit);
                return Ok(items);
            }
        }
    }
}

fn configuration_change(item: &Item) -> Result<ConfigurationChange, StoreError> {
    match item.get("change") {
        Some(AttributeValue::S(json)) => serde_json::from_str(json)
            .map_err(|e| StoreError::invalid(format!("decoding a configuration change: {e}"))),
        _ => Err(StoreError::invalid("malformed configuration item")),
    }
}

impl ConfigurationStore for DynamoStore {
    // HEAD is a few bytes: the refresh every container makes each minute costs one read unit.
    async fn configuration_version(&self) -> Result<Option<u64>, StoreError> {
        let Some(head) = self
            .get_consistent(CONFIGURATION.into(), CONFIGURATION_HEAD_SK)
            .await?
        else {
            return Ok(None);
        };
        match head.get("version") {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| StoreError::invalid("malformed configuration head")),
            _ => Err(StoreError::invalid("malformed configuration head")),
        }
    }

    async fn configuration(&self) -> Result<Option<ConfigurationVersion>, StoreError> {
        let Some(item) = self.newest_configurations(1, None).await?.pop() else {
            return Ok(None);
        };
        let change = configuration_change(&item)?;
        match item.get("document") {
            Some(AttributeValue::S(document)) => Ok(Some(ConfigurationVersion {
                version: change.version,
                document: document.clone(),
                change,
            })),
            _ => Err(StoreError::invalid("malformed configuration item")),
        }
    }

    async fn put_configuration(&self, next: &ConfigurationVersion) -> Result<(), CommitError> {
        let change = serde_json::to_string(&next.change)
            .map_err(|e| CommitError::Store(StoreError::invalid(e.to_string())))?;
        let number = AttributeValue::N(next.version.to_string());
        let version: Item = HashMap::from([
            ("pk".to_string(), s(CONFIGURATION)),
            ("sk".to_string(), s(configuration_sk(next.version))),
            ("version".to_string(), number.clone()),
            ("change".to_string(), s(change)),
            ("document".to_string(), s(next.document.clone())),
        ]);
        let head: Item = HashMap::from([
            ("pk".to_string(), s(CONFIGURATION)),
            ("sk".to_string(), s(CONFIGURATION_HEAD_SK)),
            ("version".to_string(), number),
        ]);
        // The head moves from the version before to this one, or is made with the first: a
        // change saved meanwhile makes this one a conflict.
        let head = match next.version {
            0 => return Err(CommitError::Conflict),
            1 => put_new(&self.table, head)?,
            n => put_versioned(&self.table, head, n - 1)?,
        };
        let writes = vec![put_new(&self.table, version)?, head];
        self.transact(writes, "put configuration").await
    }

    async fn configuration_changes(
        &self,
        limit: usize,
    ) -> Result<Vec<ConfigurationChange>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.newest_configurations(limit, Some("change"))
            .await?
            .iter()
            .map(configuration_change)
            .collect()
    }
}

fn attribute<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::invalid(e.to_string()))
}

impl AccountStore for DynamoStore {
    async fn put_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let item = to_item(
            token,
            [
                ("pk", account_pk(token.source, &token.account)),
                ("sk", TOKEN_SK.into()),
            ],
        )?;
        self.put_item(item, "put token").await
    }

    async fn get_token(
        &self,
        source: Source,
        account: &str,
    ) -> Result<Option<StoredToken>, StoreError> {
        // Consistent: a token replaced a moment ago is the one used.
        self.get_consistent(account_pk(source, account), TOKEN_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_token(&self, source: Source, account: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(source, account)))
            .key("sk", s(TOKEN_SK))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| failed("delete token", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn account_health(
        &self,
        source: Source,
        account: &str,
    ) -> Result<AccountHealth, StoreError> {
        let Some(mut item) = self.get(account_pk(source, account), HEALTH_SK).await? else {
            return Ok(AccountHealth::default());
        };
        item.remove("pk");
        item.remove("sk");
        from_item(item)
    }

    async fn put_pending(&self, pending: &PendingConnect) -> Result<(), StoreError> {
        let mut item = to_item(
            pending,
            [
                ("pk", pending_pk(&pending.state)),
                ("sk", PENDING_SK.into()),
            ],
        )?;
        item.insert(
            "expires_at".into(),
            AttributeValue::N(pending.ends_at.timestamp().to_string()),
        );
        self.put_item(item, "put pending connect").await
    }

    // Deleted as it is read, only by its own binding: a callback answered twice connects
    // once, and another browser's cannot spend it.
    async fn take_pending(
        &self,
        state: &str,
        binding: &str,
    ) -> Result<Option<PendingConnect>, StoreError> {
        let taken = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pending_pk(state)))
            .key("sk", s(PENDING_SK))
            .condition_expression("binding = :binding")
            .expression_attribute_values(":binding", s(binding))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        let output = match taken {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(failed("take pending connect", e)),
        };
        match output.attributes {
            Some(mut item) if !item.is_empty() => {
                item.remove("expires_at");
                from_item(item).map(Some)
            }
            _ => Ok(None),
        }
    }

    // One UpdateItem of the attributes observed: no read, and observations made at once by
    // several functions all land.
    async fn observe(
        &self,
        source: Source,
        account: &str,
        observation: &Observation,
    ) -> Result<(), StoreError> {
        let mut set: Vec<(&str, AttributeValue)> = Vec::new();
        match observation {
            Observation::Webhook { at } => set.push(("webhook_at", attribute(at)?)),
            Observation::Posted { at, rate } => {
                set.push(("posted_at", attribute(at)?));
                if let Some(rate) = rate {
                    set.push(("rate", attribute(rate)?));
                }
            }
            Observation::Refused {
                at,
                reason,
                token_set_at,
            } => {
                set.push(("refused_at", attribute(at)?));
                set.push(("refusal", attribute(reason)?));
                set.push(("refused_token_set_at", attribute(token_set_at)?));
            }
            Observation::Subscription { at, active, detail } => {
                set.push(("subscribed", attribute(active)?));
                set.push(("subscription_checked_at", attribute(at)?));
                set.push(("subscription_detail", attribute(detail)?));
            }
        }
        let expression = set
            .iter()
            .map(|(name, _)| format!("#{name} = :{name}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(source, account)))
            .key("sk", s(HEALTH_SK))
            .update_expression(format!("SET {expression}"));
        for (name, value) in set {
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), value);
        }
        update
            .send()
            .await
            .map_err(|e| failed("observe account", e))?;
        Ok(())
    }
}
