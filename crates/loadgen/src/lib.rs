//! The load generator's parts, a library so that the tests can run the count-proxy against
//! the emulator; `socialcare-loadgen` (main.rs) is its command line.

pub mod accounts;
pub mod bodies;
pub mod burst;
pub mod capacity;
pub mod costs;
pub mod counts;
pub mod latency;
pub mod outage;
pub mod plan;
pub mod proxy;
pub mod putitem;
pub mod shadow;
pub mod sqlite_floor;
pub mod summary;
pub mod verify;
