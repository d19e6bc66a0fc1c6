//! Request latencies: an HDR histogram of microseconds, read as milliseconds.

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Anything slower is recorded as this (the clients time out well before).
const LONGEST_MICROS: u64 = 10 * 60 * 1_000_000;

#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

/// The percentiles shown, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencies {
    pub fn new() -> anyhow::Result<Self> {
        // Fixed bounds: `saturating_record` never resizes, it clamps to them.
        Histogram::new_with_bounds(1, LONGEST_MICROS, 3)
            .map(Self)
            .context("creating the latency histogram")
    }

    pub fn record(&mut self, latency: Duration) {
        self.0.saturating_record(latency.as_micros() as u64);
    }

    pub fn add(&mut self, other: &Latencies) -> anyhow::Result<()> {
        self.0.add(&other.0).context("adding latency histograms")
    }

    pub fn percentiles(&self) -> Percentiles {
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Percentiles {
            p50: ms(self.0.value_at_quantile(0.5)),
            p90: ms(self.0.value_at_quantile(0.9)),
            p99: ms(self.0.value_at_quantile(0.99)),
            max: ms(self.0.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_milliseconds_from_microseconds() {
        let mut latencies = Latencies::new().unwrap();
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms));
        }
        let percentiles = latencies.percentiles();
        assert!((percentiles.p50 - 50.0).abs() < 0.1, "{percentiles:?}");
        assert!((percentiles.p99 - 99.0).abs() < 0.1, "{percentiles:?}");
        assert!((percentiles.max - 100.0).abs() < 0.1, "{percentiles:?}");
    }
}
