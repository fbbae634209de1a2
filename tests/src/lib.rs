//! Shared pieces of Zya's integration tests: workloads that record every
//! outcome for the history checker (`zya_checker`), on top of the process
//! cluster of `zya_harness`.

pub mod workload;

pub use zya_checker as checker;
use zya_client::pb;
pub use zya_harness::{Cluster, NodeOptions};

/// A partition's configuration with defaults: no retention, not audited.
pub fn partition_config(topic: &str) -> pb::PartitionConfig {
    pb::PartitionConfig { topic: topic.into(), ..Default::default() }
}

/// A message with id `id`, a payload naming it, from alice's laptop.
pub fn message(id: &str) -> pb::NewMessage {
    pb::NewMessage {
        message_id: id.into(),
        payload: format!("payload of {id}").into_bytes(),
        user: "alice".into(),
        device: "laptop".into(),
        timestamp: "2026-11-28T00:00:00Z".into(),
        ..Default::default()
    }
}

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
