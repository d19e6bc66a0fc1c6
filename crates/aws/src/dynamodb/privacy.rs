//! PrivacyStore: erasing a customer, and the record of it.

use super::items::{event_item, from_item, to_item};
use super::keys::{CUSTOMER_SK, ERASURES, IDENTITY_SK, customer_pk, identity_pk};
use super::{DynamoStore, s};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use socialcare_domain::ports::{CommitError, PrivacyStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Erasure, TicketEvent};

/// A transaction holds at most 100 writes.
const MOST_WRITES: usize = 100;

fn delete(table: &str, pk: String, sk: &str) -> Result<Delete, StoreError> {
    Delete::builder()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(sk))
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))
}

impl PrivacyStore for DynamoStore {
    async fn replace_event(&self, event: &TicketEvent) -> Result<(), StoreError> {
        // Only an event with an item of its own: the arrival events that ride on their
        // messages' items hold nothing to erase.
        match self
            .put_if(
                event_item(event)?,
                "attribute_exists(pk)",
                None,
                CommitError::Conflict,
                "replace event",
            )
            .await
        {
            Ok(()) | Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(()),
            Err(CommitError::Store(e)) => Err(e),
        }
    }

    async fn delete_customer(&self, customer: &Customer) -> Result<(), CommitError> {
        let table = self.table.as_str();
        let mut identities = customer
            .identities
            .iter()
            .map(|identity| delete(table, identity_pk(&identity.key()), IDENTITY_SK))
            .collect::<Result<Vec<_>, _>>()?;
        // The customer goes in the last transaction, with the identities that fit beside it:
        // until it is gone, asking again finds what is left.
        while identities.len() >= MOST_WRITES {
            let batch = identities.split_off(identities.len() - (MOST_WRITES - 1));
            let writes = batch
                .into_iter()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .collect();
            self.transact(writes, "delete identities").await?;
        }
        let record = Delete::builder()
            .table_name(table)
            .key("pk", s(customer_pk(customer.id.as_str())))
            .key("sk", s(CUSTOMER_SK))
            .condition_expression("version = :version")
            .expression_attribute_values(
                ":version",
                AttributeValue::N(customer.version.to_string()),
            )
            .build()
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        let writes = std::iter::once(record)
            .chain(identities)
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .collect();
        self.transact(writes, "delete customer").await
    }

    async fn put_erasure(&self, erasure: &Erasure) -> Result<(), StoreError> {
        let item = to_item(
            erasure,
            [
                ("pk", ERASURES.into()),
                ("sk", erasure.customer_id.to_string()),
            ],
        )?;
        self.put_item(item, "put erasure").await
    }

    async fn get_erasure(&self, customer_id: &CustomerId) -> Result<Option<Erasure>, StoreError> {
        self.get_consistent(ERASURES.into(), customer_id.as_str())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_erasures(&self) -> Result<Vec<Erasure>, StoreError> {
        let mut erasures = self
            .partition(ERASURES.into(), "list erasures")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Erasure>, _>>()?;
        erasures.sort_by(|a, b| {
            (b.requested_at, &b.customer_id).cmp(&(a.requested_at, &a.customer_id))
        });
        Ok(erasures)
    }
}
