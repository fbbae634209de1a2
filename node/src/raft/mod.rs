//! Raft wiring: one openraft group per topic partition, many per process.
//!
//! We use openraft 0.9 (the stable line) and do multi-raft ourselves: every
//! peer RPC carries the group id and the target replica's node id
//! (`zya_raftstore::network`), one tonic endpoint per node dispatches to the group's `Raft`
//! (`peer_service`), and each destination node gets one shared HTTP/2
//! channel that all groups multiplex over.
//!
//! Replica identity is the node id, which is created with the node's data and
//! never reused: a node whose data directory was wiped comes back with a new
//! id and must be added to groups as a new replica, so it cannot vote with a
//! forgotten history (openraft FAQ, "reuse node id").

pub mod peer_service;
mod runtime;
#[cfg(test)]
mod stored_format_tests;

use openraft::{BasicNode, Entry};
pub use runtime::QuietTicks;

use crate::partition::{Command, CommandResponse};

openraft::declare_raft_types!(
    /// Raft types of a partition group.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = QuietTicks,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, BasicNode>;

/// Default timeout of one Raft RPC between nodes.
pub const RAFT_RPC_TIMEOUT_MS: u64 = 300;

/// Timing of every group on a node.
#[derive(Debug, Clone)]
pub struct RaftTiming {
    /// Timeout of one AppendEntries RPC (openraft's `heartbeat_interval`;
    /// groups do not heartbeat or tick on their own, see `crate::liveness`).
    /// Twice this is the leader lease during which a follower that heard
    /// from its leader refuses to vote for another candidate.
    pub rpc_timeout_ms: u64,
    /// Build a snapshot (and purge the log below it) after this many entries.
    pub snapshot_every: u64,
    /// Entries kept in the log below the last snapshot, so a briefly lagging
    /// follower catches up from the log instead of a whole snapshot.
    pub log_keep: u64,
}

impl RaftTiming {
    pub fn openraft_config(&self) -> openraft::Config {
        openraft::Config {
            cluster_name: "zya".into(),
            heartbeat_interval: self.rpc_timeout_ms,
            // openraft's own election timer is off; its upper bound is still
            // the leader lease, so keep it short.
            election_timeout_min: self.rpc_timeout_ms * 2,
            election_timeout_max: self.rpc_timeout_ms * 2 + 1,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.log_keep,
            max_payload_entries: 256,
            install_snapshot_timeout: 10_000,
            ..Default::default()
        }
    }
}
