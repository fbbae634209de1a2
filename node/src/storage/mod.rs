//! RocksDB storage of a node: every Raft group it hosts, in one database.
//!
//! The Raft log and metadata are `zya_raftstore`'s (shared with the
//! catalogue); this module adds the partitions' state machines. One database
//! per node, groups separated by key prefix (the group id, big endian), not a
//! column family per group: column families each carry their own memtables
//! and pin the write-ahead log, which does not scale to thousands of
//! partitions. Column families split the data by kind instead:
//!
//! ```text
//! raft_log   group ‖ index               → Raft entry
//! raft_meta  group ‖ tag                 → vote, committed, last purged, descriptor
//! sm         group ‖ 0                   → state machine meta (last applied, membership, counters)
//!            group ‖ 2 ‖ message id      → offset (deduplication index)
//!            group ‖ 3 ‖ consumer        → committed offsets and delivery counts (ConsumerState, versioned)
//! records    group ‖ 1 ‖ offset          → records of one append from that offset (a chunk)
//! ```
//!
//! The records have a family of their own because they are the bulk of the
//! bytes and arrive in key order per group: with nothing else in their
//! family, compaction seldom rewrites them. The meta key, rewritten on every
//! apply, and the index's random keys made every file overlap every other.
//!
//! Durability: votes are written synced and appends are completed only after
//! a WAL fsync shared by all groups (group commit, `zya_raftstore::Syncer`).
//! State machine meta is written in the same batch as the data it describes,
//! without the WAL (the log already holds it); the records family is kept
//! durable at least as far as `sm`, and both are flushed before a snapshot
//! lets the Raft log be purged (see `state_machine`).
//!
//! Data directories from before the records family have their records in
//! `sm`; [`migrate`] moves them once, at start-up.

pub mod keys;
pub mod migrate;
pub mod records;
pub mod snapshot;
pub mod state_machine;

pub use state_machine::{IncomingSnapshot, PartitionReader, StateMachineStore};
pub use zya_raftstore::{Family, Store, StoreError};

/// The log store of a partition group.
pub type LogStore = zya_raftstore::LogStore<crate::raft::TypeConfig>;

/// Column families of a node besides the Raft log and metadata.
/// `sm` holds the id index, written in random key order, so it compacts
/// tiered; records arrive in offset order and compact leveled.
pub const NODE_COLUMN_FAMILIES: [Family; 2] = [Family::universal(keys::CF_SM), Family::leveled(keys::CF_RECORDS)];

/// The state machine's families in flush order: the records stay durable
/// at least as far as the meta that counts them.
pub const STATE_MACHINE_FAMILIES: [&str; 2] = [keys::CF_RECORDS, keys::CF_SM];
