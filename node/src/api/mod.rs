//! The node's `Partition` gRPC service: what gateways, the allocator and
//! tools call. Conversions between wire types and domain types live here and
//! reject missing or malformed fields instead of guessing.

mod append;
mod convert;
mod fault;
mod partition_service;
mod read;

pub use fault::Faults;
pub use partition_service::PartitionService;

use crate::error::NodeError;

/// Names the group in a `NotLeader` error raised below the service.
fn with_group(e: NodeError, group: u64) -> NodeError {
    match e {
        NodeError::NotLeader { leader_id, leader_addr, .. } => NodeError::NotLeader { group, leader_id, leader_addr },
        other => other,
    }
}
