//! Customers across channels: linking the identities an integrator knows belong together.

use crate::customer::{Customer, Identity};
use crate::ids::CustomerId;
use crate::ports::{CommitError, CustomerStore, IngestStore, StoreError};
use crate::retry::{Round, optimistic};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no customer {0}")]
    NotFound(CustomerId),
    #[error("that identity belongs to customer {0}; merging customers is not supported")]
    Taken(CustomerId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the customer kept changing; try again")]
    Contention,
}

/// Links `identity` to the customer: from then on, messages from it thread with the
/// customer's other identities and show in the same history. Linking twice changes nothing.
pub async fn link_identity<S: CustomerStore + IngestStore>(
    store: &S,
    id: &CustomerId,
    identity: Identity,
    now: DateTime<Utc>,
) -> Result<Customer, LinkError> {
    let identity = &identity;
    optimistic(
        move || async move {
            let customer = store
                .get_customer(id)
                .await?
                .ok_or_else(|| LinkError::NotFound(id.clone()))?;
            if let Some(owner) = store.find_customer(&identity.key()).await? {
                return match owner.id == customer.id {
                    true => Ok(Round::Done(customer)),
                    false => Err(LinkError::Taken(owner.id)),
                };
            }
            let mut identities = customer.identities.clone();
            identities.push(identity.clone());
            let linked = Customer {
                identities,
                updated_at: customer.updated_at.max(now),
                version: customer.version + 1,
                ..customer.clone()
            };
            match store
                .link_identity(&linked, customer.version, identity)
                .await
            {
                Ok(()) => Ok(Round::Done(linked)),
                // The identity was claimed meanwhile, or the customer moved: look again.
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || LinkError::Contention,
    )
    .await
}
