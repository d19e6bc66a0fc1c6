//! The events integrators hear, on AWS: the table's stream (read from moto's DynamoDB Streams)
//! through the events function's handler onto the stack's EventBridge bus, and from there to
//! an SQS queue a rule targets, as an integrator would set it up.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_aws::{DynamoStore, EventBus, StreamChange};
use socialcare_domain::ingest::ingest;
use socialcare_domain::ports::{IngestStore, TicketCommands, TicketReads};
use socialcare_domain::{Actor, TicketStatus, lifecycle, privacy};
use socialcare_tests::emulator::{self, Stack};
use socialcare_tests::events::{brand_reply, inbound};
use socialcare_wiring::lambda::{EventsFunction, stream_changes};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
}

/// Every change on the table's stream so far, from its oldest record.
async fn stream_so_far(stack: &Stack) -> Vec<StreamChange> {
    let table = stack
        .dynamodb()
        .describe_table()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap();
    let arn = table
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_string();
    let streams = aws_sdk_dynamodbstreams::Client::new(&stack.config);
    let described = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut changes = Vec::new();
    for shard in described.stream_description().unwrap().shards() {
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let mut next = iterator.shard_iterator().map(str::to_string);
        while let Some(iterator) = next.take() {
            let page = streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .unwrap();
            if page.records().is_empty() {
                break;
            }
            changes.extend(page.records().iter().filter_map(StreamChange::of_record));
            next = page.next_shard_iterator().map(str::to_string);
        }
    }
    changes
}

