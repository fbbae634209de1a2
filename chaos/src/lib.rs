//! Zya's chaos runner: concurrent publishers and subscribers over the
//! WebSocket protocol against a cluster of real processes, while a seeded
//! schedule kills, pauses, wipes and replaces storage nodes; then heal,
//! drain, read every replica, and let the history checker
//! (`zya-checker`, the anomalies of `reliability.md`) judge the history.
//!
//! - [`schedule`]: the seeded fault sequence (replay a failing seed).
//! - [`target`]: the process cluster and how each fault is done to it.
//! - [`workload`]: the recording WebSocket clients.
//! - [`run`]: one run, start to report.

pub mod run;
pub mod schedule;
pub mod target;
pub mod workload;

pub use run::{run, ChaosConfig, ChaosOutcome};
pub use schedule::{FaultKind, Holds};
