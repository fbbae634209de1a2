//! Reconciliation: storage nodes host exactly the replicas the catalogue
//! places on them.
//!
//! A replica can outlive its reason to exist: a node that was frozen during
//! a placement attempt creates the abandoned replica when it wakes up (after
//! the allocator's delete already failed), or a node that was down while its
//! topic was deleted or its replica moved comes back. Node heartbeats list
//! every hosted group; the catalogue leader deletes those that no topic
//! places on that node and that no placement attempt or replica move under
//! way is creating.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zya_client::pb;

use crate::allocator::Allocator;

const PERIOD: Duration = Duration::from_secs(1);

pub async fn run(alloc: Arc<Allocator>, cancel: CancellationToken) {
    crate::allocator::leader_loop(alloc, PERIOD, cancel, round).await
}

async fn round(alloc: Arc<Allocator>) {
    for (addr, node, group) in leftovers(&alloc) {
        let Ok(mut stub) = alloc.channels.stub(&addr) else { continue };
        let mut req = tonic::Request::new(pb::DeleteReplicaRequest { group_id: group, node_id: Some(node) });
        req.set_timeout(Duration::from_secs(5));
        match stub.delete_replica(req).await {
            Ok(_) => tracing::info!(group, node = %addr, "deleted a replica the catalogue does not place there"),
            Err(status) => tracing::debug!(group, node = %addr, %status, "leftover replica not deleted yet"),
        }
    }
}

/// (node address, node id, group) of hosted replicas the catalogue does not place.
fn leftovers(alloc: &Allocator) -> Vec<(String, u64, u64)> {
    let now = Instant::now();
    let members = alloc.members.lock().expect("member table lock is never poisoned");
    alloc.reader.read(|c| {
        let mut out = Vec::new();
        for m in c.storage_nodes() {
            let Some(seen) = members.get(m.id) else { continue };
            if now.saturating_duration_since(seen.at) > alloc.cfg.down_after {
                continue;
            }
            let placed: HashSet<u64> = c.replicas_on(m.id).into_iter().map(|(_, _, g)| g).collect();
            for g in &seen.report.groups {
                if !placed.contains(&g.group_id) && !alloc.is_in_flight(g.group_id) {
                    out.push((m.addr.clone(), m.id, g.group_id));
                }
            }
        }
        out
    })
}
