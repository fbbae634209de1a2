//! `zya bench`: measurements that print figures (never pass/fail tests).
//!
//! Each benchmark starts its own cluster of real `zya-node` processes on
//! loopback from the binaries next to `zya`, bounds every load loop by count
//! and by time, and prints a table (or `--json`).

mod append;
pub mod figures;
mod idle;
mod stats;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Append throughput and acknowledgment latency over gRPC, for message
    /// sizes and replication factors, one request in flight and pipelined.
    Append(append::AppendArgs),
    /// CPU used by idle nodes hosting many partitions, and the time to
    /// create them.
    Idle(idle::IdleArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Append(args) => append::run(args).await,
        BenchCommand::Idle(args) => idle::run(args).await,
    }
}
