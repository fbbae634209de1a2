//! Zya's allocator: the Raft-replicated cluster catalogue and the
//! TopicAllocator that places partitions on storage nodes.
//!
//! - [`catalogue`]: the catalogue's model, commands and pure state machine,
//!   and its openraft adapter.
//! - [`placement`]: placement decisions (by load, round-robin fallback,
//!   replacement), without IO.
//! - [`allocator`]: creating and deleting topics on the storage nodes.
//! - [`members`]: liveness and load from heartbeats (soft state).
//! - [`rereplicate`]: restoring replication factors after node loss or
//!   decommissioning; [`reconcile`]: deleting replicas nothing places.
//! - [`service`], [`peer`]: the gRPC services; [`server`]: start-up.

pub mod allocator;
pub mod catalogue;
pub mod config;
pub mod convert;
pub mod error;
pub mod members;
pub mod peer;
pub mod placement;
pub mod raft;
pub mod reconcile;
pub mod rereplicate;
pub mod server;
pub mod service;
#[cfg(test)]
mod stored_format_tests;
