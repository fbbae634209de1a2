//! The node's `Partition` gRPC service: what gateways, the allocator and
//! tools call. Conversions between wire types and domain types live here and
//! reject missing or malformed fields instead of guessing.

mod append;
mod convert;
mod fault;
mod partition_service;
mod read;

pub use append::Appends;
pub use fault::Faults;
pub use partition_service::PartitionService;

use std::sync::Arc;
use std::time::Duration;

use crate::error::NodeError;
use crate::group::{Group, Registry};

fn group(registry: &Registry, id: u64) -> Result<Arc<Group>, NodeError> {
    registry.get(id).ok_or(NodeError::GroupNotFound { group: id })
}

/// The group, if this node leads it; `NotLeader` (naming the leader) if not.
fn leader_group(registry: &Registry, id: u64) -> Result<Arc<Group>, NodeError> {
    let g = group(registry, id)?;
    if !g.is_leader() {
        return Err(g.not_leader());
    }
    Ok(g)
}

/// A request's `timeout_ms`, where 0 means the node's default.
fn timeout_or(default: Duration, ms: u32) -> Duration {
    match ms {
        0 => default,
        ms => Duration::from_millis(ms as u64),
    }
}

/// Names the group in a `NotLeader` error raised below the service.
fn with_group(e: NodeError, group: u64) -> NodeError {
    match e {
        NodeError::NotLeader { leader_id, leader_addr, .. } => NodeError::NotLeader { group, leader_id, leader_addr },
        other => other,
    }
}
