//! Raft wiring: one openraft group per topic partition, many per process.
//!
//! We use openraft 0.10 (an alpha, pinned; see the workspace `Cargo.toml`
//! for why not 0.9) and do multi-raft ourselves: every peer RPC carries the
//! group id and the target replica's node id (`zya_raftstore::network`), one
//! tonic endpoint per node dispatches to the group's `Raft`
//! (`peer_service`), and each destination node gets one shared HTTP/2
//! channel that all groups multiplex over.
//!
//! Groups are quiescent: their config turns openraft's tick, heartbeat and
//! election timers off, and the node's liveness task triggers elections and
//! heartbeats for all groups (`crate::liveness`). With ticks off, 0.10's
//! tick task waits on the config switch instead of waking every period.
//!
//! Replica identity is the node id, which is created with the node's data and
//! never reused: a node whose data directory was wiped comes back with a new
//! id and must be added to groups as a new replica, so it cannot vote with a
//! forgotten history (openraft FAQ, "reuse node id").

pub mod peer_service;
#[cfg(test)]
mod stored_format_tests;

use openraft::{BasicNode, TokioRuntime};

use crate::partition::{Command, CommandResponse};
use crate::storage::StateMachineStore;

openraft::declare_raft_types!(
    /// Raft types of a partition group.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = BasicNode,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
        AsyncRuntime = TokioRuntime,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig, StateMachineStore>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
/// A partition's snapshot is a file (see `crate::storage::snapshot`).
pub type SnapshotData = tokio::fs::File;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;
pub type Network = zya_raftstore::GroupNetworkFactory<TypeConfig, SnapshotData>;

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
            enable_tick: false,
            enable_heartbeat: false,
            enable_elect: false,
            // openraft allocates per-group ring buffers for its lifecycle
            // latency stats, 1,024 entries by default, even without its
            // `runtime-stats` feature (off here), which is the only reader.
            // At 10,000 groups a node's RSS went from 1,672 to 1,425 MB.
            log_stage_capacity: Some(1),
            ..Default::default()
        }
    }
}
