//! `zya-allocator`: a replica of the cluster catalogue and the TopicAllocator.

/// The allocator of every binary; why, and what it measured, in Cargo.toml.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use zya_allocator::allocator::AllocatorConfig;
use zya_allocator::config::{parse_peers, Config};

#[derive(Parser, Debug)]
#[command(name = "zya-allocator", about = "Zya allocator: Raft-replicated cluster catalogue and topic placement")]
struct Args {
    /// This replica's id among --peers.
    #[arg(long, env = "ZYA_ALLOCATOR_ID")]
    id: u64,
    #[arg(long, env = "ZYA_DATA_DIR")]
    data_dir: PathBuf,
    #[arg(long, env = "ZYA_LISTEN", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
    /// Every catalogue replica as ID=HOST:PORT (comma separated), self included.
    #[arg(long, env = "ZYA_PEERS", value_delimiter = ',', required = true)]
    peers: Vec<String>,
    /// Raft heartbeat of the catalogue group.
    #[arg(long, env = "ZYA_HEARTBEAT", default_value = "100ms", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    /// How long replicas of one placement attempt may take to acknowledge.
    #[arg(long, env = "ZYA_CREATE_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    create_timeout: Duration,
    /// A member silent this long is down.
    #[arg(long, env = "ZYA_DOWN_AFTER", default_value = "5s", value_parser = humantime::parse_duration)]
    down_after: Duration,
    /// A storage node down this long has its replicas moved elsewhere.
    #[arg(long, env = "ZYA_REPLACE_AFTER", default_value = "60s", value_parser = humantime::parse_duration)]
    replace_after: Duration,
    /// Users who are cluster admins from the start (comma separated).
    #[arg(long, env = "ZYA_ADMINS", value_delimiter = ',')]
    admins: Vec<String>,
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
    let config = Config {
        id: args.id,
        data_dir: args.data_dir,
        listen: args.listen,
        peers: parse_peers(&args.peers).context("parse --peers")?,
        heartbeat_ms: args.heartbeat.as_millis() as u64,
        allocator: AllocatorConfig {
            create_timeout: args.create_timeout,
            down_after: args.down_after,
            replace_after: args.replace_after,
        },
        admins: args.admins,
    }
    .validate()
    .context("check configuration")?;
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        token.cancel();
    });
    zya_allocator::server::run(config, shutdown).await.context("run allocator")
}
