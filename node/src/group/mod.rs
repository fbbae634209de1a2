//! A hosted partition replica: its Raft group, its read side, its append
//! pipeline, and the registry of all groups on the node.
//!
//! ```text
//!            ┌──────────── Group ─────────────┐
//! Append ──> │ Appender ─> Raft ─> LogStore    │──> RocksDB (+ Syncer)
//! Read   <── │ PartitionReader <─ StateMachine │
//!            └─────────────────────────────────┘
//! ```

mod appender;
mod descriptor;
pub mod lease;
mod registry;
mod retention;

use openraft::async_runtime::watch::WatchReceiver;
use std::sync::Arc;

pub use appender::{raft_write_error, write_error as appender_error, Appender, Pending, APPEND_QUEUE_CAPACITY};
pub use descriptor::GroupDescriptor;
pub use registry::Registry;
pub use retention::run_retention;
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::raft::{Network, NodeId, Raft, RaftTiming};
use crate::storage::{IncomingSnapshot, LogStore, PartitionReader, StateMachineStore, Store};
use zya_raftstore::{ChannelPool, SnapshotReceiver};

/// One partition replica hosted by this node.
pub struct Group {
    pub id: u64,
    pub node_id: NodeId,
    pub descriptor: GroupDescriptor,
    pub raft: Raft,
    pub reader: PartitionReader,
    pub appender: Appender,
    /// A snapshot being received from the leader, chunk by chunk.
    pub incoming: SnapshotReceiver<IncomingSnapshot>,
    /// The group's Raft log, read for the pre-vote check (see
    /// `crate::liveness`).
    log: LogStore,
    /// Cancelled when the group is deleted or the node stops; child of the
    /// node's token.
    pub cancel: CancellationToken,
}

impl Group {
    /// Opens (or creates, when its storage is empty) the group's Raft node.
    pub async fn open(
        store: Store,
        node_id: NodeId,
        descriptor: GroupDescriptor,
        timing: &RaftTiming,
        pool: Arc<ChannelPool>,
        cancel: CancellationToken,
    ) -> Result<Arc<Self>, NodeError> {
        let id = descriptor.group_id;
        // Raft gets the store; the group keeps a reader of the same log.
        let raft_log = LogStore::new(store.clone(), id);
        let log = raft_log.clone();
        let (sm, reader) = StateMachineStore::open(store, id)?;
        let config = Arc::new(
            timing.openraft_config().validate().map_err(|e| NodeError::bad_request(format!("raft config: {e}")))?,
        );
        let network = Network::new(id, pool);
        // A quiescent group: its config turns its own timers off. The node's
        // liveness task decides when to elect and when to heartbeat (see
        // `crate::liveness`).
        let raft =
            Raft::new(node_id, config, network, raft_log, sm).await.map_err(|e| NodeError::Raft(e.to_string()))?;
        let appender = Appender::start(raft.clone(), cancel.clone());
        let incoming = SnapshotReceiver::default();
        Ok(Arc::new(Self { id, node_id, descriptor, raft, reader, appender, incoming, log, cancel }))
    }

    /// Opens a file to receive a snapshot into (see `crate::raft::peer_service`).
    pub async fn begin_snapshot(&self) -> std::io::Result<IncomingSnapshot> {
        IncomingSnapshot::create(self.reader.store(), self.id).await
    }

    /// The leader as this replica knows it: (id, address).
    pub fn leader(&self) -> Option<(NodeId, Option<String>)> {
        let m = self.raft.metrics().borrow_watched().clone();
        let leader = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&leader).map(|n| n.addr.clone());
        Some((leader, addr))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }

    /// The error to answer when this replica is not the leader.
    pub fn not_leader(&self) -> NodeError {
        let (leader_id, leader_addr) = match self.leader() {
            Some((id, addr)) if id != self.node_id => (Some(id), addr),
            _ => (None, None),
        };
        NodeError::NotLeader { group: self.id, leader_id, leader_addr }
    }

    /// (term, index) of the newest entry in this replica's log.
    pub fn last_log(&self) -> Result<Option<(u64, u64)>, NodeError> {
        let id = self.log.last_stored_log_id().map_err(|e| NodeError::Raft(format!("read the last log id: {e}")))?;
        Ok(id.map(|l| (l.leader_id.term, l.index)))
    }

    pub async fn shutdown(&self) {
        self.cancel.cancel();
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(group = self.id, error = %e, "raft shutdown");
        }
    }
}
