//! The queue contract (SQLite queue and SQS), on the inbound FIFO queue and its dead-letter
//! queue as template.yaml declares them (max receive count 5).

use socialcare_domain::ports::{Delivery, Outgoing, Queue};
use std::time::Duration;

/// A FIFO queue with its dead-letter queue.
pub struct Fifo<Q> {
    pub queue: Q,
    pub dead_letter: Q,
}

const WAIT: Duration = Duration::from_secs(1);

fn message(body: &str, group: &str, dedupe: &str) -> Outgoing {
    Outgoing::fifo(body.into(), group.into(), dedupe.into())
}

async fn receive_all<Q: Queue>(queue: &Q) -> Vec<Delivery> {
    queue.receive(10, WAIT).await.expect("queue answers")
}

fn bodies(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.body.as_str()).collect()
}

pub async fn a_sent_message_is_received_once_then_deleted<Q: Queue>(fifo: &Fifo<Q>) {
    fifo.queue.send(message("hello", "g1", "d1")).await.unwrap();
    let got = receive_all(&fifo.queue).await;
    assert_eq!(bodies(&got), ["hello"]);
    assert_eq!(got[0].group_id.as_deref(), Some("g1"));
    assert_eq!(got[0].receive_count, 1);
    assert!(!got[0].message_id.is_empty());
    // In flight: hidden from the next receive.
    assert!(receive_all(&fifo.queue).await.is_empty());
    fifo.queue.delete(&got[0].receipt).await.unwrap();
    fifo.queue
        .change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .ok();
    assert!(receive_all(&fifo.queue).await.is_empty());
}

pub async fn a_dedupe_id_seen_again_within_five_minutes_is_dropped<Q: Queue>(fifo: &Fifo<Q>) {
    for _ in 0..3 {
        fifo.queue
            .send(message("once", "g1", "same"))
            .await
            .unwrap();
    }
    fifo.queue
        .send(message("other", "g1", "different"))
        .await
        .unwrap();
    let got = receive_all(&fifo.queue).await;
    assert_eq!(bodies(&got), ["once", "other"]);
}

