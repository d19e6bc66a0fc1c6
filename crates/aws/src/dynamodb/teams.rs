//! TeamTurns: the round-robin counter of each team.

use super::{DynamoStore, failed, s};
use aws_sdk_dynamodb::types::AttributeValue;
use socialcare_domain::ports::{StoreError, TeamTurns};

impl TeamTurns for DynamoStore {
    async fn next_turn(&self, team: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("TEAM#{team}")))
            .key("sk", s("#TURNS"))
            .update_expression("ADD turns :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| failed("next turn", e))?;
        let turns = output
            .attributes
            .and_then(|a| match a.get("turns") {
                Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
                _ => None,
            })
            .ok_or_else(|| StoreError::invalid("the turn counter came back empty"))?;
        Ok(turns.saturating_sub(1))
    }
}
