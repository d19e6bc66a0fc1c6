//! The socialcare domain: tickets, messages, customers and how a message finds its ticket.
//!
//! Nothing here knows about AWS or HTTP. The outside world is reached through the traits in
//! [`ports`]; the adapters (SQLite, DynamoDB, SQS) implement them in their own crates.

pub mod access;
pub mod acknowledgement;
pub mod customer;
pub mod customers;
pub mod escalation;
pub mod events;
pub mod ids;
pub mod inbox;
pub mod incidents;
pub mod ingest;
pub mod integrations;
pub mod lifecycle;
pub mod message;
pub mod ownership;
pub mod page;
pub mod ports;
pub mod reminders;
pub mod replies;
pub mod report;
pub mod retry;
pub mod satisfaction;
pub mod sessions;
pub mod sla;
pub mod templates;
pub mod threading;
pub mod ticket;
pub mod timers;
pub mod triage;
pub mod updates;

pub use customer::{Customer, Identity};
pub use events::{Actor, EventKind, TicketEvent};
pub use ids::{CustomerId, EventId, IncidentId, MessageId, TicketId, UpdateId};
pub use ingest::{ChangeEvent, ChangeOutcome, InboundEvent, IngestOutcome, QueuedEvent};
pub use message::{
    Attachment, Author, ChangeKind, Channel, Direction, Message, MessageChange, NormalizedMessage,
    Source,
};
pub use page::{Cursor, Page};
pub use ticket::{InvalidTransition, Priority, Ticket, TicketDetail, TicketQuery, TicketStatus};
