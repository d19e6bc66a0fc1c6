//! The inbound side of every platform: how its webhooks are verified and how their payloads
//! map to the one [`socialcare_domain::NormalizedMessage`].
//!
//! Signatures are checked on the raw bytes, in constant time, before anything is parsed.
//! Nothing here panics on any input; each parser is covered by property tests.

pub mod email;
pub mod integration;
pub mod meta;
pub mod payload;
pub mod signature;
pub mod x;
