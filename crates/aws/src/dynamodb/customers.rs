//! CustomerStore: customers, their identities and their tickets.

use super::items::{from_item, to_item};
use super::keys::{CUSTOMER_SK, IDENTITY_SK, MERGES, customer_pk, identity_pk};
use super::tickets::TicketIndex;
use super::{DynamoStore, Item, put_new, put_versioned, s};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use socialcare_domain::ports::{CommitError, CustomerStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Identity, Merge, Page, Ticket, TicketQuery};
use std::collections::HashMap;

/// A transaction holds at most 100 writes.
const MOST_WRITES: usize = 100;

fn identity_claim(identity: &Identity, customer: &CustomerId) -> Item {
    let mut claim: Item = HashMap::new();
    claim.insert("pk".into(), s(identity_pk(&identity.key())));
    claim.insert("sk".into(), s(IDENTITY_SK));
    claim.insert("customer_id".into(), s(customer.as_str()));
    claim
}

/// The identity's record made to name `into`, while it still names `from`.
fn hand_over(
    table: &str,
    identity: &Identity,
    from: &CustomerId,
    into: &CustomerId,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(identity_claim(identity, into)))
        .condition_expression("customer_id IN (:from, :into)")
        .expression_attribute_values(":from", s(from.as_str()))
        .expression_attribute_values(":into", s(into.as_str()))
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    pub(super) async fn get_customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        self.get(customer_pk(id), CUSTOMER_SK)
            .await?
            .map(from_item)
            .transpose()
    }
}

impl CustomerStore for DynamoStore {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        DynamoStore::get_customer(self, id.as_str()).await
    }

    async fn link_identity(
        &self,
        customer: &Customer,
        version_before: u64,
        identity: &Identity,
    ) -> Result<(), CommitError> {
        let claim = identity_claim(identity, &customer.id);
        let record = to_item(
            customer,
            [
                ("pk", customer_pk(customer.id.as_str())),
                ("sk", CUSTOMER_SK.into()),
            ],
        )?;
        let writes = vec![
            put_new(&self.table, claim)?,
            put_versioned(&self.table, record, version_before)?,
        ];
        self.transact(writes, "link identity").await
    }

    async fn customer_tickets(
        &self,
        id: &CustomerId,
        query: &TicketQuery,
    ) -> Result<Page<Ticket>, StoreError> {
        self.query_tickets(TicketIndex::Customer, customer_pk(id.as_str()), query)
            .await
    }

    async fn absorb_customer(
        &self,
        into: &Customer,
        into_version_before: u64,
        absorbed: &Customer,
    ) -> Result<(), CommitError> {
        let table = self.table.as_str();
        let mut handovers = absorbed
            .identities
            .iter()
            .map(|identity| hand_over(table, identity, &absorbed.id, &into.id))
            .collect::<Result<Vec<_>, _>>()?;
        // Both customers go in the last transaction, with the identities that fit beside
        // them; the rest are handed over first (naming `into` already is what they end as).
        while handovers.len() > MOST_WRITES - 2 {
            let extra = (handovers.len() - (MOST_WRITES - 2)).min(MOST_WRITES);
            let batch = handovers.split_off(handovers.len() - extra);
            self.transact(batch, "hand identities over").await?;
        }
        let record = to_item(
            into,
            [
                ("pk", customer_pk(into.id.as_str())),
                ("sk", CUSTOMER_SK.into()),
            ],
        )?;
        let gone = Delete::builder()
            .table_name(table)
            .key("pk", s(customer_pk(absorbed.id.as_str())))
            .key("sk", s(CUSTOMER_SK))
            .condition_expression("version = :version")
            .expression_attribute_values(
                ":version",
                AttributeValue::N(absorbed.version.to_string()),
            )
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let mut writes = vec![
            put_versioned(table, record, into_version_before)?,
            TransactWriteItem::builder().delete(gone).build(),
        ];
        writes.extend(handovers);
        self.transact(writes, "merge customers").await
    }

    async fn put_merge(&self, merge: &Merge) -> Result<(), CommitError> {
        let item = to_item(
            merge,
            [("pk", MERGES.into()), ("sk", merge.customer_id.to_string())],
        )?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            // INTO is a reserved word: the attribute goes by a name placeholder.
            .condition_expression("attribute_not_exists(pk) OR #into = :into")
            .expression_attribute_names("#into", "into")
            .expression_attribute_values(":into", s(merge.into.as_str()))
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let write = TransactWriteItem::builder().put(put).build();
        self.transact(vec![write], "put merge").await
    }

    async fn get_merge(&self, customer_id: &CustomerId) -> Result<Option<Merge>, StoreError> {
        self.get_consistent(MERGES.into(), customer_id.as_str())
            .await?
            .map(from_item)
            .transpose()
    }
}