/// A queue that a rule on the bus fills with every socialcare event.
async fn subscribed_queue(stack: &Stack) -> String {
    let sqs = stack.sqs();
    let queue = sqs
        .create_queue()
        .queue_name(format!("{}-integrator", stack.name))
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn =
        attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let events = aws_sdk_eventbridge::Client::new(&stack.config);
    events
        .put_rule()
        .name("integrator")
        .event_bus_name(&stack.event_bus)
        .event_pattern(json!({"source": ["socialcare"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("integrator")
        .event_bus_name(&stack.event_bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// The EventBridge envelopes the queue holds, oldest first.
async fn received(stack: &Stack, url: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let page = stack
            .sqs()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if page.messages().is_empty() {
            return all;
        }
        for message in page.messages() {
            all.push(serde_json::from_str(message.body().unwrap()).unwrap());
            stack
                .sqs()
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn the_tables_changes_go_on_the_bus_as_events_with_stable_ids() {
    let stack = emulator::deploy().await;
    let queue = subscribed_queue(&stack).await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let function = EventsFunction::new(
        store.clone(),
        EventBus::new(
            aws_sdk_eventbridge::Client::new(&stack.config),
            &stack.event_bus,
        ),
        socialcare_aws::SqsQueue::new(stack.sqs(), stack.reminders_queue_url.clone()),
    );

    let opened = ingest(&store, &inbound("m1", "ann", "my fibre is down", at(0)))
        .await
        .unwrap();
    let socialcare_domain::IngestOutcome::Opened { ticket_id, .. } = opened else {
        panic!("{opened:?}")
    };
    ingest(&store, &brand_reply("b1", "ann", "m1", at(1)))
        .await
        .unwrap();
    ingest(&store, &inbound("m2", "ann", "still down", at(2)))
        .await
        .unwrap();
    let sally = Actor::Agent { id: "sally".into() };
    lifecycle::add_note(&store, &ticket_id, "called her", sally.clone(), at(3))
        .await
        .unwrap();
    lifecycle::change_status(
        &store,
        &ticket_id,
        TicketStatus::Resolved,
        sally.clone(),
        at(4),
    )
    .await
    .unwrap();

    // A reply written through socialcare, then posted: reply.sent (nothing while pending).
    let ticket = TicketReads::ticket_detail(&store, &ticket_id)
        .await
        .unwrap()
        .unwrap()
        .ticket;
    let mut body = brand_reply("r1", "ann", "m2", at(3)).message;
    body.external_id = "reply-key-1".into();
    let mut reply = socialcare_domain::Message::new(ticket_id.clone(), body, at(3));
    reply.delivery = Some(socialcare_domain::delivery::Delivery::pending(
        socialcare_domain::delivery::Target::Callback {
            url: "https://crm.example/hooks".into(),
        },
        false,
    ));
    let update = socialcare_domain::ports::TicketUpdate {
        ticket: socialcare_domain::Ticket {
            version: ticket.version + 1,
            ..ticket.clone()
        },
        version_before: ticket.version,
        events: vec![],
        replies: vec![reply.clone()],
        samples: vec![],
    };
    TicketCommands::update_ticket(&store, &update)
        .await
        .unwrap();
    let mut sent = reply.clone();
    sent.delivery = Some(socialcare_domain::delivery::Delivery {
        state: socialcare_domain::delivery::DeliveryState::Sent,
        platform_id: Some("their-1".into()),
        sent_at: Some(at(3) + chrono::Duration::seconds(2)),
        ..reply.delivery.clone().unwrap()
    });
    sent.version = reply.version + 1;
    IngestStore::record_delivery(&store, &sent, reply.version, None)
        .await
        .unwrap();

    let changes = stream_so_far(&stack).await;
    let published = function.handle(&changes).await.unwrap();
    assert_eq!(
        published, 4,
        "created, received, reply sent, status changed"
    );
    let envelopes = received(&stack, &queue).await;
    let types: Vec<&str> = envelopes
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "ticket.created",
            "message.received",
            "ticket.status_changed",
            "reply.sent"
        ]
    );
    for envelope in &envelopes {
        assert_eq!(envelope["source"], "socialcare");
        assert_eq!(envelope["detail"]["account"], "crm");
        assert_eq!(envelope["detail"]["type"], envelope["detail-type"]);
    }
    let created = &envelopes[0]["detail"];
    assert_eq!(created["data"]["ticket"]["id"], ticket_id.as_str());
    assert_eq!(created["created_at"], "2026-11-22T09:00:00Z");
    let posted = &envelopes[3]["detail"];
    assert_eq!(
        posted["data"],
        json!({"ticket_id": ticket_id.as_str(), "message_id": reply.id.as_str(),
               "platform_id": "their-1", "sent_at": "2026-11-22T09:03:02Z"})
    );
    assert_eq!(posted["created_at"], "2026-11-22T09:03:02Z");
    let status = &envelopes[2]["detail"];
    assert_eq!(
        status["data"],
        json!({"ticket_id": ticket_id.as_str(), "from": "open", "to": "resolved",
               "actor": {"type": "agent", "id": "sally"}})
    );
    assert_eq!(status["created_at"], "2026-11-22T09:04:00Z");

    // The same records again (the mapping's retry): the same events, by id.
    function.handle(&changes).await.unwrap();
    let again = received(&stack, &queue).await;
    let ids = |envelopes: &[Value]| -> Vec<String> {
        envelopes
            .iter()
            .map(|e| e["detail"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&again), ids(&envelopes));

    // An erasure tells customer.erased once it is done, and nothing of the rewritten items.
    let customer = TicketReads::ticket_detail(&store, &ticket_id)
        .await
        .unwrap()
        .unwrap()
        .ticket
        .customer_id;
    privacy::erase_customer(&store, &customer, "ops", at(5))
        .await
        .unwrap();
    let later: Vec<StreamChange> = stream_so_far(&stack).await.split_off(changes.len());
    function.handle(&later).await.unwrap();
    let erased = received(&stack, &queue).await;
    let types: Vec<&str> = erased
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    // The erasure closed the resolved ticket, and says so.
    assert_eq!(types, ["ticket.status_changed", "customer.erased"]);
    assert_eq!(
        erased[0]["detail"]["data"],
        json!({"ticket_id": ticket_id.as_str(), "from": "resolved", "to": "closed",
               "actor": {"type": "agent", "id": "ops"}})
    );
    assert_eq!(
        erased[1]["detail"]["data"],
        json!({"customer_id": customer.as_str(), "tickets": 1, "messages": 3})
    );
}

#[tokio::test]
async fn a_merge_tells_customer_merged_once_it_is_done() {
    let stack = emulator::deploy().await;
    let queue = subscribed_queue(&stack).await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let function = EventsFunction::new(
        store.clone(),
        EventBus::new(
            aws_sdk_eventbridge::Client::new(&stack.config),
            &stack.event_bus,
        ),
        socialcare_aws::SqsQueue::new(stack.sqs(), stack.reminders_queue_url.clone()),
    );
    let customer_of = |outcome: socialcare_domain::IngestOutcome| match outcome {
        socialcare_domain::IngestOutcome::Opened { ticket, .. } => ticket.customer_id,
        other => panic!("{other:?}"),
    };
    let ann = customer_of(
        ingest(&store, &inbound("m1", "ann", "charged twice", at(0)))
            .await
            .unwrap(),
    );
    let smith = customer_of(
        ingest(&store, &inbound("s1", "ann.smith", "no refund", at(1)))
            .await
            .unwrap(),
    );
    let before = stream_so_far(&stack).await.len();
    socialcare_domain::customers::merge_customers(&store, &ann, &smith, "sally", at(2))
        .await
        .unwrap();
    let merge: Vec<StreamChange> = stream_so_far(&stack).await.split_off(before);
    assert_eq!(function.handle(&merge).await.unwrap(), 1);
    let told = received(&stack, &queue).await;
    let types: Vec<&str> = told
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["customer.merged"],
        "the moved ticket's trail tells nothing more"
    );
    assert_eq!(told[0]["detail"]["account"], "crm");
    assert_eq!(told[0]["detail"]["created_at"], "2026-11-22T09:02:00Z");
    assert_eq!(
        told[0]["detail"]["data"],
        json!({"customer_id": ann.as_str(), "merged": smith.as_str(), "identities": 1,
               "tickets": 1, "merged_by": "sally"})
    );
    // Merging again writes nothing new, and the records read again are the same event.
    socialcare_domain::customers::merge_customers(&store, &ann, &smith, "sally", at(3))
        .await
        .unwrap();
    function.handle(&merge).await.unwrap();
    let again = received(&stack, &queue).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["detail"]["id"], told[0]["detail"]["id"]);
}

#[test]
fn a_lambda_stream_batch_reads_as_the_changes_it_holds() {
    let image = json!({"pk": {"S": "EVENTS#tkt_1"}, "sk": {"S": "x"}, "version": {"N": "3"},
                       "tags": {"L": [{"S": "a"}, {"BOOL": true}]}, "m": {"M": {"n": {"NULL": true}}}});
    let record = |name: &str| {
        json!({"eventID": "1", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
               "awsRegion": "us-east-1",
               "dynamodb": {"ApproximateCreationDateTime": 1764000000, "Keys": {"pk": {"S": "EVENTS#tkt_1"}, "sk": {"S": "x"}},
                            "NewImage": if name == "REMOVE" { Value::Null } else { image.clone() },
                            "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_IMAGE"},
               "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-11-22T00:00:00.000"})
    };
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(
        json!({"Records": [record("INSERT"), record("MODIFY"), record("REMOVE")]}),
    )
    .unwrap();
    let changes = stream_changes(&event.records);
    assert_eq!(changes.len(), 2);
    assert!(changes[0].inserted);
    assert!(!changes[1].inserted);
    let item = &changes[0].image;
    assert_eq!(item["pk"], AttributeValue::S("EVENTS#tkt_1".into()));
    assert_eq!(item["version"], AttributeValue::N("3".into()));
    assert_eq!(
        item["tags"],
        AttributeValue::L(vec![
            AttributeValue::S("a".into()),
            AttributeValue::Bool(true)
        ])
    );
    assert_eq!(
        item["m"],
        AttributeValue::M([("n".to_string(), AttributeValue::Null(true))].into())
    );
}

/// A record that does not read as what its key says (an item written by hand, or by another
/// version) is left out: failing the batch would fail it on every retry, then lose the whole
/// batch to the dead letters.
#[tokio::test]
async fn a_change_that_does_not_read_is_left_out_not_a_failed_batch() {
    let stack = emulator::deploy().await;
    let queue = subscribed_queue(&stack).await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let function = EventsFunction::new(
        store.clone(),
        EventBus::new(
            aws_sdk_eventbridge::Client::new(&stack.config),
            &stack.event_bus,
        ),
        socialcare_aws::SqsQueue::new(stack.sqs(), stack.reminders_queue_url.clone()),
    );
    ingest(&store, &inbound("m1", "ann", "my fibre is down", at(0)))
        .await
        .unwrap();
    let mut changes = stream_so_far(&stack).await;
    let junk = StreamChange {
        inserted: true,
        image: [
            (
                "pk".to_string(),
                AttributeValue::S("EVENTS#tkt_junk".into()),
            ),
            ("sk".to_string(), AttributeValue::S("x".into())),
            ("event".to_string(), AttributeValue::N("7".into())),
        ]
        .into(),
    };
    changes.insert(0, junk);
    assert_eq!(function.handle(&changes).await.unwrap(), 1);
    let envelopes = received(&stack, &queue).await;
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0]["detail-type"], "ticket.created");
}

/// The events function's other half on AWS: each event a subscription wants is recorded on the
/// table and queued on the reminders queue (SQS), whose worker POSTs it, signed, once; the
/// same stream records again queue nothing that is sent twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_on_aws_hears_the_streams_events_once() {
    use socialcare_app::deliveries::{DeliveryJob, Next, deliver};
    use socialcare_app::reminders::ReminderJob;
    use socialcare_domain::ports::{Queue, WebhookStore};
    use socialcare_domain::subscriptions::{DeliveryOutcome, WebhookSubscription};
    use socialcare_platforms::{HttpNotifier, OutboundGuard};
    use socialcare_tests::fake_subscriber::FakeSubscriber;
    use socialcare_webhooks::integration::signature;

    let stack = emulator::deploy().await;
    let store = DynamoStore::connect(&stack.config, stack.table.clone());
    let queue = socialcare_aws::SqsQueue::new(stack.sqs(), stack.reminders_queue_url.clone());
    let function = EventsFunction::new(
        store.clone(),
        EventBus::new(
            aws_sdk_eventbridge::Client::new(&stack.config),
            &stack.event_bus,
        ),
        queue.clone(),
    );
    let subscriber = FakeSubscriber::start(&[]);
    let subscription = WebhookSubscription {
        id: "whk_aws".into(),
        url: subscriber.url(),
        events: vec!["ticket.created".into()],
        secret: "whsub_aws_secret".into(),
        previous_secret: None,
        previous_until: None,
        created_by: "ops".into(),
        created_at: at(0),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        version: 1,
    };
    store.create_subscription(&subscription).await.unwrap();
    ingest(&store, &inbound("m1", "ann", "my fibre is down", at(0)))
        .await
        .unwrap();
    ingest(&store, &inbound("m2", "ann", "still down", at(1)))
        .await
        .unwrap();

    let changes = stream_so_far(&stack).await;
    function.handle(&changes).await.unwrap();
    // The batch again, as the event source mapping retries it.
    function.handle(&changes).await.unwrap();
    let mut jobs: Vec<DeliveryJob> = Vec::new();
    for _ in 0..5 {
        for message in queue.receive(10, std::time::Duration::ZERO).await.unwrap() {
            match serde_json::from_str(&message.body).unwrap() {
                ReminderJob::Delivery(job) => jobs.push(job),
                other => panic!("{other:?}"),
            }
            queue.delete(&message.receipt).await.unwrap();
        }
    }
    assert!(!jobs.is_empty());
    assert!(jobs.iter().all(|job| job.subscription_id == "whk_aws"));
    let notifier = HttpNotifier::new(
        Vec::new(),
        OutboundGuard::allowing_private_targets(),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    for job in &jobs {
        assert_eq!(
            deliver(&store, &notifier, job, Utc::now()).await.unwrap(),
            Next::Done
        );
    }
    let received = subscriber.received();
    assert_eq!(received.len(), 1, "ticket.created only, once");
    let post = &received[0];
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["type"], "ticket.created");
    assert_eq!(body["data"]["ticket"]["subject"], "my fibre is down");
    assert_eq!(post.idempotency_key.as_deref(), body["id"].as_str());
    let header = post.signature.as_deref().map(str::as_bytes);
    signature::verify(b"whsub_aws_secret", header, &post.body, Utc::now())
        .expect("signed with the subscription's secret");
    let record = store
        .get_delivery("whk_aws", body["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.outcome, DeliveryOutcome::Delivered);
    assert_eq!(record.attempts.len(), 1);
}
