//! Raft plumbing shared by Zya's storage nodes and catalogue: openraft log
//! storage on RocksDB for any number of groups in one database with group
//! commit, and the gRPC transport of peer RPCs.
//!
//! Used by the storage node (one group per partition) and by the catalogue
//! (one group). Groups are key prefixes, not column families: column
//! families each carry memtables and pin the write-ahead log, which does not
//! scale to thousands of groups.
//!
//! ```text
//! raft_log   group ‖ index   → [format version][bincode(Entry)]
//! raft_meta  group ‖ tag     → vote (synced), committed, last purged, …
//! ```
//!
//! Durability: RocksDB does not sync by default. Votes are written synced;
//! appended entries are reported durable to openraft only after the
//! [`Syncer`] has fsynced the WAL, which completes every group's appends
//! written before it with one fsync.

pub mod db;
pub mod keys;
pub mod log_store;
pub mod network;
pub mod reply;
pub mod snapshot_transfer;
pub mod sync;
pub mod unlogged;

pub use db::{Compaction, Family, Store, StoreError};
pub use log_store::{decode, encode, LogStore};
pub use network::{ChannelPool, GroupNetworkFactory};
pub use snapshot_transfer::{SnapshotReceiver, SnapshotSink};
pub use sync::Syncer;

/// Raft types for this crate's unit tests: string payloads, the standard
/// leader id the node and catalogue use.
#[cfg(test)]
mod test_types {
    openraft::declare_raft_types!(
        pub(crate) Types: D = String,
        R = (),
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
    );
}
