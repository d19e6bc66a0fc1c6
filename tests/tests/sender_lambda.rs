//! The `sender` Lambda's handler on the emulator: an SQS event built from a real receive of
//! the outbox queue (the shape of the Lambda fixture), a rate limit answered by hiding the job
//! until the reset (not by failing it back at once), then the post.

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use socialcare_app::outbox::Outbox;
use socialcare_app::sender::handle_sqs_event;
use socialcare_aws::{DynamoStore, SqsQueue};
use socialcare_domain::ingest::{IngestOutcome, ingest};
use socialcare_domain::ports::{Delivery, FixedClock, Queue, TicketReads};
use socialcare_domain::replies::{
    DeliveryState, PostError, ReplyChannel, ReplyRequest, SendPolicy, write_reply,
};
use socialcare_domain::{Actor, TicketId};
use socialcare_tests::contract::replies::ScriptedPlatform;
use socialcare_tests::events::x_mention;
use socialcare_tests::{emulator, fixture};

/// The Lambda fixture's SQS event, carrying these deliveries.
fn sqs_event(deliveries: &[Delivery]) -> SqsEvent {
    let mut event: Value =
        serde_json::from_str(&fixture("lambda-events/example-sqs-event-obj.json")).unwrap();
    let template = event["Records"][0].clone();
    event["Records"] = deliveries
        .iter()
        .map(|delivery| {
            let mut record = template.clone();
            record["messageId"] = json!(delivery.message_id);
            record["receiptHandle"] = json!(delivery.receipt);
            record["body"] = json!(delivery.body);
            record["attributes"]["ApproximateReceiveCount"] =
                json!(delivery.receive_count.to_string());
            record
        })
        .collect();
    serde_json::from_value(event).expect("an SQS event")
}

async fn receive_soon(queue: &SqsQueue, within: std::time::Duration) -> Vec<Delivery> {
    let started = std::time::Instant::now();
    loop {
        let got = queue.receive(10, std::time::Duration::ZERO).await.unwrap();
        if !got.is_empty() || started.elapsed() > within {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_rate_limited_job_is_hidden_until_the_reset_then_posted_and_deleted() {
    let stack = emulator::deploy().await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let outbox = SqsQueue::new(stack.sqs(), stack.outbox_queue_url.clone());

    let now = Utc::now();
    let IngestOutcome::Opened { ticket_id, .. } = ingest(
        &store,
        &x_mention("t1", "ann", "@acme_care down", now - Duration::minutes(5)),
    )
    .await
    .unwrap() else {
        panic!("opens a ticket")
    };
    let request = ReplyRequest {
        text: "Sorry Ann, checking".into(),
        channel: ReplyChannel::Public,
        key: "lambda-1".into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    };
    let reply = write_reply(&store, &ticket_id, &request, now)
        .await
        .unwrap()
        .reply;
    Outbox::new(outbox.clone())
        .enqueue_reply(&reply)
        .await
        .unwrap();

    let clock = FixedClock::new(now);
    let policy = SendPolicy::default();
    let platform = ScriptedPlatform::answering(vec![Err(PostError::RateLimited {
        retry_at: now + Duration::seconds(2),
        reason: "x-rate-limit-remaining: 0".into(),
    })]);
    let first = receive_soon(&outbox, std::time::Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    let response = handle_sqs_event(
        &store,
        &platform,
        &outbox,
        sqs_event(&first),
        &clock,
        &policy,
    )
    .await;
    let kept: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(kept, [first[0].message_id.as_str()]);
    assert_eq!(
        state(&store, &ticket_id, &reply.id).await,
        DeliveryState::Pending
    );

    // Hidden for the 2 s to the reset, not the queue's 180 s visibility timeout.
    let again = receive_soon(&outbox, std::time::Duration::from_secs(8)).await;
    assert_eq!(again.len(), 1, "the job is back after the reset");
    assert_eq!(again[0].receive_count, 2);
    clock.set(now + Duration::seconds(2));
    let response = handle_sqs_event(
        &store,
        &platform,
        &outbox,
        sqs_event(&again),
        &clock,
        &policy,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(platform.posted().len(), 2);
    assert_eq!(
        state(&store, &ticket_id, &reply.id).await,
        DeliveryState::Sent
    );
    // Deleted, not merely hidden: the queue holds nothing, visible or not.
    let attributes = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(&stack.outbox_queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    for held in [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        assert_eq!(
            attributes.get(&held).map(String::as_str),
            Some("0"),
            "{held:?}"
        );
    }
}

async fn state(
    store: &DynamoStore,
    ticket_id: &TicketId,
    id: &socialcare_domain::MessageId,
) -> DeliveryState {
    let detail = store.ticket_detail(ticket_id).await.unwrap().unwrap();
    let reply = detail.messages.iter().find(|m| m.id == *id).unwrap();
    reply.delivery.as_ref().unwrap().state
}
