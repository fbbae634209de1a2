//! Zya's wire definitions: the Raft peer service between storage nodes (and
//! between catalogue replicas), the partition service that gateways, the
//! allocator and tools call, and the allocators' catalogue service.
//!
//! This crate is a pure codec: generated types and service stubs only, no
//! runtime and no domain types. Each service crate converts at its boundary.
//! Every service uses [`codec::ContiguousCodec`]; the one hand-written
//! message encoding, [`read_wire`], is a `ReadReply` encoded as it is built.

pub mod codec;
pub mod http2;
pub mod read_wire;

/// Raft transport between storage nodes (`zya.raft.v1`).
pub mod raft {
    tonic::include_proto!("zya.raft.v1");
}

/// The storage node's partition service (`zya.node.v1`).
pub mod node {
    tonic::include_proto!("zya.node.v1");
    // The server half: `Read` streams `read_wire::ReadReplyWire`.
    include!(concat!(env!("OUT_DIR"), "/node_server/zya.node.v1.rs"));
}

/// The allocators' catalogue service (`zya.catalogue.v1`).
pub mod catalogue {
    tonic::include_proto!("zya.catalogue.v1");
}
