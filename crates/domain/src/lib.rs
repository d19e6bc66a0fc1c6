//! The socialcare domain: tickets, messages, customers and how a message finds its ticket.
//!
//! Nothing here knows about AWS or HTTP. The outside world is reached through the traits in
//! [`ports`]; the adapters (SQLite, DynamoDB, SQS) implement them in their own crates.
//!
//! Three layers, each using only those below it:
//! - **records**, what is stored and sent: [`ids`], [`page`], [`message`], [`search`], [`delivery`],
//!   [`customer`], [`ticket`] (with the triage result), [`timers`], [`events`],
//!   [`domain_events`] (what integrators hear of them), [`subscriptions`] (who hears them by
//!   webhook), [`incident`],
//!   [`update`], [`report`], [`inbox`] (its views), [`sessions`], and the settings [`sla`],
//!   [`templates`], [`access`], [`integrations`], [`configuration`], [`tokens`];
//! - **[`ports`]**, the traits over those records;
//! - **behaviours**, the rest: [`ingest`], [`threading`], [`triage`], [`replies`], [`clocks`],
//!   [`reminders`], [`incidents`], [`updates`], [`lifecycle`], [`ownership`], [`privacy`],
//!   [`retention`], [`listening`], [`mail_feedback`], ...
//!
//! A behaviour's own records (`replies::Delivery`, `incidents::Incident`, ...) are re-exported
//! from it. `python3 infra/module_cycles.py crates/domain --layer ...` checks the layers (its
//! docstring has the command).

pub mod access;
pub mod acknowledgement;
pub mod clocks;
pub mod configuration;
pub mod contacts;
pub mod customer;
pub mod customers;
pub mod delivery;
pub mod domain_events;
pub mod escalation;
pub mod events;
pub mod ids;
pub mod inbox;
pub mod incident;
pub mod incidents;
pub mod ingest;
pub mod integrations;
pub mod lifecycle;
pub mod listening;
pub mod mail_feedback;
pub mod message;
pub mod ownership;
pub mod page;
pub mod ports;
pub mod privacy;
pub mod reminders;
pub mod replies;
pub mod report;
pub mod retention;
pub mod retry;
pub mod satisfaction;
pub mod search;
pub mod sessions;
pub mod sla;
pub mod subscriptions;
pub mod templates;
pub mod threading;
pub mod ticket;
pub mod timers;
pub mod tokens;
pub mod triage;
pub mod update;
pub mod updates;

pub use customer::{Customer, Erasure, Identity, Merge};
pub use events::{Actor, EventKind, TicketEvent};
pub use ids::{CustomerId, EventId, IncidentId, MessageId, TicketId, UpdateId};
pub use ingest::{ChangeEvent, ChangeOutcome, InboundEvent, IngestOutcome, QueuedEvent};
pub use message::{
    AttachedFile, Attachment, Author, ChangeKind, Channel, Direction, Message, MessageChange,
    NormalizedMessage, Source,
};
pub use page::{Cursor, Page};
pub use ticket::{InvalidTransition, Priority, Ticket, TicketDetail, TicketQuery, TicketStatus};
