//! X (Twitter): the Account Activity API webhook.
//!
//! [`signature`] answers the CRC challenge and checks `x-twitter-webhooks-signature`.
//! [`model`] holds the tweet and direct message shapes and maps them to normalized messages,
//! whatever envelope delivered them; [`account_activity`] is the Account Activity envelope.
//! X's newer Activity API delivers the same tweets and DMs in another envelope: supporting it
//! is a second envelope module beside `account_activity`, reusing `model`.

pub mod account_activity;
pub mod model;
pub mod signature;
pub mod v2;
