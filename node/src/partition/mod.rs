//! The partition: what one Raft group replicates.
//!
//! Everything here is decision logic without IO, so it is unit-tested on its
//! own: the record format kept on disk, the commands that travel through the
//! Raft log, consumer-offset and delivery-count bookkeeping, and `apply`, which turns a committed
//! command into storage mutations and a response. The storage adapter
//! (`crate::storage::state_machine`) does the IO.

pub mod apply;
pub mod command;
pub mod consumer;
pub mod deliveries;
pub mod record;
mod record_decode;

pub use command::{AppendOutcome, Command, CommandResponse, CommitPosition, NewMessage, Rejection};
pub use consumer::ConsumerState;
pub use deliveries::{DeliveryRange, MAX_MARK_WIDTH};
pub use record::{Record, RecordKind};
