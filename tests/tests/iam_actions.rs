//! Each function may call what its work calls, as template.yaml grants it: the store's work of
//! ingest (contacts noted, customers merged on their own, a bounce's mark made and taken off),
//! of the sender (a marked address refused) and of the API (merge, export, erasure) is run on
//! moto through the count-proxy, and every DynamoDB operation it made must be among the
//! actions the function's role allows. moto checks no IAM: without this, a missing action is
//! found by the first deploy, as an AccessDenied on a customer's message.

use chrono::{DateTime, Duration, TimeZone, Utc};
use socialcare_aws::DynamoStore;
use socialcare_domain::customers::merge_customers;
use socialcare_domain::ingest::{InboundEvent, IngestOutcome, ingest_message};
use socialcare_domain::mail_feedback::{
    FeedbackEvent, FeedbackKind, FeedbackOutcome, MailFeedback, apply_feedback, email_contact,
};
use socialcare_domain::ports::{ContactStore, IngestStore, TicketLists};
use socialcare_domain::privacy::{erase_customer, export_customer};
use socialcare_domain::replies::{
    DeliveryState, OutboxJob, Platform, PostError, ReplyChannel, ReplyRequest, SendPolicy, Step,
    deliver, write_reply,
};
use socialcare_domain::threading::Rules;
use socialcare_domain::{Actor, CustomerId, Message, Source, TicketId};
use socialcare_loadgen::counts::Counts;
use socialcare_tests::emulator::{self, CountProxy};
use socialcare_tests::events::inbound;
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

const MAILBOX: &str = "support@acme.example";
const SALES: &str = "sales@acme.example";

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

/// The DynamoDB actions template.yaml grants the function `name` (`dynamodb:PutItem`, ...).
fn granted(name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(socialcare_tests::repo_root().join("template.yaml"))
        .expect("template.yaml");
    let template = YamlLoader::load_from_str(&text)
        .expect("template.yaml is YAML")
        .remove(0);
    let function = &template["Resources"][name];
    assert!(!function.is_badvalue(), "template.yaml has no {name}");
    let mut actions = BTreeSet::new();
    for policy in function["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        for statement in policy["Statement"].as_vec().into_iter().flatten() {
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            let action = &statement["Action"];
            let listed: Vec<&Yaml> = match action {
                Yaml::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            actions.extend(
                listed
                    .into_iter()
                    .filter_map(Yaml::as_str)
                    .filter(|a| a.starts_with("dynamodb:"))
                    .map(str::to_string),
            );
        }
    }
    actions
}

/// The IAM actions the proxied requests needed: `DynamoDB_20120810.PutItem` is
/// `dynamodb:PutItem`; a transaction needs the actions of what it writes: puts and updates
/// are counted (the merge's transaction also deletes the customer merged away, which the
/// proxy does not tell apart: DeleteItem is checked where a function calls it alone).
fn needed(counts: &Counts) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for operation in counts.operations.keys() {
        // `DynamoDB_20120810.GetItem TICKET.TICKET`: the operation, then what it read.
        let operation = operation.split(' ').next().unwrap_or_default();
        let Some(name) = operation.strip_prefix("DynamoDB_20120810.") else {
            continue;
        };
        match name {
            "TransactWriteItems" => {
                actions.insert("dynamodb:PutItem".to_string());
                actions.insert("dynamodb:UpdateItem".to_string());
            }
            "TransactGetItems" => {
                actions.insert("dynamodb:GetItem".to_string());
            }
            other => {
                actions.insert(format!("dynamodb:{other}"));
            }
        }
    }
    actions
}

fn assert_granted(function: &str, counts: &Counts) {
    let granted = granted(function);
    assert!(counts.requests > 0, "the store went through the proxy");
    let missing: Vec<String> = needed(counts).difference(&granted).cloned().collect();
    assert!(
        missing.is_empty(),
        "{function} calls {missing:?}, which template.yaml does not grant it (it grants {granted:?})"
    );
}

/// A mail from `address` to `mailbox`, its sender authenticated.
fn mail(id: &str, address: &str, mailbox: &str, minute: i64) -> InboundEvent {
    let mut event = inbound(id, address, "About my order", at(minute));
    event.message.source = Source::Email;
    event.message.account = mailbox.into();
    event.message.author.id = address.into();
    event.message.author.email = Some(address.into());
    event.message.author.verified_email = true;
    event
}

fn ticket_of(outcome: &IngestOutcome) -> TicketId {
    match outcome {
        IngestOutcome::Opened { ticket_id, .. }
        | IngestOutcome::Joined { ticket_id, .. }
        | IngestOutcome::Duplicate { ticket_id, .. } => ticket_id.clone(),
    }
}

/// Posts every reply, as the mail system takes it.
struct Sent;

