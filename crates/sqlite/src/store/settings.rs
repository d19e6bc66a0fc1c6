//! The brand's configuration: SettingsStore (SLA policies), ConfigurationStore (accounts and
//! teams), AccountStore (sealed tokens, health), TemplateStore, ApiKeyStore and
//! IntegrationStore.

use super::SqliteStore;
use super::items::{all, one, to_json, version};
use crate::database::SqliteError;
use rusqlite::OptionalExtension;
use rusqlite::params;
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

impl TemplateStore for SqliteStore {
    async fn create_template(&self, template: &Template) -> Result<(), CommitError> {
        let template = template.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO templates (id, data) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![template.id, to_json(&template)?],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_template(&self, id: &str) -> Result<Option<Template>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| one(conn, "SELECT data FROM templates WHERE id = ?1", [id]))
            .await
    }

    async fn put_template(&self, template: &Template) -> Result<(), StoreError> {
        let template = template.clone();
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO templates (id, data) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                params![template.id, to_json(&template)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn delete_template(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let deleted = self
            .read(move |conn| conn.execute("DELETE FROM templates WHERE id = ?1", [id]))
            .await?;
        Ok(deleted > 0)
    }

    async fn list_templates(&self) -> Result<Vec<Template>, StoreError> {
        self.query(|conn| all(conn, "SELECT data FROM templates ORDER BY id", []))
            .await
    }
}

impl ApiKeyStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), CommitError> {
        let key = key.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO api_keys (id, created_at, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                    // nanoseconds: keys made in the same millisecond keep their order
                    params![
                        key.id,
                        key.created_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        to_json(&key)?
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_string();
        self.query(move |conn| one(conn, "SELECT data FROM api_keys WHERE id = ?1", [id]))
            .await
    }

    async fn put_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.read(move |conn| {
            conn.execute(
                "UPDATE api_keys SET data = ?2 WHERE id = ?1",
                params![key.id, to_json(&key)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.query(|conn| {
            all(
                conn,
                "SELECT data FROM api_keys ORDER BY created_at, id",
                [],
            )
        })
        .await
    }
}

impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, integration: &Integration) -> Result<(), CommitError> {
        let integration = integration.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "INSERT INTO integrations (source, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source) DO NOTHING",
                    params![
                        integration.source,
                        version(integration.version),
                        to_json(&integration)?
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Duplicate),
            _ => Ok(()),
        }
    }

    async fn get_integration(&self, source: &str) -> Result<Option<Integration>, StoreError> {
        let source = source.to_string();
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM integrations WHERE source = ?1",
                [source],
            )
        })
        .await
    }

    async fn replace_integration(
        &self,
        integration: &Integration,
        version_before: u64,
    ) -> Result<(), CommitError> {
        let integration = integration.clone();
        let written = self
            .read(move |conn| {
                conn.execute(
                    "UPDATE integrations SET version = ?2, data = ?3
                     WHERE source = ?1 AND version = ?4",
                    params![
                        integration.source,
                        version(integration.version),
                        to_json(&integration)?,
                        version(version_before)
                    ],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        self.query(|conn| all(conn, "SELECT data FROM integrations ORDER BY source", []))
            .await
    }
}

impl SettingsStore for SqliteStore {
    async fn sla_policies(&self) -> Result<Policies, StoreError> {
        let stored: Option<Policies> = self
            .query(|conn| {
                one(
                    conn,
                    "SELECT data FROM settings WHERE name = 'sla_policies'",
                    [],
                )
            })
            .await?;
        Ok(stored.unwrap_or_default())
    }

    async fn put_sla_policies(&self, policies: &Policies) -> Result<(), StoreError> {
        let data =
            to_json(policies).map_err(|e| StoreError::invalid(SqliteError::from(e).to_string()))?;
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO settings (name, data) VALUES ('sla_policies', ?1)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                [data],
            )
        })
        .await?;
        Ok(())
    }
}

