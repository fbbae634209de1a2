//! Zya's wire definitions: the Raft peer service between storage nodes and the
//! partition service that gateways, the allocator and tools call.
//!
//! This crate is a pure codec: generated types and service stubs only, no
//! runtime and no domain types. Each service crate converts at its boundary.

/// Raft transport between storage nodes (`zya.raft.v1`).
pub mod raft {
    tonic::include_proto!("zya.raft.v1");
}

/// The storage node's partition service (`zya.node.v1`).
pub mod node {
    tonic::include_proto!("zya.node.v1");
}
