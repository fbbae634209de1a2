//! `zya`: the command-line tool of Zya.

mod bench;
mod dev;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "zya", about = "Zya: a Raft-replicated topic store reached over WebSocket", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Benchmarks that start their own cluster of real processes.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The local development cluster.
    #[command(subcommand)]
    Dev(dev::DevCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Dev(cmd) => dev::run(cmd).await,
    }
}
