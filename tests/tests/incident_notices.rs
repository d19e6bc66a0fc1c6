//! What the scheduler reads to announce incidents: an active incident is read until it is
//! told, then no more (told is for good); the scheduler ran every minute on AWS and every
//! second in the local runner, reading each active incident and the service levels each time.

use chrono::{TimeZone, Utc};
use socialcare_app::scheduler::Scheduler;
use socialcare_domain::incidents::{ActiveIncident, Incident, Spike};
use socialcare_domain::ports::{CommitError, IncidentRecords, SettingsStore, StoreError};
use socialcare_domain::sla::Policies;
use socialcare_domain::{IncidentId, Source};
use socialcare_sqlite::{Database, QueueOptions, SqliteQueue, SqliteStore};
use std::sync::atomic::{AtomicU64, Ordering};

/// A store whose incident and service-level reads are counted.
struct CountingReads {
    inner: SqliteStore,
    incidents_read: AtomicU64,
    policies_read: AtomicU64,
}

impl IncidentRecords for CountingReads {
    async fn open_incident(&self, incident: &Incident) -> Result<(), CommitError> {
        self.inner.open_incident(incident).await
    }
    async fn active_incidents(&self) -> Result<Vec<ActiveIncident>, StoreError> {
        self.inner.active_incidents().await
    }
    async fn get_incident(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        self.incidents_read.fetch_add(1, Ordering::SeqCst);
        self.inner.get_incident(id).await
    }
    async fn list_incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        self.inner.list_incidents(limit).await
    }
    async fn put_incident(&self, incident: &Incident, before: u64) -> Result<(), CommitError> {
        self.inner.put_incident(incident, before).await
    }
}

impl SettingsStore for CountingReads {
    async fn sla_policies(&self) -> Result<Policies, StoreError> {
        self.policies_read.fetch_add(1, Ordering::SeqCst);
        self.inner.sla_policies().await
    }
    async fn put_sla_policies(&self, policies: &Policies) -> Result<(), StoreError> {
        self.inner.put_sla_policies(policies).await
    }
}

#[tokio::test]
async fn a_told_incident_is_read_once_not_every_run() {
    let database = Database::in_memory().unwrap();
    let store = CountingReads {
        inner: SqliteStore::new(database.clone()),
        incidents_read: AtomicU64::new(0),
        policies_read: AtomicU64::new(0),
    };
    let options = QueueOptions {
        fifo: false,
        visibility_timeout: std::time::Duration::from_secs(30),
        max_receive_count: 10,
        dead_letter: None,
    };
    let queue = SqliteQueue::new(database, "reminders", options);
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let spike = Spike {
        window_start: at,
        window_minutes: 10,
        count: 25,
        baseline: 1.5,
    };
    let incident = Incident::open(Source::X, "42", "internet", "down", at, spike);
    store.open_incident(&incident).await.unwrap();

    let scheduler = Scheduler::default();
    // The first run reads it and tells it (no target: told as such).
    assert_eq!(
        scheduler
            .announce_incidents(&store, &queue, at)
            .await
            .unwrap(),
        0
    );
    let stored = store
        .inner
        .get_incident(&incident.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.notified_at, Some(at));
    assert_eq!(store.incidents_read.load(Ordering::SeqCst), 1);
    assert_eq!(store.policies_read.load(Ordering::SeqCst), 1);
    // The next runs, with it still active, read neither it nor the service levels.
    for _ in 0..3 {
        scheduler
            .announce_incidents(&store, &queue, at)
            .await
            .unwrap();
    }
    assert_eq!(store.incidents_read.load(Ordering::SeqCst), 1);
    assert_eq!(store.policies_read.load(Ordering::SeqCst), 1);

    // Another process (a new container) reads it once to know it was told, then no more.
    let other = Scheduler::default();
    for _ in 0..2 {
        other.announce_incidents(&store, &queue, at).await.unwrap();
    }
    assert_eq!(store.incidents_read.load(Ordering::SeqCst), 2);
}