pub async fn a_group_is_delivered_in_order<Q: Queue>(fifo: &Fifo<Q>) {
    for n in 0..5 {
        let body = format!("m{n}");
        fifo.queue.send(message(&body, "g1", &body)).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < 5 {
        let got = receive_all(&fifo.queue).await;
        assert!(!got.is_empty(), "queue ran dry after {received:?}");
        for delivery in got {
            received.push(delivery.body.clone());
            fifo.queue.delete(&delivery.receipt).await.unwrap();
        }
    }
    assert_eq!(received, ["m0", "m1", "m2", "m3", "m4"]);
}

pub async fn a_group_with_a_message_in_flight_waits<Q: Queue>(fifo: &Fifo<Q>) {
    fifo.queue.send(message("a1", "a", "a1")).await.unwrap();
    let first = fifo.queue.receive(1, WAIT).await.unwrap();
    assert_eq!(bodies(&first), ["a1"]);
    fifo.queue.send(message("a2", "a", "a2")).await.unwrap();
    fifo.queue.send(message("b1", "b", "b1")).await.unwrap();
    // a2 must wait for a1; b1 is free to go.
    let next = receive_all(&fifo.queue).await;
    assert_eq!(bodies(&next), ["b1"]);
    fifo.queue.delete(&first[0].receipt).await.unwrap();
    let after = receive_all(&fifo.queue).await;
    assert_eq!(bodies(&after), ["a2"]);
}

pub async fn a_released_message_comes_back_with_its_receive_count<Q: Queue>(fifo: &Fifo<Q>) {
    fifo.queue
        .send(message("retry me", "g1", "d1"))
        .await
        .unwrap();
    let first = receive_all(&fifo.queue).await;
    fifo.queue
        .change_visibility(&first[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let second = receive_all(&fifo.queue).await;
    assert_eq!(bodies(&second), ["retry me"]);
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(second[0].message_id, first[0].message_id);
}

pub async fn a_message_received_too_often_moves_to_the_dead_letter_queue<Q: Queue>(fifo: &Fifo<Q>) {
    fifo.queue.send(message("poison", "g1", "p")).await.unwrap();
    for attempt in 1..=5 {
        let got = receive_all(&fifo.queue).await;
        assert_eq!(bodies(&got), ["poison"], "attempt {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        fifo.queue
            .change_visibility(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    // The sixth receive moves it instead of delivering it.
    assert!(receive_all(&fifo.queue).await.is_empty());
    let dead = receive_all(&fifo.dead_letter).await;
    assert_eq!(bodies(&dead), ["poison"]);
}

/// A standard queue (the outbox) with its dead-letter queue.
pub struct Standard<Q> {
    pub queue: Q,
    pub dead_letter: Q,
}

fn later(body: &str, delay: Duration) -> Outgoing {
    Outgoing {
        body: body.into(),
        group_id: None,
        dedupe_id: None,
        delay,
    }
}

pub async fn a_delayed_message_waits_for_its_delay<Q: Queue>(standard: &Standard<Q>) {
    let sent = std::time::Instant::now();
    standard
        .queue
        .send(later("in two seconds", Duration::from_secs(2)))
        .await
        .unwrap();
    standard
        .queue
        .send(later("now", Duration::ZERO))
        .await
        .unwrap();
    let first = receive_all(&standard.queue).await;
    assert_eq!(bodies(&first), ["now"]);
    standard.queue.delete(&first[0].receipt).await.unwrap();
    let mut got = Vec::new();
    while got.is_empty() && sent.elapsed() < Duration::from_secs(6) {
        got = receive_all(&standard.queue).await;
    }
    assert_eq!(bodies(&got), ["in two seconds"]);
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "came after {:?}",
        sent.elapsed()
    );
    assert_eq!(got[0].group_id, None);
}

pub async fn a_standard_queue_sends_exhausted_messages_to_its_dead_letter_queue<Q: Queue>(
    standard: &Standard<Q>,
) {
    standard
        .queue
        .send(later("undeliverable", Duration::ZERO))
        .await
        .unwrap();
    // The outbox's redrive policy: ten receives (template.yaml).
    for attempt in 1..=10 {
        let got = receive_all(&standard.queue).await;
        assert_eq!(bodies(&got), ["undeliverable"], "attempt {attempt}");
        standard
            .queue
            .change_visibility(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(receive_all(&standard.queue).await.is_empty());
    assert_eq!(
        bodies(&receive_all(&standard.dead_letter).await),
        ["undeliverable"]
    );
}

/// Issue 18: many messages in as few requests as the queue takes, each received once.
pub async fn messages_sent_together_are_each_received_once<Q: Queue>(standard: &Standard<Q>) {
    let sent: Vec<String> = (0..23).map(|n| format!("reminder {n}")).collect();
    standard
        .queue
        .send_all(
            sent.iter()
                .map(|body| later(body, Duration::ZERO))
                .collect(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let started = std::time::Instant::now();
    while got.len() < sent.len() && started.elapsed() < Duration::from_secs(10) {
        for delivery in receive_all(&standard.queue).await {
            standard.queue.delete(&delivery.receipt).await.unwrap();
            got.push(delivery.body);
        }
    }
    got.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(got, expected);
    assert!(receive_all(&standard.queue).await.is_empty(), "each once");
}

/// Issue 18: received messages deleted together are gone, more than one request's worth; the
/// others come back.
pub async fn messages_deleted_together_are_gone_and_the_others_come_back<Q: Queue>(
    standard: &Standard<Q>,
) {
    let sent: Vec<Outgoing> = (0..23)
        .map(|n| later(&format!("job {n:02}"), Duration::ZERO))
        .collect();
    standard.queue.send_all(sent).await.unwrap();
    let mut received = Vec::new();
    let started = std::time::Instant::now();
    while received.len() < 23 && started.elapsed() < Duration::from_secs(10) {
        received.extend(receive_all(&standard.queue).await);
    }
    assert_eq!(received.len(), 23);
    received.sort_by(|a, b| a.body.cmp(&b.body));
    let (done, kept) = received.split_at(15);
    standard
        .queue
        .delete_all(done.iter().map(|d| d.receipt.clone()).collect())
        .await
        .unwrap();
    for delivery in kept {
        standard
            .queue
            .change_visibility(&delivery.receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    let mut back = Vec::new();
    let started = std::time::Instant::now();
    while back.len() < kept.len() && started.elapsed() < Duration::from_secs(10) {
        back.extend(receive_all(&standard.queue).await);
    }
    let mut bodies: Vec<String> = back.iter().map(|d| d.body.clone()).collect();
    bodies.sort();
    let expected: Vec<String> = (15..23).map(|n| format!("job {n:02}")).collect();
    assert_eq!(bodies, expected);
    standard
        .queue
        .delete_all(back.iter().map(|d| d.receipt.clone()).collect())
        .await
        .unwrap();
    assert!(receive_all(&standard.queue).await.is_empty(), "all gone");
}

#[macro_export]
macro_rules! standard_queue_contract {
    ($make:expr) => {
        $crate::standard_queue_contract!(@cases $make;
            a_delayed_message_waits_for_its_delay,
            a_standard_queue_sends_exhausted_messages_to_its_dead_letter_queue,
            messages_sent_together_are_each_received_once,
            messages_deleted_together_are_gone_and_the_others_come_back
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let standard = $make.await;
                $crate::contract::queue::$case(&standard).await;
            }
        )+
    };
}

#[macro_export]
macro_rules! queue_contract {
    ($make:expr) => {
        $crate::queue_contract!(@cases $make;
            a_sent_message_is_received_once_then_deleted,
            a_dedupe_id_seen_again_within_five_minutes_is_dropped,
            a_group_is_delivered_in_order,
            a_group_with_a_message_in_flight_waits,
            a_released_message_comes_back_with_its_receive_count,
            a_message_received_too_often_moves_to_the_dead_letter_queue
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fifo = $make.await;
                $crate::contract::queue::$case(&fifo).await;
            }
        )+
    };
}
