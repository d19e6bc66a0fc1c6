//! What DynamoDB bills for one write or read under on-demand pricing, given the items as they
//! were before and after it: the rules of the developer guide ("Item sizes", "Read/write
//! capacity mode", "Global secondary indexes: provisioned throughput considerations",
//! "Condition expressions", "Transactions: capacity management").
//!
//! - An item's size is the UTF-8 length of its attribute names plus the sizes of its values.
//! - A write costs one unit per started KB of the larger of the item before and after it, at
//!   least one; a delete, the item deleted. A write whose condition fails still costs the
//!   units of the item as it is (at least one) and writes no index.
//! - Inside `TransactWriteItems` every item costs twice (prepare and commit), a
//!   `ConditionCheck` as a write of the item checked. The indexes are kept up to date outside the
//!   transaction, at the standard price.
//! - Each global secondary index costs a write of the item's index entry (the table's key,
//!   the index's key and the attributes it projects) when the entry appears, changes or
//!   disappears: two when the index key changes (the old entry deleted, the new put), none when
//!   nothing it projects changes.
//! - A read costs one unit per started 4 KB, at least one: of the item for a `GetItem`, of the
//!   items returned together for a `Query` (per item in a `BatchGetItem`); half that when
//!   eventually consistent, which every index read is.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An item in DynamoDB's JSON (`{"name": {"S": "..."}, ...}`).
pub type Item = Map<String, Value>;

/// The key schema and indexes of a table, as `DescribeTable` tells them.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The hash key, then the range key if any.
    pub key: Vec<String>,
    pub indexes: Vec<IndexSchema>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexSchema {
    pub name: String,
    pub key: Vec<String>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

/// The write request units of one request, the table's and each index's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteUnits {
    pub table: u64,
    pub indexes: BTreeMap<String, u64>,
    /// The table's units by kind of item (see [`item_kind`]), to tell which items cost.
    pub items: BTreeMap<String, u64>,
}

impl WriteUnits {
    pub fn total(&self) -> u64 {
        self.table + self.indexes.values().sum::<u64>()
    }

    pub fn add(&mut self, other: &WriteUnits) {
        self.table += other.table;
        for (index, units) in &other.indexes {
            *self.indexes.entry(index.clone()).or_default() += units;
        }
        for (kind, units) in &other.items {
            *self.items.entry(kind.clone()).or_default() += units;
        }
    }
}

