//! Raft types of the catalogue: one group, replicated over the allocators.
//!
//! The catalogue is small (members, topics, placements), so its state
//! machine lives in memory and is snapshotted whole; the log and votes use
//! the same durable RocksDB storage as the partitions (`zya_raftstore`).
//! Unlike the thousands of partition groups, this single group keeps
//! openraft's own heartbeats and election timers.

use std::io::Cursor;

use openraft::{BasicNode, Entry, TokioRuntime};

use crate::catalogue::command::{CatalogueCommand, CatalogueResponse};

openraft::declare_raft_types!(
    /// Raft types of the catalogue group.
    pub CatalogueTypes:
        D = CatalogueCommand,
        R = CatalogueResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<CatalogueTypes>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = TokioRuntime,
);

/// The catalogue's group id in storage and on the wire.
pub const CATALOGUE_GROUP: u64 = 0;

pub type Raft = openraft::Raft<CatalogueTypes>;
pub type LogId = openraft::LogId<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, BasicNode>;
pub type LogStore = zya_raftstore::LogStore<CatalogueTypes>;

/// openraft settings of the catalogue group.
pub fn config(heartbeat_ms: u64) -> openraft::Config {
    openraft::Config {
        cluster_name: "zya-catalogue".into(),
        heartbeat_interval: heartbeat_ms,
        election_timeout_min: heartbeat_ms * 4,
        election_timeout_max: heartbeat_ms * 8,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(500),
        max_in_snapshot_log_to_keep: 100,
        ..Default::default()
    }
}
