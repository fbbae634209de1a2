//! The node's `Partition` gRPC service: what gateways, the allocator and
//! tools call. Conversions between wire types and domain types live here and
//! reject missing or malformed fields instead of guessing.

mod convert;
mod fault;
mod partition_service;
mod read;

pub use fault::Faults;
pub use partition_service::PartitionService;
