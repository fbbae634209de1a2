//! RocksDB storage of a node: every Raft group it hosts, in one database.
//!
//! One database per node, groups separated by key prefix (the group id, big
//! endian), not a column family per group: column families each carry their
//! own memtables and pin the write-ahead log, which does not scale to
//! thousands of partitions. Column families split the data by kind instead:
//!
//! ```text
//! raft_log   group ‖ index               → Raft entry
//! raft_meta  group ‖ tag                 → vote, committed, last purged, descriptor
//! sm         group ‖ 0                   → state machine meta (last applied, membership, counters)
//!            group ‖ 1 ‖ offset          → message record
//!            group ‖ 2 ‖ message id      → offset (deduplication index)
//!            group ‖ 3 ‖ consumer        → committed offsets
//! ```
//!
//! Durability: RocksDB does not sync by default. Votes are written with a
//! synced write; appended entries are reported durable to openraft only after
//! the [`sync::Syncer`] has fsynced the WAL, which completes every group's
//! appends written before it with one fsync (group commit). State machine
//! meta is written in the same batch as the data it describes, and the WAL is
//! synced before a snapshot lets the Raft log be purged.

pub mod db;
pub mod keys;
pub mod log_store;
pub mod snapshot;
pub mod state_machine;
pub mod sync;

pub use db::{Store, StoreError};
pub use log_store::LogStore;
pub use state_machine::{PartitionReader, StateMachineStore};
