//! Keeping every partition at its replication factor without an operator.
//!
//! The catalogue leader checks once a second: a storage node silent for
//! longer than `replace_after`, or being decommissioned, has its replicas
//! moved one by one to the least-loaded live node that does not hold the
//! partition yet: created there empty, added to the group as a learner
//! (it catches up, from a snapshot if needed), promoted to voter, and only
//! then the old replica is removed and the catalogue updated. Writes go on
//! throughout; the group never has fewer voters than before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zya_client::{pb, PartitionClient};

use crate::allocator::{topic_label, Allocator};
use crate::catalogue::command::CatalogueCommand;
use crate::catalogue::model::NodeId;
use crate::error::AllocError;
use crate::placement;

const PERIOD: Duration = Duration::from_secs(1);
/// How long one move waits for its new replica to catch up and become a
/// voter. A learner keeps catching up after a move gives up; the next round
/// (a second later) waits for it again, so a large partition still gets
/// there, while a learner on a node that died meanwhile holds nothing up
/// for long.
const ADD_WITHIN: Duration = Duration::from_secs(60);

pub async fn run(alloc: Arc<Allocator>, cancel: CancellationToken) {
    crate::allocator::leader_loop(alloc, PERIOD, cancel, round).await
}

/// Moves of different groups run at once: one group's move can wait long
/// (a learner catching up, or a new replica whose node died meanwhile), and
/// must not hold back the others. Moves of one group stay one at a time.
async fn round(alloc: Arc<Allocator>) {
    let mut by_group: BTreeMap<u64, Vec<NodeId>> = BTreeMap::new();
    for (node, group) in replicas_to_move(&alloc) {
        by_group.entry(group).or_default().push(node);
    }
    let moves = by_group.into_iter().map(|(group, nodes)| {
        let alloc = alloc.clone();
        async move {
            alloc.begin_change(group);
            for node in nodes {
                match move_replica(&alloc, group, node).await {
                    Ok(new) => tracing::info!(group, from = node, to = new, "replica moved"),
                    Err(e) => tracing::warn!(group, from = node, error = %e, "could not move replica yet"),
                }
            }
            alloc.end_change(group);
        }
    });
    futures::future::join_all(moves).await;
}

/// (node, group) pairs whose replica must move: the node has been down for
/// `replace_after`, or is being decommissioned.
fn replicas_to_move(alloc: &Allocator) -> Vec<(NodeId, u64)> {
    let now = Instant::now();
    let members = alloc.members.lock().expect("member table lock is never poisoned");
    alloc.reader.read(|c| {
        c.storage_nodes()
            .filter(|m| m.decommissioning || members.silent_for(m.id, now) >= alloc.cfg.replace_after)
            .flat_map(|m| c.replicas_on(m.id).into_iter().map(move |(_, _, g)| (m.id, g)))
            .collect()
    })
}

async fn move_replica(alloc: &Allocator, group: u64, old: NodeId) -> Result<NodeId, AllocError> {
    let Some((topic, placement)) = alloc.reader.read(|c| c.group(group).map(|(t, p)| (t.clone(), p.clone()))) else {
        return Err(AllocError::BadRequest(format!("group {group} is not in the catalogue")));
    };
    let cands = alloc.live_candidates();
    let new = placement::replacement(&cands, &placement.replicas)
        .ok_or_else(|| AllocError::Unavailable("no live node without a replica of this partition".into()))?;
    let addr = |id: NodeId| alloc.reader.read(|c| c.members.get(&id).map(|m| m.addr.clone())).unwrap_or_default();
    let new_addr = addr(new);
    let config = pb::PartitionConfig {
        topic: topic_label(&topic.key),
        partition: placement.partition,
        retention_ms: topic.retention_ms,
        retention_bytes: topic.retention_bytes,
        audited: topic.audited,
    };
    let mut stub = alloc.channels.stub(&new_addr).map_err(|e| AllocError::Unavailable(e.to_string()))?;
    stub.create_replica(pb::CreateReplicaRequest {
        group_id: group,
        config: Some(config),
        members: vec![],
        bootstrap: false,
    })
    .await
    .map_err(|s| AllocError::Unavailable(format!("create replica on {new}: {s}")))?;
    let survivors: Vec<String> = placement.replicas.iter().filter(|&&r| r != old).map(|&r| addr(r)).collect();
    let client = PartitionClient::new(alloc.channels.clone(), group, survivors);
    client
        .add_replica(new, &new_addr, ADD_WITHIN)
        .await
        .map_err(|e| AllocError::Unavailable(format!("add replica {new}: {e}")))?;
    client
        .remove_replica(old, Duration::from_secs(30))
        .await
        .map_err(|e| AllocError::Unavailable(format!("remove replica {old}: {e}")))?;
    alloc.propose(CatalogueCommand::ReplaceReplica { group_id: group, old, new }).await?;
    // Best effort: a live (decommissioned) node frees the disk now; a dead
    // one is cleaned by reconciliation when it returns.
    let old_addr = addr(old);
    if let Ok(mut stub) = alloc.channels.stub(&old_addr) {
        let mut req = tonic::Request::new(pb::DeleteReplicaRequest { group_id: group, node_id: Some(old) });
        req.set_timeout(Duration::from_secs(5));
        let _ = stub.delete_replica(req).await;
    }
    Ok(new)
}
