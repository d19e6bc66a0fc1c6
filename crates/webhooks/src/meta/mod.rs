//! Meta: Facebook Page (feed, mentions, Messenger) and Instagram (comments, mentions, DMs)
//! webhooks, one POST carrying entries for one or more brand accounts.

pub mod delivery;
pub mod signature;

pub use delivery::parse_delivery;
