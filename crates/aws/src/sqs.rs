use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeName,
    SendMessageBatchRequestEntry,
};
use socialcare_domain::ports::{Delivery, Outgoing, Queue, QueueError};
use std::time::Duration;

/// A queue on SQS, standard or FIFO.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn failed<E, R>(action: &str, e: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let failure = crate::failure::failure_of(&e);
    QueueError::new(failure, format!("sqs {action}: {}", DisplayErrorContext(e)))
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

/// A batch answers 200 with the entries it refused: each is a failure to report, the
/// caller's when SQS says so.
fn refused_entry(action: &str, refused: &BatchResultErrorEntry) -> QueueError {
    let failure = match refused.sender_fault() {
        true => socialcare_domain::ports::Failure::Invalid,
        false => socialcare_domain::ports::Failure::Unavailable,
    };
    QueueError::new(
        failure,
        format!(
            "sqs {action}: entry {} refused: {}: {}",
            refused.id(),
            refused.code(),
            refused.message().unwrap_or_default()
        ),
    )
}

impl Queue for SqsQueue {
    async fn send(&self, message: Outgoing) -> Result<(), QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(message.body)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.dedupe_id);
        // FIFO queues refuse a per-message delay, even a zero one.
        if !message.delay.is_zero() {
            request = request.delay_seconds(seconds(message.delay));
        }
        request.send().await.map_err(|e| failed("send", e))?;
        Ok(())
    }

    async fn send_all(&self, messages: Vec<Outgoing>) -> Result<(), QueueError> {
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, message)| {
                    let mut entry = SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(&message.body)
                        .set_message_group_id(message.group_id.clone())
                        .set_message_deduplication_id(message.dedupe_id.clone());
                    // FIFO queues refuse a per-message delay, even a zero one.
                    if !message.delay.is_zero() {
                        entry = entry.delay_seconds(seconds(message.delay));
                    }
                    entry
                        .build()
                        .map_err(|e| QueueError::invalid(format!("a batch entry: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| failed("send batch", e))?;
            if let Some(refused) = output.failed().first() {
                return Err(refused_entry("send batch", refused));
            }
        }
        Ok(())
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(seconds(wait).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|e| failed("receive", e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| {
                let attributes = message.attributes.unwrap_or_default();
                Some(Delivery {
                    message_id: message.message_id?,
                    receipt: message.receipt_handle?,
                    body: message.body.unwrap_or_default(),
                    group_id: attributes
                        .get(&MessageSystemAttributeName::MessageGroupId)
                        .cloned(),
                    receive_count: attributes
                        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|count| count.parse().ok())
                        .unwrap_or(1),
                })
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| failed("delete", e))?;
        Ok(())
    }

    async fn delete_all(&self, receipts: Vec<String>) -> Result<(), QueueError> {
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .map_err(|e| QueueError::invalid(format!("a batch entry: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| failed("delete batch", e))?;
            if let Some(refused) = output.failed().first() {
                return Err(refused_entry("delete batch", refused));
            }
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout))
            .send()
            .await
            .map_err(|e| failed("change visibility", e))?;
        Ok(())
    }
}
