//! Test harness for Zya: real `zya-node` processes on loopback, each with its
//! own RocksDB, that tests kill (SIGKILL), pause (SIGSTOP), restart and wipe;
//! plus the history checker (`zya_checker`) every fault test reports through.
//!
//! The binaries are the ones cargo built next to the test executable (or in
//! `ZYA_BIN_DIR`). A missing binary fails the test loudly rather than
//! skipping it.

pub mod cluster;
pub mod workload;

pub use cluster::{Cluster, NodeOptions};
pub use zya_checker as checker;

/// Logs `--- phase` lines so a failing test's output shows where it was.
pub fn phase(name: &str) {
    eprintln!("--- {name}");
}

/// Sets up tracing for a test once (RUST_LOG decides the level).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}
