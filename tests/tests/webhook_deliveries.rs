//! Events to webhook subscribers: recorded and queued once, POSTed signed with the
//! subscription's secret, retried after a refusal, given up after a day; and the
//! `/v1/webhook-subscriptions` routes. On the embedded store with its queue and a subscriber
//! on a loopback port.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use socialcare_app::api::{self, ApiState};
use socialcare_app::deliveries::{DeliveryJob, Next, deliver, fan_out, redeliver};
use socialcare_app::error::json_errors;
use socialcare_app::outbox::Outbox;
use socialcare_app::reminders::ReminderJob;
use socialcare_domain::domain_events::{DomainEvent, EventBody};
use socialcare_domain::ports::{Queue, WebhookStore};
use socialcare_domain::subscriptions::{DeliveryOutcome, WebhookSubscription};
use socialcare_domain::{EventId, TicketId, TicketStatus};
use socialcare_platforms::{HttpNotifier, OutboundGuard};
use socialcare_sqlite::{Database, SqliteQueue, SqliteStore};
use socialcare_tests::fake_subscriber::FakeSubscriber;
use socialcare_tests::http::call;
use socialcare_webhooks::integration::signature;

const SECRET: &str = "whsub_test_secret";

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

fn subscription(url: &str, events: &[&str]) -> WebhookSubscription {
    WebhookSubscription {
        id: "whk_test".into(),
        url: url.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        secret: SECRET.into(),
        previous_secret: None,
        previous_until: None,
        created_by: "ops".into(),
        created_at: at(0),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        version: 1,
    }
}

fn status_changed(minute: i64) -> DomainEvent {
    let ticket_id = TicketId::derive(at(0), "t");
    DomainEvent {
        id: EventId::derive(at(minute), &format!("status:{minute}")).to_string(),
        created_at: at(minute),
        account: "crm".into(),
        body: EventBody::StatusChanged {
            ticket_id,
            from: TicketStatus::Open,
            to: TicketStatus::Resolved,
            actor: socialcare_domain::Actor::System,
        },
    }
}

fn notifier() -> HttpNotifier {
    HttpNotifier::new(
        Vec::new(),
        OutboundGuard::allowing_private_targets(),
        std::time::Duration::from_secs(5),
    )
    .unwrap()
}

