//! The count-proxy's copy of every item written through it, so that a write is priced by what
//! DynamoDB bills (see [`crate::capacity`]): the whole item before and after it, and each index
//! entry it puts, changes or deletes. A request names only the key and the values it sets;
//! the rest is read from the emulator: the table's schema once (`DescribeTable`), an item the
//! first time it is written (`GetItem` before), and the result of an update (`GetItem` after).
//! These reads are the proxy's own and are not counted.
//!
//! Writes to one item are priced one at a time: the proxy holds a lock on each item a request
//! writes from the read before until the read after, so two updates in flight at once cannot
//! both see the same item before them.

use crate::capacity::{Item, TableSchema, WriteUnits};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;

/// The DynamoDB operations that write items.
pub fn is_write(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
    )
}

pub struct Shadow {
    upstream: String,
    http: reqwest::Client,
    schemas: Mutex<HashMap<String, Arc<TableSchema>>>,
    /// The item under each key as last written (`None`: known absent).
    items: Mutex<HashMap<String, Option<Item>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// How the emulator answered a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: written (a batch's unprocessed items excepted).
    Written,
    /// A condition failed or the transaction was cancelled: billed, nothing written.
    Refused,
    /// Refused before any item was read (validation, throttling, an unreachable emulator):
    /// not billed.
    NotApplied,
}

impl Outcome {
    pub fn of(status: u16, answer: &Value) -> Outcome {
        if (200..300).contains(&status) {
            return Outcome::Written;
        }
        let kind = answer
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.ends_with("ConditionalCheckFailedException")
            || kind.ends_with("TransactionCanceledException")
        {
            Outcome::Refused
        } else {
            Outcome::NotApplied
        }
    }
}

/// One item a write request touches, and what the request does to it.
struct Touched {
    table: String,
    schema: Arc<TableSchema>,
    key: Item,
    id: String,
    effect: Effect,
}

enum Effect {
    Put(Item),
    Update,
    Delete,
    Check,
}

/// A write on its way to the emulator: the items it touches as they were, locked.
pub struct PendingWrite {
    touched: Vec<Touched>,
    before: Vec<Option<Item>>,
    transactional: bool,
    _locks: Vec<OwnedMutexGuard<()>>,
}

impl Shadow {
    pub fn new(upstream: &str, http: reqwest::Client) -> Self {
        Self {
            upstream: upstream.trim_end_matches('/').to_string(),
            http,
            schemas: Mutex::default(),
            items: Mutex::default(),
            locks: Mutex::default(),
        }
    }

