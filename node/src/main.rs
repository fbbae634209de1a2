//! `zya-node`: the storage node process.

/// The allocator of every binary; why, and what it measured, in Cargo.toml.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use zya_node::Settings;

#[derive(Parser, Debug)]
#[command(name = "zya-node", about = "Zya storage node: Raft-replicated topic partitions on RocksDB")]
struct Args {
    /// Folder of the node's database and snapshots.
    #[arg(long, env = "ZYA_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to serve gRPC on (a fixed port: peers keep it in the Raft membership).
    #[arg(long, env = "ZYA_LISTEN", default_value = "127.0.0.1:7100")]
    listen: SocketAddr,
    /// Address others use to reach this node (defaults to --listen).
    #[arg(long, env = "ZYA_ADVERTISE")]
    advertise: Option<String>,
    /// How often peer nodes are pinged (node-level heartbeat; groups do not
    /// heartbeat on their own).
    #[arg(long, env = "ZYA_HEARTBEAT", default_value = "200ms", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    /// A peer node not answering pings for this long is down: groups it
    /// led elect a new leader.
    #[arg(long, env = "ZYA_FAILURE_TIMEOUT", default_value = "800ms", value_parser = humantime::parse_duration)]
    failure_timeout: Duration,
    /// Random wait before a replica stands for election once its group is
    /// leaderless (lower bound).
    #[arg(long, env = "ZYA_ELECTION_DELAY_MIN", default_value = "50ms", value_parser = humantime::parse_duration)]
    election_delay_min: Duration,
    /// Upper bound of that wait.
    #[arg(long, env = "ZYA_ELECTION_DELAY_MAX", default_value = "400ms", value_parser = humantime::parse_duration)]
    election_delay_max: Duration,
    /// Raft entries between snapshots (the log below a snapshot is purged).
    #[arg(long, env = "ZYA_SNAPSHOT_EVERY", default_value_t = 20_000)]
    snapshot_every: u64,
    /// Raft entries kept below the last snapshot for lagging followers.
    #[arg(long, env = "ZYA_LOG_KEEP", default_value_t = 1000)]
    log_keep: u64,
    /// Default deadline of an append or commit.
    #[arg(long, env = "ZYA_WRITE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    write_timeout: Duration,
    /// How often retention is applied.
    #[arg(long, env = "ZYA_RETENTION_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    retention_interval: Duration,
    /// Allocators (host:port, comma separated) to register with and report
    /// load to. Without them the node runs standalone.
    #[arg(long, env = "ZYA_ALLOCATORS", value_delimiter = ',')]
    allocators: Vec<String>,
    /// How often load is reported to the catalogue.
    #[arg(long, env = "ZYA_REPORT_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    report_interval: Duration,
    /// Test only: acknowledge appends before replication (loses data).
    #[arg(long, hide = true)]
    test_fault_ack_before_replication: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn,h2=warn,tower=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Settings {
        data_dir: args.data_dir,
        listen: args.listen,
        advertise: args.advertise,
        heartbeat: args.heartbeat,
        failure_timeout: args.failure_timeout,
        election_delay_min: args.election_delay_min,
        election_delay_max: args.election_delay_max,
        snapshot_every: args.snapshot_every,
        log_keep: args.log_keep,
        write_timeout: args.write_timeout,
        retention_interval: args.retention_interval,
        allocators: args.allocators,
        report_interval: args.report_interval,
        fault_ack_before_replication: args.test_fault_ack_before_replication,
    }
    .validate()
    .context("check configuration")?;
    let shutdown = CancellationToken::new();
    let signal_token = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        signal_token.cancel();
    });
    zya_node::server::run(config, shutdown).await.context("run node")
}