impl TableSchema {
    /// Reads a `DescribeTable` answer (`{"Table": {...}}`).
    pub fn from_description(description: &Value) -> Option<TableSchema> {
        let table = description.get("Table")?;
        let key_of = |schema: &Value| -> Option<Vec<String>> {
            let mut elements: Vec<(bool, String)> = schema
                .as_array()?
                .iter()
                .filter_map(|element| {
                    let name = element.get("AttributeName")?.as_str()?;
                    let range = element.get("KeyType")?.as_str()? == "RANGE";
                    Some((range, name.to_string()))
                })
                .collect();
            elements.sort();
            Some(elements.into_iter().map(|(_, name)| name).collect())
        };
        let indexes = table
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|index| {
                let projection = index.get("Projection")?;
                let projection = match projection.get("ProjectionType")?.as_str()? {
                    "ALL" => Projection::All,
                    "KEYS_ONLY" => Projection::KeysOnly,
                    _ => Projection::Include(
                        projection
                            .get("NonKeyAttributes")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect(),
                    ),
                };
                Some(IndexSchema {
                    name: index.get("IndexName")?.as_str()?.to_string(),
                    key: key_of(index.get("KeySchema")?)?,
                    projection,
                })
            })
            .collect();
        Some(TableSchema {
            key: key_of(table.get("KeySchema")?)?,
            indexes,
        })
    }

    /// The item's key attributes, when it has them all.
    pub fn key_of(&self, item: &Item) -> Option<Item> {
        self.key
            .iter()
            .map(|name| Some((name.clone(), item.get(name)?.clone())))
            .collect()
    }

    /// What `index` holds of `item`: nothing when the item lacks one of the index's key
    /// attributes (the index is sparse), else the keys and the projected attributes.
    fn entry(&self, index: &IndexSchema, item: &Item) -> Option<Item> {
        if !index.key.iter().all(|name| item.contains_key(name)) {
            return None;
        }
        let entry = item
            .iter()
            .filter(|(name, _)| {
                self.key.contains(name)
                    || index.key.contains(name)
                    || match &index.projection {
                        Projection::All => true,
                        Projection::KeysOnly => false,
                        Projection::Include(names) => names.contains(name),
                    }
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Some(entry)
    }

    /// A write that took effect, taking the item from `before` to `after` (`None`: absent).
    /// `transactional`: inside `TransactWriteItems` (the table's part costs twice).
    pub fn write(
        &self,
        before: Option<&Item>,
        after: Option<&Item>,
        transactional: bool,
    ) -> WriteUnits {
        let size = |item: Option<&Item>| item.map_or(0, item_size);
        let table = write_units(size(before).max(size(after))) * if transactional { 2 } else { 1 };
        let indexes = self
            .indexes
            .iter()
            .map(|index| {
                let old = before.and_then(|item| self.entry(index, item));
                let new = after.and_then(|item| self.entry(index, item));
                let units = match (&old, &new) {
                    (None, None) => 0,
                    (Some(entry), None) | (None, Some(entry)) => write_units(item_size(entry)),
                    (Some(old), Some(new)) => {
                        let key_changed =
                            index.key.iter().any(|name| old.get(name) != new.get(name));
                        if key_changed {
                            write_units(item_size(old)) + write_units(item_size(new))
                        } else if old != new {
                            write_units(item_size(new))
                        } else {
                            0
                        }
                    }
                };
                (index.name.clone(), units)
            })
            .filter(|(_, units)| *units > 0)
            .collect();
        let items = self
            .kind(before.or(after))
            .map(|kind| (kind, table))
            .into_iter()
            .collect();
        WriteUnits {
            table,
            indexes,
            items,
        }
    }

    fn kind(&self, item: Option<&Item>) -> Option<String> {
        let text = |name: Option<&String>| {
            name.and_then(|name| item?.get(name)?.get("S")?.as_str().map(str::to_string))
        };
        Some(item_kind(
            &text(self.key.first())?,
            &text(self.key.get(1)).unwrap_or_default(),
        ))
    }

    /// A write refused (its condition failed, or its transaction was cancelled): the item as it
    /// is, at least one unit, no index written.
    pub fn refused(&self, current: Option<&Item>, transactional: bool) -> WriteUnits {
        let table = write_units(current.map_or(0, item_size)) * if transactional { 2 } else { 1 };
        WriteUnits {
            table,
            indexes: BTreeMap::new(),
            items: self
                .kind(current)
                .map(|kind| (kind, table))
                .into_iter()
                .collect(),
        }
    }
}

/// What kind of item a key names, from the words that open its parts: `TICKET#1` and
/// `#TICKET` are `TICKET.TICKET`, `TICKET#1` and `MSG#2026...` `TICKET.MSG`, `EVENTS#1` and
/// `2026-...#id` `EVENTS`.
pub fn item_kind(pk: &str, sk: &str) -> String {
    let word = |part: &str| {
        part.split('#')
            .find(|segment| !segment.is_empty())
            .filter(|segment| segment.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .map(str::to_string)
    };
    match (word(pk), word(sk)) {
        (Some(pk), Some(sk)) => format!("{pk}.{sk}"),
        (Some(pk), None) => pk,
        (None, _) => "other".to_string(),
    }
}

/// One unit per started KB, at least one.
pub fn write_units(size: usize) -> u64 {
    (size.div_ceil(1024) as u64).max(1)
}

/// Read request units of reading `size` bytes in one request: one per started 4 KB, at least
/// one, half when eventually consistent.
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = (size.div_ceil(4096) as f64).max(1.0);
    if consistent { units } else { units / 2.0 }
}

/// The read request units a read answered with `answer` costs. `request` tells whether it was
/// strongly consistent and which index it read.
pub fn read_cost(operation: &str, request: &Value, answer: &Value) -> f64 {
    let consistent = request.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
    let items = |list: Option<&Value>| -> Vec<usize> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(item_size)
            .collect()
    };
    match operation {
        "GetItem" => read_units(
            answer
                .get("Item")
                .and_then(Value::as_object)
                .map_or(0, item_size),
            consistent,
        ),
        // A query's items are added up before rounding; an index is read eventually
        // consistently (the request cannot ask otherwise).
        "Query" | "Scan" => read_units(items(answer.get("Items")).iter().sum(), consistent),
        "BatchGetItem" => {
            let consistent_of = |table: &str| {
                request
                    .pointer(&format!(
                        "/RequestItems/{}/ConsistentRead",
                        table.replace('~', "~0").replace('/', "~1")
                    ))
                    .and_then(Value::as_bool)
                    == Some(true)
            };
            answer
                .get("Responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(table, found)| {
                    items(Some(found))
                        .into_iter()
                        .map(|size| read_units(size, consistent_of(table)))
                        .sum::<f64>()
                })
                .sum()
        }
        "TransactGetItems" => answer
            .get("Responses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|response| {
                let size = response
                    .get("Item")
                    .and_then(Value::as_object)
                    .map_or(0, item_size);
                2.0 * read_units(size, true)
            })
            .sum(),
        _ => 0.0,
    }
}

