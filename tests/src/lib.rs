//! Shared pieces of Zya's integration tests: workloads that record every
//! outcome for the history checker (`zya_checker`), on top of the process
//! cluster of `zya_harness`.

pub mod workload;

pub use zya_checker as checker;
pub use zya_harness::{Cluster, NodeOptions};

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
