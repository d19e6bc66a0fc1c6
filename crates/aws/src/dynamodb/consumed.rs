//! What DynamoDB says each request consumed, added up per container: every write and read asks
//! for `ReturnConsumedCapacity: INDEXES` (an interceptor on the client sets it, whatever the
//! call site), and the answer's units are added to a [`CapacityMeter`] that the ingest handler
//! reads once per batch and emits as metrics, so a deployed stack reports what it is billed.
//!
//! A write refused by its condition is billed too, but DynamoDB's error does not say how
//! much: those units are missing from the meter (they are rare: a redelivered message).

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item, batch_write_item, delete_item, get_item, put_item, query, transact_get_items,
    transact_write_items, update_item,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use std::sync::{Arc, Mutex, PoisonError};

/// Request units consumed since the meter was last read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    /// Write units, the table's and the indexes'.
    pub write_units: f64,
    /// Of them, the global secondary indexes'.
    pub index_write_units: f64,
    pub read_units: f64,
}

/// Shared by a client's interceptor and whoever reports what it consumed.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<Consumed>>);

impl CapacityMeter {
    /// What was consumed since the last call; the meter starts again from zero.
    pub fn take(&self) -> Consumed {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn add(&self, write: bool, capacities: &[ConsumedCapacity]) {
        let mut consumed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for capacity in capacities {
            let total = capacity.capacity_units().unwrap_or_default();
            if write {
                consumed.write_units += total;
                consumed.index_write_units += capacity
                    .global_secondary_indexes()
                    .into_iter()
                    .flat_map(|indexes| indexes.values())
                    .filter_map(|index| index.capacity_units())
                    .sum::<f64>();
            } else {
                consumed.read_units += total;
            }
        }
    }

    /// The interceptor to add to a DynamoDB client's configuration.
    pub fn interceptor(&self) -> CapacityInterceptor {
        CapacityInterceptor(self.clone())
    }
}

/// A DynamoDB client whose every read and write asks for its consumed capacity, and the meter
/// that adds it up.
pub fn measured_client(
    config: &aws_config::SdkConfig,
) -> (aws_sdk_dynamodb::Client, CapacityMeter) {
    let meter = CapacityMeter::default();
    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(meter.interceptor())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), meter)
}

#[derive(Debug)]
pub struct CapacityInterceptor(CapacityMeter);

/// Sets `ReturnConsumedCapacity` on the input of `$input` types that have it.
macro_rules! ask_for_capacity {
    ($input:expr, $($operation:ident :: $kind:ident),+) => {
        $(
            if let Some(input) = $input.downcast_mut::<$operation::$kind>() {
                input.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
                return;
            }
        )+
    };
}

fn ask(context: &mut BeforeSerializationInterceptorContextMut<'_>) {
    let input = context.input_mut();
    ask_for_capacity!(
        input,
        put_item::PutItemInput,
        update_item::UpdateItemInput,
        delete_item::DeleteItemInput,
        transact_write_items::TransactWriteItemsInput,
        batch_write_item::BatchWriteItemInput,
        get_item::GetItemInput,
        query::QueryInput,
        batch_get_item::BatchGetItemInput,
        transact_get_items::TransactGetItemsInput
    );
}

impl Intercept for CapacityInterceptor {
    fn name(&self) -> &'static str {
        "CapacityInterceptor"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ask(context);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let one =
            |capacity: Option<&ConsumedCapacity>| capacity.cloned().into_iter().collect::<Vec<_>>();
        let meter = &self.0;
        if let Some(out) = output.downcast_ref::<put_item::PutItemOutput>() {
            meter.add(true, &one(out.consumed_capacity()));
        } else if let Some(out) = output.downcast_ref::<update_item::UpdateItemOutput>() {
            meter.add(true, &one(out.consumed_capacity()));
        } else if let Some(out) = output.downcast_ref::<delete_item::DeleteItemOutput>() {
            meter.add(true, &one(out.consumed_capacity()));
        } else if let Some(out) =
            output.downcast_ref::<transact_write_items::TransactWriteItemsOutput>()
        {
            meter.add(true, out.consumed_capacity());
        } else if let Some(out) = output.downcast_ref::<batch_write_item::BatchWriteItemOutput>() {
            meter.add(true, out.consumed_capacity());
        } else if let Some(out) = output.downcast_ref::<get_item::GetItemOutput>() {
            meter.add(false, &one(out.consumed_capacity()));
        } else if let Some(out) = output.downcast_ref::<query::QueryOutput>() {
            meter.add(false, &one(out.consumed_capacity()));
        } else if let Some(out) = output.downcast_ref::<batch_get_item::BatchGetItemOutput>() {
            meter.add(false, out.consumed_capacity());
        } else if let Some(out) =
            output.downcast_ref::<transact_get_items::TransactGetItemsOutput>()
        {
            meter.add(false, out.consumed_capacity());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Capacity;
    use std::collections::HashMap;

    fn capacity(total: f64, indexes: &[(&str, f64)]) -> ConsumedCapacity {
        let indexes: HashMap<String, Capacity> = indexes
            .iter()
            .map(|(name, units)| {
                (
                    name.to_string(),
                    Capacity::builder().capacity_units(*units).build(),
                )
            })
            .collect();
        ConsumedCapacity::builder()
            .table_name("t")
            .capacity_units(total)
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .build()
    }

    #[test]
    fn adds_writes_with_their_index_share_and_reads_apart_until_taken() {
        let meter = CapacityMeter::default();
        meter.add(true, &[capacity(7.0, &[("gsi1", 2.0), ("gsi2", 1.0)])]);
        meter.add(true, &[capacity(4.0, &[]), capacity(2.0, &[("gsi5", 1.0)])]);
        meter.add(false, &[capacity(0.5, &[])]);
        assert_eq!(
            meter.take(),
            Consumed {
                write_units: 13.0,
                index_write_units: 4.0,
                read_units: 0.5,
            }
        );
        assert_eq!(meter.take(), Consumed::default());
    }
}