/// The size of an item: names plus values.
pub fn item_size(attributes: &Item) -> usize {
    attributes
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value in DynamoDB's JSON (`{"S": "..."}`, `{"N": "12"}`, ...).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else {
        return 0;
    };
    let text_len = |v: &Value| v.as_str().map_or(0, str::len);
    // Binary arrives base64-encoded: 3 bytes per 4 characters.
    let binary_len = |v: &Value| text_len(v) / 4 * 3;
    let list = inner.as_array().map(Vec::as_slice).unwrap_or_default();
    match kind.as_str() {
        "S" => text_len(inner),
        "N" => number_size(inner.as_str().unwrap_or_default()),
        "B" => binary_len(inner),
        "BOOL" | "NULL" => 1,
        "SS" => list.iter().map(text_len).sum(),
        "NS" => list
            .iter()
            .map(|n| number_size(n.as_str().unwrap_or_default()))
            .sum(),
        "BS" => list.iter().map(binary_len).sum(),
        // Lists and maps: 3 bytes, plus 1 per element, plus the elements (and maps' names).
        "L" => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        "M" => 3 + inner.as_object().map_or(0, |m| m.len() + item_size(m)),
        _ => text_len(inner),
    }
}

/// Numbers take about one byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits = number
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        value.as_object().cloned().expect("an object")
    }

    /// A table like the product's: two indexes projecting all, one sparse index projecting
    /// one attribute, one projecting keys only.
    fn schema() -> TableSchema {
        TableSchema::from_description(&json!({"Table": {
            "KeySchema": [
                {"AttributeName": "sk", "KeyType": "RANGE"},
                {"AttributeName": "pk", "KeyType": "HASH"}
            ],
            "GlobalSecondaryIndexes": [
                {"IndexName": "all", "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": "apk", "KeyType": "HASH"}, {"AttributeName": "ask", "KeyType": "RANGE"}]},
                {"IndexName": "status", "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": "spk", "KeyType": "HASH"}]},
                {"IndexName": "due", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["reminder"]},
                 "KeySchema": [{"AttributeName": "dpk", "KeyType": "HASH"}]},
                {"IndexName": "keys", "Projection": {"ProjectionType": "KEYS_ONLY"},
                 "KeySchema": [{"AttributeName": "kpk", "KeyType": "HASH"}]}
            ]
        }}))
        .expect("a schema")
    }

    #[test]
    fn reads_the_key_and_the_projections_from_the_description() {
        let schema = schema();
        assert_eq!(schema.key, ["pk", "sk"]);
        assert_eq!(schema.indexes.len(), 4);
        assert_eq!(schema.indexes[0].key, ["apk", "ask"]);
        assert_eq!(schema.indexes[0].projection, Projection::All);
        assert_eq!(
            schema.indexes[2].projection,
            Projection::Include(vec!["reminder".into()])
        );
        assert_eq!(schema.indexes[3].projection, Projection::KeysOnly);
        assert_eq!(TableSchema::from_description(&json!({})), None);
        let key = schema.key_of(&item(
            json!({"pk": {"S": "a"}, "sk": {"S": "b"}, "x": {"N": "1"}}),
        ));
        assert_eq!(key, Some(item(json!({"pk": {"S": "a"}, "sk": {"S": "b"}}))));
        assert_eq!(schema.key_of(&item(json!({"pk": {"S": "a"}}))), None);
    }

    #[test]
    fn sizes_items_by_names_and_values() {
        let item = item(json!({
            "pk": {"S": "ticket#1"},          // 2 + 8
            "n": {"N": "12345"},              // 1 + 4
            "ok": {"BOOL": true},             // 2 + 1
            "tags": {"SS": ["a", "bc"]},      // 4 + 3
            "m": {"M": {"k": {"S": "v"}}},    // 1 + 3 + 1 + 2
            "l": {"L": [{"S": "xy"}]}         // 1 + 3 + 1 + 2
        }));
        assert_eq!(item_size(&item), 10 + 5 + 3 + 7 + 7 + 7);
    }

    #[test]
    fn a_new_item_writes_the_table_and_each_index_it_has_the_keys_of() {
        let schema = schema();
        let body = "x".repeat(1_500);
        let new = item(json!({
            "pk": {"S": "t"}, "sk": {"S": "1"},
            "apk": {"S": "a"}, "ask": {"S": "1"},
            "dpk": {"S": "d"}, "reminder": {"S": "r"},
            "kpk": {"S": "k"},
            "body": {"S": body}
        }));
        let units = schema.write(None, Some(&new), false);
        // The item is over 1 KB; so is its entry in the index projecting all. The due index
        // holds the keys and the reminder, the keys-only index the keys; the status index
        // is not written (the item has no spk).
        assert_eq!(units.table, 2);
        assert_eq!(units.indexes.get("all"), Some(&2));
        assert_eq!(units.indexes.get("due"), Some(&1));
        assert_eq!(units.indexes.get("keys"), Some(&1));
        assert_eq!(units.indexes.get("status"), None);
        assert_eq!(units.total(), 6);
        // In a transaction the table's part costs twice, the indexes' once.
        let transactional = schema.write(None, Some(&new), true);
        assert_eq!(transactional.table, 4);
        assert_eq!(transactional.total(), 8);
    }

    #[test]
    fn an_update_costs_the_whole_item_and_only_the_indexes_it_changes() {
        let schema = schema();
        let body = "x".repeat(2_100);
        let before = item(json!({
            "pk": {"S": "t"}, "sk": {"S": "1"},
            "apk": {"S": "a"}, "ask": {"S": "1"},
            "dpk": {"S": "d"}, "reminder": {"S": "r"},
            "kpk": {"S": "k"},
            "body": {"S": body}, "n": {"N": "1"}
        }));
        // One small number changes: the whole 3 KB item is written, and the index projecting
        // all; the due and keys-only indexes project nothing that changed.
        let mut after = before.clone();
        after.insert("n".into(), json!({"N": "2"}));
        let units = schema.write(Some(&before), Some(&after), false);
        assert_eq!(units.table, 3);
        assert_eq!(units.indexes, BTreeMap::from([("all".to_string(), 3)]));
        // The index key moves: the old entry is deleted and the new one put.
        let mut moved = before.clone();
        moved.insert("ask".into(), json!({"S": "2"}));
        let units = schema.write(Some(&before), Some(&moved), false);
        assert_eq!(units.indexes.get("all"), Some(&6));
        // The reminder goes (the due key with it): one delete in the due index.
        let mut queued = before.clone();
        queued.remove("dpk");
        queued.remove("reminder");
        let units = schema.write(Some(&before), Some(&queued), false);
        assert_eq!(units.indexes.get("due"), Some(&1));
        assert_eq!(units.indexes.get("keys"), None);
        // Nothing changes: the table is still written, no index.
        let units = schema.write(Some(&before), Some(&before), false);
        assert_eq!(units.table, 3);
        assert_eq!(units.indexes, BTreeMap::new());
        // A shrinking item costs its larger size; a delete, the item it deletes.
        let small = item(json!({"pk": {"S": "t"}, "sk": {"S": "1"}}));
        assert_eq!(schema.write(Some(&before), Some(&small), false).table, 3);
        let deleted = schema.write(Some(&before), None, false);
        assert_eq!(deleted.table, 3);
        assert_eq!(deleted.indexes.get("all"), Some(&3));
        assert_eq!(deleted.indexes.get("due"), Some(&1));
        // Deleting what is not there still costs one unit.
        assert_eq!(schema.write(None, None, false).total(), 1);
    }

    #[test]
    fn a_refused_write_costs_the_item_as_it_is_and_no_index() {
        let schema = schema();
        let existing = item(
            json!({"pk": {"S": "t"}, "sk": {"S": "1"}, "apk": {"S": "a"}, "ask": {"S": "1"}, "body": {"S": "x".repeat(1_100)}}),
        );
        let refused = schema.refused(Some(&existing), false);
        assert_eq!(refused.table, 2);
        assert_eq!(refused.indexes, BTreeMap::new());
        assert_eq!(refused.items, BTreeMap::from([("other".to_string(), 2)]));
        assert_eq!(schema.refused(None, false).table, 1);
        assert_eq!(schema.refused(Some(&existing), true).table, 4);
    }

    #[test]
    fn tells_the_kind_of_an_item_by_its_keys() {
        assert_eq!(item_kind("TICKET#01J", "#TICKET"), "TICKET.TICKET");
        assert_eq!(
            item_kind("TICKET#01J", "MSG#2026-12-01T10:00:00Z#01K"),
            "TICKET.MSG"
        );
        assert_eq!(
            item_kind("EVENTS#01J", "2026-12-01T10:00:00Z#01K"),
            "EVENTS"
        );
        assert_eq!(
            item_kind("METRICS#x#channel#3", "2026-12-01#public"),
            "METRICS"
        );
        assert_eq!(item_kind("REPORT_ACCOUNTS", "x:42"), "REPORT_ACCOUNTS");
        assert_eq!(item_kind("t", "1"), "other");
        let schema = schema();
        let ticket = item(json!({"pk": {"S": "TICKET#1"}, "sk": {"S": "#TICKET"}}));
        let units = schema.write(None, Some(&ticket), true);
        assert_eq!(
            units.items,
            BTreeMap::from([("TICKET.TICKET".to_string(), 2)])
        );
    }

    #[test]
    fn reads_cost_per_started_four_kilobytes() {
        let big = json!({"pk": {"S": "x".repeat(5_000)}});
        let small = json!({"pk": {"S": "a"}});
        let consistent = json!({"ConsistentRead": true});
        assert_eq!(
            read_cost("GetItem", &consistent, &json!({"Item": big})),
            2.0
        );
        assert_eq!(
            read_cost("GetItem", &json!({}), &json!({"Item": small})),
            0.5
        );
        // Nothing found still costs the minimum.
        assert_eq!(read_cost("GetItem", &consistent, &json!({})), 1.0);
        // A query's items are added up before rounding: 2 small items are one half unit.
        let page = json!({"Items": [small, small]});
        assert_eq!(read_cost("Query", &json!({}), &page), 0.5);
        let page = json!({"Items": [big, small]});
        assert_eq!(read_cost("Query", &consistent, &page), 2.0);
        // A batch rounds per item, consistent where its table asks.
        let batch = json!({"RequestItems": {"t": {"ConsistentRead": true}, "u": {}}});
        let found = json!({"Responses": {"t": [big, small], "u": [small]}});
        assert_eq!(read_cost("BatchGetItem", &batch, &found), 2.0 + 1.0 + 0.5);
        let transact = json!({"Responses": [{"Item": small}, {}]});
        assert_eq!(read_cost("TransactGetItems", &json!({}), &transact), 4.0);
        assert_eq!(read_cost("PutItem", &json!({}), &json!({})), 0.0);
    }
}
