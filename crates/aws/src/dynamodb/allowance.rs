//! PostAllowance: the posts an account has used in a pacing slice, one counter item per
//! slice that the table's TTL removes.

use super::{DynamoStore, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use socialcare_domain::page::sortable_time;
use socialcare_domain::ports::{PostAllowance, StoreError};

impl PostAllowance for DynamoStore {
    async fn reserve_posts(
        &self,
        account: &str,
        slice_start: DateTime<Utc>,
        wanted: u32,
        allowance: u32,
    ) -> Result<u32, StoreError> {
        let (pk, sk) = (format!("POSTS#{account}"), sortable_time(slice_start));
        // Gone a day after its slice, by the table's TTL.
        let expires = (slice_start + chrono::Duration::days(1)).timestamp();
        let mut asked = wanted.min(allowance);
        // Add what is asked unless it would pass the allowance; when it would, read what is
        // left and ask for that.
        for _ in 0..3 {
            if asked == 0 {
                return Ok(0);
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .update_expression("ADD used :asked SET expires_at = :expires")
                .condition_expression("attribute_not_exists(used) OR used <= :most")
                .expression_attribute_values(":asked", AttributeValue::N(asked.to_string()))
                .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
                .expression_attribute_values(
                    ":most",
                    AttributeValue::N((allowance - asked).to_string()),
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(asked),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(failed("reserve posts", e)),
            }
            let used = self
                .get(pk.clone(), &sk)
                .await?
                .and_then(|item| match item.get("used") {
                    Some(AttributeValue::N(n)) => n.parse::<u32>().ok(),
                    _ => None,
                })
                .unwrap_or(0);
            asked = wanted.min(allowance.saturating_sub(used));
        }
        // Others keep taking it: leave it to them this slice.
        Ok(0)
    }
}