impl ConfigurationStore for SqliteStore {
    async fn configuration_version(&self) -> Result<Option<u64>, StoreError> {
        let newest: Option<i64> = self
            .query(|conn| {
                conn.query_row(
                    "SELECT MAX(version) FROM configuration_versions",
                    [],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(newest.map(|v| u64::try_from(v).unwrap_or(0)))
    }

    async fn configuration(&self) -> Result<Option<ConfigurationVersion>, StoreError> {
        let newest: Option<(String, String)> = self
            .query(|conn| {
                conn.query_row(
                    "SELECT change, document FROM configuration_versions
                     ORDER BY version DESC LIMIT 1",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
            })
            .await?;
        let Some((change, document)) = newest else {
            return Ok(None);
        };
        let change: ConfigurationChange = serde_json::from_str(&change)
            .map_err(|e| StoreError::invalid(format!("decoding a configuration change: {e}")))?;
        Ok(Some(ConfigurationVersion {
            version: change.version,
            document,
            change,
        }))
    }

    async fn put_configuration(&self, next: &ConfigurationVersion) -> Result<(), CommitError> {
        let next = next.clone();
        let written = self
            .read(move |conn| {
                // Only the version after the newest: a change made meanwhile wins, this one
                // is a conflict (and is made again on what it did not see).
                conn.execute(
                    "INSERT INTO configuration_versions (version, change, document)
                     SELECT ?1, ?2, ?3
                     WHERE (SELECT COALESCE(MAX(version), 0) FROM configuration_versions) = ?1 - 1",
                    params![version(next.version), to_json(&next.change)?, next.document],
                )
            })
            .await?;
        match written {
            0 => Err(CommitError::Conflict),
            _ => Ok(()),
        }
    }

    async fn configuration_changes(
        &self,
        limit: usize,
    ) -> Result<Vec<ConfigurationChange>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(move |conn| {
            all(
                conn,
                "SELECT change FROM configuration_versions ORDER BY version DESC LIMIT ?1",
                [limit],
            )
        })
        .await
    }
}

impl AccountStore for SqliteStore {
    async fn put_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO account_tokens (source, account, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, account) DO UPDATE SET data = excluded.data",
                params![token.source.as_str(), token.account, to_json(&token)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn get_token(
        &self,
        source: Source,
        account: &str,
    ) -> Result<Option<StoredToken>, StoreError> {
        let account = account.to_string();
        self.query(move |conn| {
            one(
                conn,
                "SELECT data FROM account_tokens WHERE source = ?1 AND account = ?2",
                params![source.as_str(), account],
            )
        })
        .await
    }

    async fn delete_token(&self, source: Source, account: &str) -> Result<bool, StoreError> {
        let account = account.to_string();
        let deleted = self
            .read(move |conn| {
                conn.execute(
                    "DELETE FROM account_tokens WHERE source = ?1 AND account = ?2",
                    params![source.as_str(), account],
                )
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn account_health(
        &self,
        source: Source,
        account: &str,
    ) -> Result<AccountHealth, StoreError> {
        let account = account.to_string();
        let health: Option<AccountHealth> = self
            .query(move |conn| {
                one(
                    conn,
                    "SELECT data FROM account_health WHERE source = ?1 AND account = ?2",
                    params![source.as_str(), account],
                )
            })
            .await?;
        Ok(health.unwrap_or_default())
    }

    async fn put_pending(&self, pending: &PendingConnect) -> Result<(), StoreError> {
        let pending = pending.clone();
        self.read(move |conn| {
            // The ones left unfinished go when the next starts (DynamoDB's TTL does this there).
            conn.execute(
                "DELETE FROM pending_connects
                 WHERE julianday(json_extract(data, '$.ends_at')) < julianday(?1)",
                [pending.created_at.to_rfc3339()],
            )?;
            conn.execute(
                "INSERT INTO pending_connects (state, data) VALUES (?1, ?2)
                 ON CONFLICT (state) DO UPDATE SET data = excluded.data",
                params![pending.state, to_json(&pending)?],
            )
        })
        .await?;
        Ok(())
    }

    async fn take_pending(
        &self,
        state: &str,
        binding: &str,
    ) -> Result<Option<PendingConnect>, StoreError> {
        let (state, binding) = (state.to_string(), binding.to_string());
        self.read(move |conn| {
            one(
                conn,
                "DELETE FROM pending_connects
                 WHERE state = ?1 AND json_extract(data, '$.binding') = ?2 RETURNING data",
                [state, binding],
            )
        })
        .await
    }

    async fn observe(
        &self,
        source: Source,
        account: &str,
        observation: &Observation,
    ) -> Result<(), StoreError> {
        let (account, observation) = (account.to_string(), observation.clone());
        // Read and write in one transaction: observations made at once all land.
        let written = super::transaction(&self.db, move |tx| {
            let before: Option<AccountHealth> = one(
                tx,
                "SELECT data FROM account_health WHERE source = ?1 AND account = ?2",
                params![source.as_str(), account],
            )?;
            let after = before.unwrap_or_default().with(&observation);
            tx.execute(
                "INSERT INTO account_health (source, account, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source, account) DO UPDATE SET data = excluded.data",
                params![source.as_str(), account, to_json(&after)?],
            )?;
            Ok(Ok(()))
        })
        .await;
        written.map_err(|e| match e {
            CommitError::Store(e) => e,
            other => StoreError::invalid(other.to_string()),
        })
    }
}
