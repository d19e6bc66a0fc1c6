//! ContactStore: each note twice, under its contact (who gave it) and under its customer
//! (what they gave), so that both lookups are one Query and nothing is scanned.

use super::items::{from_item, to_item};
use super::keys::{contact_pk, contact_sk, customer_contacts_pk};
use super::{DynamoStore, s};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, SecondsFormat, Utc};
use socialcare_domain::customer::{Contact, ContactMark, ContactMarks, ContactNote};
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
        }
        self.write_all(deletes, "forget contacts").await
    }

    async fn mark_contact(&self, mark: &ContactMark) -> Result<(), StoreError> {
        let data = serde_json::to_string(mark).map_err(|e| StoreError::invalid(e.to_string()))?;
        // An update: when its owner last wrote, on the same item, stays.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(&mark.contact)))
            .key("sk", s(MARK_SK))
            .update_expression("SET mark = :mark")
            .expression_attribute_values(":mark", s(data))
            .send()
            .await
            .map_err(|e| super::failed("mark contact", e))?;
        Ok(())
    }

    async fn contact_marks(&self, contact: &Contact) -> Result<ContactMarks, StoreError> {
        // Eventually consistent: a mark a moment old may be missed once, and a reply sent to
        // an address that bounced bounces again.
        let Some(item) = self.get_item(contact_pk(contact), MARK_SK, false).await? else {
            return Ok(ContactMarks::default());
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        let time = |name: &str| {
            text(name)
                .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| at.with_timezone(&Utc))
        };
        Ok(ContactMarks {
            mark: text("mark")
                .map(|data| serde_json::from_str(&data))
                .transpose()
                .map_err(|e| StoreError::invalid(format!("a stored mark: {e}")))?,
            written_at: time("written_at"),
            verified_written_at: time("verified_at"),
        })
    }

    async fn note_written(
        &self,
        contact: &Contact,
        at: DateTime<Utc>,
        verified: bool,
    ) -> Result<(), StoreError> {
        let fields: &[&str] = match verified {
            true => &["written_at", "verified_at"],
            false => &["written_at"],
        };
        // Each the later of the two: a mail delivered again, older, changes nothing.
        for field in fields {
            let noted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(contact_pk(contact)))
                .key("sk", s(MARK_SK))
                .update_expression(format!("SET {field} = :at"))
                .condition_expression(format!("attribute_not_exists({field}) OR {field} < :at"))
                .expression_attribute_values(":at", s(stamp(at)))
                .send()
                .await;
            match noted {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(super::failed("note written", e)),
            }
        }
        Ok(())
    }

    async fn forget_marks(&self, contact: &Contact) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(contact)))
            .key("sk", s(MARK_SK))
            .send()
            .await
            .map_err(|e| super::failed("forget marks", e))?;
        Ok(())
    }
}

/// The sort key of what is known of an address's mail (its mark, when its owner last wrote),
/// beside the notes of who gave it (`cus_…`), outside their range.
const MARK_SK: &str = "MARK";

/// A time that sorts as it compares.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