/// The delivery jobs on the queue, taken off it.
async fn jobs(queue: &SqliteQueue) -> Vec<DeliveryJob> {
    let mut found = Vec::new();
    for delivery in queue.receive(10, std::time::Duration::ZERO).await.unwrap() {
        match serde_json::from_str(&delivery.body).unwrap() {
            ReminderJob::Delivery(job) => found.push(job),
            other => panic!("{other:?}"),
        }
        queue.delete(&delivery.receipt).await.unwrap();
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_that_answers_500_once_gets_the_event_again_signed_and_takes_it_once() {
    let db = Database::in_memory().unwrap();
    let (store, queue) = (SqliteStore::new(db.clone()), SqliteQueue::reminders(db));
    let subscriber = FakeSubscriber::start(&[500]);
    store
        .create_subscription(&subscription(&subscriber.url(), &["ticket.status_changed"]))
        .await
        .unwrap();
    let event = status_changed(1);
    let other = DomainEvent {
        body: EventBody::SatisfactionRated {
            ticket_id: TicketId::derive(at(0), "t"),
            score: 5,
        },
        id: EventId::derive(at(2), "rated").to_string(),
        ..event.clone()
    };

    // Only the type it wants; the same events again (a redelivered stream batch) record
    // nothing new: its job is queued again (the first may have been lost), and the two jobs
    // take turns, so the event is POSTed once.
    let both = [event.clone(), other.clone()];
    assert_eq!(fan_out(&store, &queue, &both).await.unwrap(), 1);
    assert_eq!(fan_out(&store, &queue, &both).await.unwrap(), 1);
    let queued = jobs(&queue).await;
    let expected = DeliveryJob {
        subscription_id: "whk_test".into(),
        event_id: event.id.clone(),
    };
    assert_eq!(queued, [expected.clone(), expected]);
    let job = &queued[0];
    // A claim of the delivery by another worker a minute ago: this job waits for it.
    let pending = store
        .get_delivery("whk_test", &event.id)
        .await
        .unwrap()
        .unwrap();
    let claimed = socialcare_domain::subscriptions::EventDelivery {
        attempting_since: Some(at(2)),
        version: pending.version + 1,
        ..pending.clone()
    };
    store.put_delivery(&claimed, pending.version).await.unwrap();
    let waiting = deliver(&store, &notifier(), job, at(3)).await.unwrap();
    assert!(matches!(waiting, Next::Again(_)), "{waiting:?}");
    assert!(subscriber.received().is_empty());

    let first = deliver(&store, &notifier(), job, at(5)).await.unwrap();
    let Next::Again(wait) = first else {
        panic!("{first:?}")
    };
    assert!(wait <= std::time::Duration::from_secs(30), "{wait:?}");
    let record = store
        .get_delivery("whk_test", &event.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.outcome, DeliveryOutcome::Pending);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].status, Some(500));
    let failing = store.get_subscription("whk_test").await.unwrap().unwrap();
    assert_eq!(failing.failing_since, Some(at(5)));

    let later = at(5) + Duration::from_std(wait).unwrap();
    assert_eq!(
        deliver(&store, &notifier(), job, later).await.unwrap(),
        Next::Done
    );
    let record = store
        .get_delivery("whk_test", &event.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.outcome, DeliveryOutcome::Delivered);
    let statuses: Vec<Option<u16>> = record.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
    assert_eq!(
        store
            .get_subscription("whk_test")
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );
    // The other job, or this one again (the queue's redelivery): nothing is sent.
    assert_eq!(
        deliver(&store, &notifier(), &queued[1], later)
            .await
            .unwrap(),
        Next::Done
    );

    let received = subscriber.received();
    assert_eq!(received.len(), 2);
    for post in &received {
        assert_eq!(post.idempotency_key.as_deref(), Some(event.id.as_str()));
        let header = post.signature.as_deref().map(str::as_bytes);
        signature::verify(SECRET.as_bytes(), header, &post.body, Utc::now())
            .expect("signed with the subscription's secret");
        assert!(signature::verify(b"another secret", header, &post.body, Utc::now()).is_err());
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body["id"], event.id.as_str());
        assert_eq!(body["type"], "ticket.status_changed");
        assert_eq!(body["created_at"], "2026-11-22T09:01:00Z");
        assert_eq!(body["data"]["to"], "resolved");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let db = Database::in_memory().unwrap();
    let (store, queue) = (SqliteStore::new(db.clone()), SqliteQueue::reminders(db));
    let subscriber = FakeSubscriber::start(&[]);
    let created = subscription(&subscriber.url(), &[]);
    store.create_subscription(&created).await.unwrap();
    let rotated = created.rotated("whsub_the_new_one".into(), at(0));
    assert_eq!(rotated.previous_until, Some(at(24 * 60)));
    store
        .put_subscription(&rotated, created.version)
        .await
        .unwrap();
    let (soon, later) = (status_changed(1), status_changed(2));
    fan_out(&store, &queue, &[soon.clone(), later.clone()])
        .await
        .unwrap();
    let queued = jobs(&queue).await;
    assert_eq!(queued.len(), 2);
    for job in &queued {
        let when = match job.event_id == soon.id {
            true => at(10),
            false => at(24 * 60 + 1),
        };
        assert_eq!(
            deliver(&store, &notifier(), job, when).await.unwrap(),
            Next::Done
        );
    }
    let received = subscriber.received();
    assert_eq!(received.len(), 2);
    let verifies = |secret: &[u8], event: &DomainEvent| {
        let post = received
            .iter()
            .find(|p| p.idempotency_key.as_deref() == Some(event.id.as_str()))
            .unwrap();
        let header = post.signature.as_deref().map(str::as_bytes);
        signature::verify(secret, header, &post.body, Utc::now()).is_ok()
    };
    // Within the day: either secret checks it, so a subscriber switches when it likes.
    assert!(verifies(b"whsub_the_new_one", &soon));
    assert!(verifies(SECRET.as_bytes(), &soon));
    // After it: the new one alone.
    assert!(verifies(b"whsub_the_new_one", &later));
    assert!(!verifies(SECRET.as_bytes(), &later));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_failing_for_a_day_is_dead_and_its_subscription_disabled_until_sent_again() {
    let db = Database::in_memory().unwrap();
    let (store, queue) = (SqliteStore::new(db.clone()), SqliteQueue::reminders(db));
    let subscriber = FakeSubscriber::start(&[503, 503, 503]);
    store
        .create_subscription(&subscription(&subscriber.url(), &[]))
        .await
        .unwrap();
    let event = status_changed(1);
    fan_out(&store, &queue, std::slice::from_ref(&event))
        .await
        .unwrap();
    let job = jobs(&queue).await.remove(0);
    assert!(matches!(
        deliver(&store, &notifier(), &job, at(2)).await.unwrap(),
        Next::Again(_)
    ));
    assert!(matches!(
        deliver(&store, &notifier(), &job, at(2 + 60 * 12))
            .await
            .unwrap(),
        Next::Again(_)
    ));
    let day_later = at(2 + 60 * 24);
    assert_eq!(
        deliver(&store, &notifier(), &job, day_later).await.unwrap(),
        Next::Done
    );
    let record = store
        .get_delivery("whk_test", &event.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.outcome, DeliveryOutcome::Dead);
    assert_eq!(record.attempts.len(), 3);
    let disabled = store.get_subscription("whk_test").await.unwrap().unwrap();
    assert_eq!(disabled.disabled_at, Some(day_later));
    assert_eq!(disabled.failing_since, Some(at(2)));
    // Disabled: a new event is not even queued.
    assert_eq!(
        fan_out(&store, &queue, &[status_changed(30)])
            .await
            .unwrap(),
        0
    );

    // Sent again by hand (enabled again first): a new pending delivery on the queue.
    store
        .put_subscription(
            &WebhookSubscription {
                disabled_at: None,
                disabled_reason: None,
                failing_since: None,
                version: disabled.version + 1,
                ..disabled.clone()
            },
            disabled.version,
        )
        .await
        .unwrap();
    let again = redeliver(&store, &Outbox::new(queue.clone()), "whk_test", &event.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.outcome, DeliveryOutcome::Pending);
    assert_eq!(again.attempts.len(), 3, "the attempts stay on the record");
    let job = jobs(&queue).await.remove(0);
    assert_eq!(
        deliver(&store, &notifier(), &job, at(3000)).await.unwrap(),
        Next::Done
    );
    assert_eq!(subscriber.received().len(), 4);
}

async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", "Bearer sk_webhooks_test_key")
        .header("content-type", "application/json")
        .body(match body {
            Some(body) => Body::from(body.to_string()),
            None => Body::empty(),
        })
        .unwrap();
    call(app, request).await
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_are_managed_by_admins_and_show_their_secret_once() {
    let db = Database::in_memory().unwrap();
    let store = SqliteStore::new(db.clone());
    let state = ApiState::new(store.clone(), "sk_webhooks_test_key")
        .with_jobs(Outbox::new(SqliteQueue::reminders(db)));
    let app = json_errors(api::routes(std::sync::Arc::new(state)));
    let path = "/v1/webhook-subscriptions";

    for (body, says) in [
        (json!({"url": "ftp://crm.example/x"}), "url"),
        (json!({"url": "https://10.0.0.7/hooks"}), "url"),
        (
            json!({"url": "https://crm.example/x", "events": ["ticket.exploded"]}),
            "ticket.exploded",
        ),
    ] {
        let (status, answer) = send(&app, "POST", path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_subscription");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    let (status, created) = send(
        &app,
        "POST",
        path,
        Some(json!({"url": "https://crm.example/hooks", "events": ["ticket.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsub_") && secret.len() > 40,
        "{secret}"
    );
    let id = created["subscription"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["subscription"]["events"], json!(["ticket.created"]));
    assert_eq!(created["subscription"]["enabled"], true);

    let (status, listed) = send(&app, "GET", path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["subscriptions"][0]["id"], id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );
    let one = format!("{path}/{id}");
    let (status, changed) = send(
        &app,
        "PATCH",
        &one,
        Some(json!({"events": [], "enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["events"], json!([]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["disabled_reason"], "disabled by bootstrap");
    let (status, rotated) = send(&app, "POST", &format!("{one}/rotate"), None).await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(
        rotated["subscription"]["previous_secret_until"].is_string(),
        "{rotated}"
    );
    assert_eq!(
        store.get_subscription(&id).await.unwrap().unwrap().secret,
        new_secret
    );

    let (status, deliveries) = send(&app, "GET", &format!("{one}/deliveries"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deliveries["deliveries"], json!([]));
    let (status, _) = send(
        &app,
        "POST",
        &format!("{one}/deliveries/evt_none/redeliver"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = send(&app, "DELETE", &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, path) in [
        ("GET", one.clone()),
        ("DELETE", one.clone()),
        ("GET", format!("{one}/deliveries")),
    ] {
        assert_eq!(
            send(&app, method, &path, None).await.0,
            StatusCode::NOT_FOUND,
            "{method} {path}"
        );
    }
}

/// The local runner end to end: a complaint becomes `ticket.created` (from the store's change
/// log, in the change's transaction), and the subscriber that answered 500 gets it again,
/// signed, about ten seconds later.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_runner_delivers_a_new_tickets_event_and_retries_a_refusal() {
    let data = tempfile::tempdir().unwrap();
    let driver = socialcare_tests::runner::Driver::start(
        data.path(),
        false,
        "whsec_webhook_deliveries",
        "sk_webhook_deliveries_key",
    )
    .await;
    let subscriber = FakeSubscriber::start(&[500]);
    let (status, created) = driver
        .post_api(
            "/v1/webhook-subscriptions",
            &json!({"url": subscriber.url(), "events": ["ticket.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["subscription"]["id"].as_str().unwrap().to_string();

    let body =
        socialcare_tests::events::generic_body("hook-1", "c-9", "my order never came", Utc::now());
    let (status, answer) = driver.post_generic(&body, Utc::now()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let mut received = Vec::new();
    for _ in 0..300 {
        received = subscriber.received();
        if received.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 2, "the refused event comes again");
    let key = received[0].idempotency_key.clone().unwrap();
    for post in &received {
        assert_eq!(post.idempotency_key.as_deref(), Some(key.as_str()));
        let header = post.signature.as_deref().map(str::as_bytes);
        signature::verify(secret.as_bytes(), header, &post.body, Utc::now()).unwrap();
        let event: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(event["type"], "ticket.created");
        assert_eq!(event["data"]["ticket"]["subject"], "my order never came");
    }
    let mut deliveries = Value::Null;
    for _ in 0..50 {
        let (_, listed) = driver
            .get(&format!("/v1/webhook-subscriptions/{id}/deliveries"))
            .await;
        deliveries = listed;
        if deliveries["deliveries"][0]["outcome"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["outcome"], "delivered", "{deliveries}");
    assert_eq!(delivery["event"]["id"], key.as_str());
    let statuses: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(200)]);
    driver.running.stop().await.unwrap();
}
