//! `putitem`: the trivial client. It writes ~500-byte items to a throwaway on-demand table as
//! fast as the emulator takes them, to give the raw write rate our ingest rate compares with.

use crate::latency::Latencies;
use anyhow::Context;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use std::time::{Duration, Instant};

/// The payload of each item: with its key and attribute names, about 500 bytes.
const PAYLOAD_BYTES: usize = 475;

pub struct Settings {
    pub endpoint: String,
    pub seconds: u64,
    pub concurrency: usize,
    pub region: String,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&settings.endpoint)
        .region(Region::new(settings.region.clone()))
        // The emulator takes any credentials; these are moto's documented test values.
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "loadgen",
        ))
        .build();
    let client = Client::from_conf(config);
    let table = format!("loadgen-putitem-{}", std::process::id());
    create_table(&client, &table).await?;
    let outcome = write_for(&client, &table, &settings).await;
    // A throwaway table: removed whatever happened.
    let deleted = client.delete_table().table_name(&table).send().await;
    let (count, failed, latency, elapsed) = outcome?;
    if let Err(e) = deleted {
        eprintln!("could not delete table {table}: {e}");
    }
    let latency = latency.percentiles();
    println!(
        "putitem: {count} PutItem ({failed} failed) in {:.1} s with {} workers against {}",
        elapsed.as_secs_f64(),
        settings.concurrency,
        settings.endpoint
    );
    println!(
        "  {:.0} PutItem/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        count as f64 / elapsed.as_secs_f64(),
        latency.p50,
        latency.p90,
        latency.p99,
        latency.max
    );
    Ok(())
}

async fn create_table(client: &Client, table: &str) -> anyhow::Result<()> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .context("the key definition")?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .context("the key schema")?,
        )
        .send()
        .await
        .with_context(|| format!("creating table {table}"))?;
    for _ in 0..100 {
        let described = client.describe_table().table_name(table).send().await?;
        let status = described.table().and_then(|t| t.table_status());
        if status.is_some_and(|s| s.as_str() == "ACTIVE") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("table {table} did not become ACTIVE")
}

type Written = (u64, u64, Latencies, Duration);

/// Runs `concurrency` writers until the time is up; each counts its writes and latencies.
async fn write_for(client: &Client, table: &str, settings: &Settings) -> anyhow::Result<Written> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(settings.seconds);
    let payload = "x".repeat(PAYLOAD_BYTES);
    let writers = (0..settings.concurrency).map(|worker| {
        let (client, table, payload) = (client.clone(), table.to_string(), payload.clone());
        tokio::spawn(async move {
            let mut latency = Latencies::new()?;
            let (mut count, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let put = client
                    .put_item()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(format!("w{worker}-{count}")))
                    .item("payload", AttributeValue::S(payload.clone()))
                    .item("n", AttributeValue::N(count.to_string()))
                    .send()
                    .await;
                latency.record(sent.elapsed());
                match put {
                    Ok(_) => count += 1,
                    Err(e) => {
                        if failed == 0 {
                            eprintln!("PutItem failed: {e:?}");
                        }
                        failed += 1;
                    }
                }
            }
            anyhow::Ok((count, failed, latency))
        })
    });
    let results = futures::future::join_all(writers).await;
    let elapsed = started.elapsed();
    let mut total = Latencies::new()?;
    let (mut count, mut failed) = (0, 0);
    for result in results {
        let (written, lost, latency) = result.context("a writer stopped")??;
        count += written;
        failed += lost;
        total.add(&latency)?;
    }
    Ok((count, failed, total, elapsed))
}
