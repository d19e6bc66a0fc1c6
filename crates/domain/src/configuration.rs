//! The brand's configuration (its accounts and teams) as the store keeps it: one document,
//! versioned. Each change is a new version that records who made it and what it changed, so
//! the versions are the configuration's audit trail. The document itself is opaque here: the
//! application reads and checks it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One version of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationVersion {
    /// 1 for the first; each change one more.
    pub version: u64,
    /// The whole document, as the application wrote it.
    pub document: String,
    pub change: ConfigurationChange,
}

/// What a version changed, by whom and when (the audit trail's entry).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationChange {
    pub version: u64,
    pub at: DateTime<Utc>,
    /// The name of the API key that made it, or `import` for a document imported at start.
    pub by: String,
    /// The change in words, e.g. `added x account 1100000000000000001`.
    pub summary: String,
}
