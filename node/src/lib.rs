//! Zya storage node.
//!
//! A node hosts one Raft group (openraft) per topic partition replica, all in
//! one RocksDB database and behind one gRPC endpoint. A write is answered
//! only after a majority of the partition's replicas have it fsynced.
//!
//! - [`partition`]: the replicated state machine's logic, without IO.
//! - [`storage`]: RocksDB layout, Raft log, state machine, snapshots, group commit.
//! - [`raft`]: openraft types and the multi-group network.
//! - [`group`]: a hosted replica, its append pipeline and retention; the registry.
//! - [`liveness`]: node-level failure detection driving elections and heartbeats.
//! - [`api`]: the `Partition` gRPC service.
//! - [`catalogue_link`]: registration and load reports to the allocators.
//! - [`server`]: start-up and shutdown.

pub mod api;
pub mod catalogue_link;
pub mod config;
pub mod error;
pub mod group;
pub mod liveness;
pub mod partition;
pub mod raft;
pub mod server;
pub mod storage;

pub use config::{Config, ConfigError, Settings};
pub use error::NodeError;
