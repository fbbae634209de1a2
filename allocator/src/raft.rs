//! Raft types of the catalogue: one group, replicated over the allocators.
//!
//! The catalogue is small (members, topics, placements), so its state
//! machine lives in memory and is snapshotted whole; the log and votes use
//! the same durable RocksDB storage as the partitions (`zya_raftstore`).
//! Unlike the thousands of partition groups, this single group keeps
//! openraft's own heartbeats and election timers.

use openraft::{BasicNode, TokioRuntime};

use crate::catalogue::command::{CatalogueCommand, CatalogueResponse};
use crate::catalogue::store::CatalogueStore;

openraft::declare_raft_types!(
    /// Raft types of the catalogue group.
    pub CatalogueTypes:
        D = CatalogueCommand,
        R = CatalogueResponse,
        NodeId = u64,
        Node = BasicNode,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
        AsyncRuntime = TokioRuntime,
);

/// The catalogue's group id in storage and on the wire.
pub const CATALOGUE_GROUP: u64 = 0;

pub type Raft = openraft::Raft<CatalogueTypes, CatalogueStore>;
pub type LogId = openraft::alias::LogIdOf<CatalogueTypes>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<CatalogueTypes>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<CatalogueTypes>;
pub type LogStore = zya_raftstore::LogStore<CatalogueTypes>;
/// The catalogue's snapshot: its encoding, in memory.
pub type SnapshotData = std::io::Cursor<Vec<u8>>;
pub type Snapshot = openraft::alias::SnapshotOf<CatalogueTypes, SnapshotData>;
pub type Network = zya_raftstore::GroupNetworkFactory<CatalogueTypes, SnapshotData>;

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
