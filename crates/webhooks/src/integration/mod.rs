//! The integrators' webhook (`POST /webhooks/generic`) and the socialcare signature scheme.

pub mod event;
pub mod signature;

pub use event::normalize;
