//! The webhook-subscription store contract (SQLite and DynamoDB).

use chrono::{DateTime, TimeZone, Utc};
use socialcare_domain::domain_events::{DomainEvent, EventBody};
use socialcare_domain::ports::CommitError;
use socialcare_domain::subscriptions::{
    Attempt, DeliveryOutcome, EventDelivery, WebhookSubscription,
};
use socialcare_domain::{EventId, TicketId};

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
}

pub fn subscription(id: &str, minute: u32) -> WebhookSubscription {
    WebhookSubscription {
        id: id.into(),
        url: "https://crm.example/hooks/socialcare".into(),
        events: vec!["ticket.created".into()],
        secret: "whsec_sub".into(),
        previous_secret: None,
        previous_until: None,
        created_by: "ops".into(),
        created_at: at(minute),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        version: 1,
    }
}

pub fn event(minute: u32) -> DomainEvent {
    let ticket_id = TicketId::derive(at(minute), "t");
    DomainEvent {
        id: EventId::derive(at(minute), &format!("e{minute}")).to_string(),
        created_at: at(minute),
        account: "crm".into(),
        body: EventBody::SatisfactionRated {
            ticket_id,
            score: 5,
        },
    }
}

pub async fn subscriptions_and_deliveries_are_kept_by_id_and_version<S: Store>(store: &S) {
    let first = subscription("whk_1", 0);
    store.create_subscription(&first).await.unwrap();
    assert_eq!(
        store.create_subscription(&first).await,
        Err(CommitError::Duplicate)
    );
    store
        .create_subscription(&subscription("whk_2", 1))
        .await
        .unwrap();
    assert_eq!(
        store.get_subscription("whk_1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_subscription("whk_none").await.unwrap(), None);
    let ids: Vec<String> = store
        .list_subscriptions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["whk_1", "whk_2"]);
    let failing = WebhookSubscription {
        failing_since: Some(at(5)),
        version: 2,
        ..first.clone()
    };
    store.put_subscription(&failing, 1).await.unwrap();
    assert_eq!(
        store.put_subscription(&failing, 1).await,
        Err(CommitError::Conflict)
    );
    assert_eq!(
        store.get_subscription("whk_1").await.unwrap(),
        Some(failing)
    );

    let older = EventDelivery::pending("whk_1", &event(1));
    let newer = EventDelivery::pending("whk_1", &event(2));
    store.create_delivery(&older).await.unwrap();
    store.create_delivery(&newer).await.unwrap();
    assert_eq!(
        store.create_delivery(&older).await,
        Err(CommitError::Duplicate)
    );
    store
        .create_delivery(&EventDelivery::pending("whk_2", &event(1)))
        .await
        .unwrap();
    let attempted = EventDelivery {
        outcome: DeliveryOutcome::Delivered,
        attempts: vec![Attempt {
            at: at(3),
            status: Some(200),
            error: None,
        }],
        first_attempt_at: Some(at(3)),
        version: 2,
        ..older.clone()
    };
    store.put_delivery(&attempted, 1).await.unwrap();
    assert_eq!(
        store.put_delivery(&attempted, 1).await,
        Err(CommitError::Conflict)
    );
    assert_eq!(
        store.get_delivery("whk_1", &older.event.id).await.unwrap(),
        Some(attempted.clone())
    );
    assert_eq!(
        store.get_delivery("whk_2", &newer.event.id).await.unwrap(),
        None
    );
    let listed = store.list_deliveries("whk_1", 10).await.unwrap();
    assert_eq!(listed, vec![newer.clone(), attempted]);
    assert_eq!(
        store.list_deliveries("whk_1", 1).await.unwrap(),
        vec![newer]
    );

    assert!(store.delete_subscription("whk_1").await.unwrap());
    assert!(!store.delete_subscription("whk_1").await.unwrap());
    assert_eq!(store.get_subscription("whk_1").await.unwrap(), None);
}

#[macro_export]
macro_rules! webhooks_contract {
    ($make:expr) => {
        $crate::webhooks_contract!(@cases $make;
            subscriptions_and_deliveries_are_kept_by_id_and_version
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::webhooks::$case(&store).await;
            }
        )+
    };
}
