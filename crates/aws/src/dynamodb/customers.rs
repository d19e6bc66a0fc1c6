//! CustomerStore: customers, their identities and their tickets.

use super::items::{from_item, to_item};
use super::keys::{CUSTOMER_SK, IDENTITY_SK, customer_pk, identity_pk};
use super::tickets::TicketIndex;
use super::{DynamoStore, Item, put_new, put_versioned, s};
use socialcare_domain::ports::{CommitError, CustomerStore, StoreError};
use socialcare_domain::{Customer, CustomerId, Identity, Page, Ticket, TicketQuery};
use std::collections::HashMap;

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
        let mut claim: Item = HashMap::new();
        claim.insert("pk".into(), s(identity_pk(&identity.key())));
        claim.insert("sk".into(), s(IDENTITY_SK));
        claim.insert("customer_id".into(), s(customer.id.as_str()));
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
}
