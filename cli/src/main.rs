//! `zya`: the command-line tool of Zya.

/// The allocator of every binary; why, and what it measured, in Cargo.toml.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod bench;
mod chaos;
mod dev;
mod dev_gateway;
mod health;
mod token;
mod ws;

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
    /// A chaos run: faults injected into a cluster of real processes under a
    /// WebSocket workload, then the history checked.
    Chaos(chaos::ChaosArgs),
    /// The local development cluster.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Cluster status from the catalogue.
    Cluster {
        #[command(subcommand)]
        cmd: admin::ClusterCommand,
        #[command(flatten)]
        target: admin::Target,
    },
    /// Create, list, describe and delete topics.
    Topic {
        #[command(subcommand)]
        cmd: admin::TopicCommand,
        #[command(flatten)]
        target: admin::Target,
    },
    /// Mint a development login token for a user.
    Token(token::TokenArgs),
    /// Publish one message through a gateway (WebSocket).
    Publish(ws::PublishArgs),
    /// Print a topic's messages as they arrive, through a gateway (WebSocket).
    Subscribe(ws::SubscribeArgs),
    /// Check that one node, allocator or gateway serves; exits 0 or 1.
    Health(health::HealthArgs),
    /// Storage node operations.
    Node {
        #[command(subcommand)]
        cmd: admin::NodeCommand,
        #[command(flatten)]
        target: admin::Target,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Dev(cmd) => dev::run(cmd).await,
        Command::Chaos(args) => chaos::run(args).await,
        Command::Cluster { cmd, target } => admin::cluster(cmd, target).await,
        Command::Topic { cmd, target } => admin::topic(cmd, target).await,
        Command::Node { cmd, target } => admin::node(cmd, target).await,
        Command::Token(args) => token::run(args),
        Command::Publish(args) => ws::publish(args).await,
        Command::Subscribe(args) => ws::subscribe(args).await,
        Command::Health(args) => health::run(args).await,
    }
}