impl Platform for Sent {
    async fn post(&self, reply: &Message) -> Result<String, PostError> {
        Ok(format!("{}@acme.example", reply.id))
    }
    async fn publish(&self, _: Source, _: &str, _: &str) -> Result<String, PostError> {
        Err(PostError::Permanent("no status posts here".into()))
    }
}

fn reply(key: &str) -> ReplyRequest {
    ReplyRequest {
        text: "We are on it.".into(),
        channel: ReplyChannel::Auto,
        key: key.into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    }
}

async fn customer_of(store: &DynamoStore, event: &InboundEvent) -> CustomerId {
    store
        .find_customer(&event.message.customer_key())
        .await
        .unwrap()
        .expect("a customer")
        .id
}

#[tokio::test]
async fn each_function_calls_only_what_its_role_allows() {
    let stack = emulator::deploy().await;
    let proxied = CountProxy::start().await;
    let store = DynamoStore::new(
        proxied.dynamodb(&stack),
        aws_sdk_dynamodbstreams::Client::new(&stack.config),
        stack.table.clone(),
    );
    let mut rules = Rules::default();
    rules.link_same_email.insert(MAILBOX.to_string());
    rules.link_same_email.insert(SALES.to_string());

    // Ingest: two mailboxes hear from one verified address (two customers, merged on their
    // own), another customer writes.
    let first = mail("m1", "ann@example.com", MAILBOX, 0);
    ingest_message(&store, &first, &rules).await.unwrap();
    let second = mail("m2", "ann@example.com", SALES, 1);
    let merged = ingest_message(&store, &second, &rules)
        .await
        .unwrap()
        .merged;
    assert_eq!(merged.len(), 1, "merged on their own");
    let bob = mail("m3", "bob@example.com", MAILBOX, 2);
    let bobs_ticket = ticket_of(&ingest_message(&store, &bob, &rules).await.unwrap().outcome);
    assert_granted("IngestFunction", &proxied.take().await);

    // The API lists the tickets (the console's inbox, `GET /v1/tickets`) and writes a reply;
    // the sender sends it.
    let listed = store
        .list_tickets(&socialcare_domain::TicketQuery::newest(50))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 3, "ann's two, bob's one");
    let inbox = store
        .inbox(&socialcare_domain::inbox::InboxQuery::new(
            socialcare_domain::inbox::InboxView::Open,
            "sally",
        ))
        .await
        .unwrap();
    assert_eq!(inbox.len(), 3);
    let written = write_reply(&store, &bobs_ticket, &reply("k1"), at(3))
        .await
        .unwrap()
        .reply;
    assert_granted("ApiFunction", &proxied.take().await);
    let policy = SendPolicy::default();
    let step = deliver(&store, &Sent, &OutboxJob::of(&written), 1, at(4), &policy)
        .await
        .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Sent));
    assert_granted("SenderFunction", &proxied.take().await);

    // Ingest: it bounced.
    let bounced = FeedbackEvent {
        feedback: MailFeedback {
            kind: FeedbackKind::Bounce,
            mailbox: MAILBOX.into(),
            message_id: format!("{}@acme.example", written.id),
            recipient: Some("bob@example.com".into()),
            detail: "5.1.1 user unknown".into(),
        },
        received_at: at(5),
    };
    let outcome = apply_feedback(&store, &bounced).await.unwrap();
    assert!(
        matches!(outcome, FeedbackOutcome::Marked { .. }),
        "{outcome:?}"
    );
    assert_granted("IngestFunction", &proxied.take().await);

    // The sender refuses the next reply to the address.
    let held = write_reply(&store, &bobs_ticket, &reply("k2"), at(6))
        .await
        .unwrap()
        .reply;
    proxied.take().await;
    let step = deliver(&store, &Sent, &OutboxJob::of(&held), 1, at(7), &policy)
        .await
        .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Failed));
    assert_granted("SenderFunction", &proxied.take().await);

    // Ingest: he writes again, which takes the mark off.
    let again = mail("m4", "bob@example.com", MAILBOX, 8);
    ingest_message(&store, &again, &rules).await.unwrap();
    assert_eq!(
        store
            .contact_marks(&email_contact("bob@example.com"))
            .await
            .unwrap()
            .in_force(),
        None
    );
    assert_granted("IngestFunction", &proxied.take().await);

    // The API: an agent merges two customers, an admin exports and erases one.
    let (ann, bob) = (
        customer_of(&store, &first).await,
        customer_of(&store, &bob).await,
    );
    merge_customers(&store, &ann, &bob, "sally", at(9))
        .await
        .unwrap();
    export_customer(&store, &ann, at(10))
        .await
        .unwrap()
        .unwrap();
    erase_customer(&store, &ann, "admin", at(11)).await.unwrap();
    assert!(
        socialcare_domain::ports::CustomerStore::get_customer(&store, &ann)
            .await
            .unwrap()
            .is_none()
    );
    assert_granted("ApiFunction", &proxied.take().await);
}
