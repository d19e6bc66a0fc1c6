//! ContactStore: each note twice, under its contact (who gave it) and under its customer
//! (what they gave), so that both lookups are one Query and nothing is scanned.

use super::items::{from_item, to_item};
use super::keys::{contact_pk, contact_sk, customer_contacts_pk};
use super::{DynamoStore, s};
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, SecondsFormat, Utc};
use socialcare_domain::customer::{Contact, ContactKind, ContactMark, ContactNote};
use socialcare_domain::ids::CustomerId;
use socialcare_domain::ports::{ContactStore, MOST_NOTES_OF_A_CONTACT, StoreError};

impl ContactStore for DynamoStore {
    async fn note_contacts(&self, notes: &[ContactNote]) -> Result<(), StoreError> {
        let mut writes = Vec::new();
        for note in notes {
            let customer = note.customer_id.as_str();
            for keys in [
                [
                    ("pk", contact_pk(&note.contact)),
                    ("sk", customer.to_string()),
                ],
                [
                    ("pk", customer_contacts_pk(customer)),
                    ("sk", contact_sk(&note.contact)),
                ],
            ] {
                let put = PutRequest::builder()
                    .set_item(Some(to_item(note, keys)?))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))?;
                writes.push(WriteRequest::builder().put_request(put).build());
            }
        }
        self.write_all(writes, "note contacts").await
    }

    async fn contact_notes(&self, contact: &Contact) -> Result<Vec<ContactNote>, StoreError> {
        // Customer ids all begin `cus_`: the range is every one, read a page at a time.
        let items = self
            .range_page(
                contact_pk(contact),
                "cus_",
                "cus_~",
                MOST_NOTES_OF_A_CONTACT as u32,
                "read contact",
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn customer_contacts(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Vec<ContactNote>, StoreError> {
        let items = self
            .partition(customer_contacts_pk(customer_id.as_str()), "read contacts")
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn forget_contacts(&self, customer_id: &CustomerId) -> Result<(), StoreError> {
        let customer = customer_id.as_str();
        let mut deletes = Vec::new();
        // Consistent: a note written a moment ago (an ingest racing the erasure) goes too.
        let notes = self
            .partition_consistent(customer_contacts_pk(customer), "read contacts to forget")
            .await?
            .into_iter()
            .map(from_item::<ContactNote>)
            .collect::<Result<Vec<_>, _>>()?;
        for note in notes {
            for (pk, sk) in [
                (contact_pk(&note.contact), customer.to_string()),
                (customer_contacts_pk(customer), contact_sk(&note.contact)),
            ] {
                let delete = DeleteRequest::builder()
                    .key("pk", s(pk))
                    .key("sk", s(sk))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))?;
                deletes.push(WriteRequest::builder().delete_request(delete).build());
            }
            if note.contact.kind == ContactKind::Email {
                let delete = DeleteRequest::builder()
                    .key("pk", s(contact_pk(&note.contact)))
                    .key("sk", s(MARK_SK))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))?;
                deletes.push(WriteRequest::builder().delete_request(delete).build());
            }
        }
        self.write_all(deletes, "forget contacts").await
    }

    async fn mark_contact(&self, mark: &ContactMark) -> Result<(), StoreError> {
        let mut item = to_item(
            mark,
            [("pk", contact_pk(&mark.contact)), ("sk", MARK_SK.into())],
        )?;
        item.insert("marked_at".into(), s(stamp(mark.at)));
        self.put_item(item, "mark contact").await
    }

    async fn contact_mark(&self, contact: &Contact) -> Result<Option<ContactMark>, StoreError> {
        // Eventually consistent: a mark a moment old may be missed once, and a reply sent to
        // an address that bounced bounces again.
        self.get_item(contact_pk(contact), MARK_SK, false)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn unmark_contact(
        &self,
        contact: &Contact,
        written_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(contact)))
            .key("sk", s(MARK_SK))
            .condition_expression("marked_at < :written")
            .expression_attribute_values(":written", s(stamp(written_at)))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // No mark, or a later one: it stays.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(super::failed("unmark contact", e)),
        }
    }
}

/// The sort key of an address's mark, beside the notes of who gave it (`cus_…`), outside
/// their range.
const MARK_SK: &str = "MARK";

/// A time that sorts as it compares.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
