//! Clients of Zya's storage nodes and of the allocators' catalogue, shared by
//! the gateway, the allocator, the nodes, the CLI and the tests.
//!
//! A [`PartitionClient`] talks to the replicas of one partition. Writes go to
//! the leader; when a replica answers `NOT_LEADER` the client follows the
//! leader it names, and when a node is unreachable or has no leader it tries
//! the others with a short backoff, all within the caller's deadline. Only
//! when the deadline passes does the caller see `Unavailable` (no quorum) or
//! `Timeout` (a write was sent and its outcome is unknown).

mod catalogue;
mod error;
mod membership;
mod partition;
mod pipeline;
mod pool;
mod publisher;
pub mod ws;

pub use catalogue::{CatalogueClient, CatalogueError};
pub use error::{error_detail, ClientError, RejectCode};
pub use partition::PartitionClient;
pub use pipeline::{Outcome, Pipeline, Reply};
pub use pool::Channels;
pub use publisher::{gather, BatchPublisher};
pub use zya_proto::catalogue as catalogue_pb;
pub use zya_proto::node as pb;
