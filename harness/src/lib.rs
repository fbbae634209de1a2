//! Real `zya-node` and `zya-allocator` processes on loopback, each with its own RocksDB, that
//! callers start, kill (SIGKILL), pause (SIGSTOP), restart and wipe, and
//! `zya-gateway` processes in front of them. Nodes may instead run in the
//! hosts of a [`NetLab`] (network namespaces), whose links can be cut. Used
//! by the integration and chaos tests, by `zya bench`, and by `zya dev up`.
//!
//! The binaries are the ones cargo built next to the running executable (or
//! in `ZYA_BIN_DIR`). A missing binary is an error, never a skip.

pub mod allocators;
pub mod cluster;
pub mod gateways;
pub mod netlab;
pub mod startup;

pub use allocators::{AllocatorOptions, Allocators};
pub use cluster::{bin_dir, Cluster, NodeOptions};
pub use gateways::{GatewayOptions, Gateways, TEST_DEV_SECRET};
pub use netlab::NetLab;
