//! Benchmarks only; see `webhooks.rs`. Run with `cargo bench -p socialcare-benches`.