    /// Before forwarding a write (`operation` without its prefix): the items it touches, read
    /// and locked. `authorization` is the request's own, for the emulator's region.
    pub async fn before(
        &self,
        operation: &str,
        request: &Value,
        authorization: Option<&str>,
    ) -> anyhow::Result<PendingWrite> {
        let mut touched = Vec::new();
        let mut add = |table: &str, schema: Arc<TableSchema>, key: Option<Item>, effect: Effect| {
            let key = key.and_then(|key| schema.key_of(&key));
            if let Some(key) = key {
                let id = format!("{table}\n{}", Value::Object(key.clone()));
                touched.push(Touched {
                    table: table.to_string(),
                    schema,
                    key,
                    id,
                    effect,
                });
            }
        };
        let object = |value: Option<&Value>| value.and_then(Value::as_object).cloned();
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let table = request
                    .get("TableName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let schema = self.schema(table, authorization).await?;
                let (key, effect) = match operation {
                    "PutItem" => {
                        let item = object(request.get("Item")).unwrap_or_default();
                        (Some(item.clone()), Effect::Put(item))
                    }
                    "UpdateItem" => (object(request.get("Key")), Effect::Update),
                    _ => (object(request.get("Key")), Effect::Delete),
                };
                add(table, schema, key, effect);
            }
            "BatchWriteItem" => {
                let tables = request.get("RequestItems").and_then(Value::as_object);
                for (table, requests) in tables.into_iter().flatten() {
                    let schema = self.schema(table, authorization).await?;
                    for write in requests.as_array().into_iter().flatten() {
                        if let Some(item) = object(write.pointer("/PutRequest/Item")) {
                            add(
                                table,
                                Arc::clone(&schema),
                                Some(item.clone()),
                                Effect::Put(item),
                            );
                        } else {
                            let key = object(write.pointer("/DeleteRequest/Key"));
                            add(table, Arc::clone(&schema), key, Effect::Delete);
                        }
                    }
                }
            }
            "TransactWriteItems" => {
                let items = request.get("TransactItems").and_then(Value::as_array);
                for item in items.into_iter().flatten() {
                    let Some((kind, write)) = item.as_object().and_then(|item| item.iter().next())
                    else {
                        continue;
                    };
                    let table = write
                        .get("TableName")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let schema = self.schema(table, authorization).await?;
                    let (key, effect) = match kind.as_str() {
                        "Put" => {
                            let item = object(write.get("Item")).unwrap_or_default();
                            (Some(item.clone()), Effect::Put(item))
                        }
                        "Update" => (object(write.get("Key")), Effect::Update),
                        "Delete" => (object(write.get("Key")), Effect::Delete),
                        _ => (object(write.get("Key")), Effect::Check),
                    };
                    add(table, schema, key, effect);
                }
            }
            _ => {}
        }
        // Locked in one order, so two requests that touch the same items cannot each wait for
        // the other.
        let mut ids: Vec<&str> = touched.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut locks = Vec::with_capacity(ids.len());
        for id in ids {
            let lock = {
                let mut all = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
                Arc::clone(all.entry(id.to_string()).or_default())
            };
            locks.push(lock.lock_owned().await);
        }
        let mut before = Vec::with_capacity(touched.len());
        for item in &touched {
            before.push(self.current(item, authorization).await?);
        }
        Ok(PendingWrite {
            touched,
            before,
            transactional: operation == "TransactWriteItems",
            _locks: locks,
        })
    }

    /// After the emulator answered: what the write cost, with the copy brought up to date.
    pub async fn after(
        &self,
        pending: PendingWrite,
        outcome: Outcome,
        answer: &Value,
        authorization: Option<&str>,
    ) -> anyhow::Result<WriteUnits> {
        let mut units = WriteUnits::default();
        let unprocessed = self.unprocessed(answer);
        for (item, before) in pending.touched.iter().zip(&pending.before) {
            let transactional = pending.transactional;
            match outcome {
                Outcome::NotApplied => {}
                Outcome::Refused => units.add(&item.schema.refused(before.as_ref(), transactional)),
                Outcome::Written if unprocessed.contains(&item.id) => {}
                Outcome::Written => {
                    let after = match &item.effect {
                        Effect::Put(new) => Some(new.clone()),
                        Effect::Delete => None,
                        Effect::Check => before.clone(),
                        Effect::Update => self.read(&item.table, &item.key, authorization).await?,
                    };
                    let written = match item.effect {
                        // A condition check writes nothing; it is billed as a write of the
                        // item checked.
                        Effect::Check => item.schema.refused(before.as_ref(), transactional),
                        _ => item
                            .schema
                            .write(before.as_ref(), after.as_ref(), transactional),
                    };
                    units.add(&written);
                    self.items
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(item.id.clone(), after);
                }
            }
        }
        Ok(units)
    }

    /// The ids of a batch's unprocessed items (`UnprocessedItems`), which were not written.
    fn unprocessed(&self, answer: &Value) -> Vec<String> {
        let schemas = self.schemas.lock().unwrap_or_else(PoisonError::into_inner);
        let tables = answer.get("UnprocessedItems").and_then(Value::as_object);
        tables
            .into_iter()
            .flatten()
            .filter_map(|(table, writes)| Some((table, schemas.get(table)?, writes)))
            .flat_map(|(table, schema, writes)| {
                writes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |write| {
                        let item = write
                            .pointer("/PutRequest/Item")
                            .or_else(|| write.pointer("/DeleteRequest/Key"))?;
                        let key = schema.key_of(item.as_object()?)?;
                        Some(format!("{table}\n{}", Value::Object(key)))
                    })
            })
            .collect()
    }

    async fn current(
        &self,
        item: &Touched,
        authorization: Option<&str>,
    ) -> anyhow::Result<Option<Item>> {
        let known = self
            .items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&item.id)
            .cloned();
        match known {
            Some(known) => Ok(known),
            None => self.read(&item.table, &item.key, authorization).await,
        }
    }

    async fn schema(
        &self,
        table: &str,
        authorization: Option<&str>,
    ) -> anyhow::Result<Arc<TableSchema>> {
        if let Some(schema) = self
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(table)
        {
            return Ok(Arc::clone(schema));
        }
        let description = self
            .call(
                "DescribeTable",
                &json!({ "TableName": table }),
                authorization,
            )
            .await?;
        let schema = TableSchema::from_description(&description)
            .with_context(|| format!("reading the schema of {table} from {description}"))?;
        let schema = Arc::new(schema);
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(table.to_string(), Arc::clone(&schema));
        Ok(schema)
    }

    async fn read(
        &self,
        table: &str,
        key: &Item,
        authorization: Option<&str>,
    ) -> anyhow::Result<Option<Item>> {
        let answer = self
            .call(
                "GetItem",
                &json!({ "TableName": table, "Key": key, "ConsistentRead": true }),
                authorization,
            )
            .await?;
        Ok(answer.get("Item").and_then(Value::as_object).cloned())
    }

    async fn call(
        &self,
        operation: &str,
        body: &Value,
        authorization: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .post(format!("{}/", self.upstream))
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.to_string());
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let answer = request
            .send()
            .await
            .with_context(|| format!("{operation} on the emulator"))?;
        let status = answer.status();
        let text = answer
            .text()
            .await
            .with_context(|| format!("reading the emulator's answer to {operation}"))?;
        anyhow::ensure!(
            status.is_success(),
            "{operation} on the emulator answered {status}: {text}"
        );
        serde_json::from_str(&text).with_context(|| format!("reading {operation}'s answer {text}"))
    }
}
