//! Triage at ingest (being built).
