//! Zya's half of the benchmark: the message-path figures of
//! [`super::figures::Load`] over gRPC and over the WebSocket gateway, on a
//! fresh 3-node cluster of real processes.
//!
//! Each (replicas, size) pair gets topics of its own, so no measurement
//! reads or waits behind another one's messages.

mod cluster;
mod failover;
mod grpc;
mod memory;
mod websocket;
mod ws_publisher;

use std::sync::Arc;

use indicatif::ProgressBar;

pub use cluster::BenchCluster;

use super::figures::{Case, Figure, Load, Mode, Path};

/// Nodes of the measured cluster (the anchor runs 3 servers too).
pub const NODES: usize = 3;

/// The figures beyond the message path, each skipped when zero.
#[derive(Debug, Clone, Copy)]
pub struct Extras {
    /// Leader kills under a steady writer (write unavailability).
    pub leader_kills: usize,
    /// Bytes a node holds when it is restarted.
    pub restart_bytes: u64,
    /// Idle connections (and then subscriptions) for the gateway's memory.
    pub memory_connections: usize,
}

/// Progress steps [`measure`] takes (one per measurement).
pub fn steps(load: &Load, extras: &Extras) -> u64 {
    let extra = [extras.leader_kills > 0, extras.restart_bytes > 0, extras.memory_connections > 0];
    let per_pair = 4 * (load.grpc as usize + load.websocket as usize);
    (load.sizes.len() * load.replicas.len() * per_pair) as u64 + extra.iter().filter(|&&e| e).count() as u64
}

pub async fn measure(load: &Load, extras: &Extras, progress: &ProgressBar) -> anyhow::Result<Vec<Figure>> {
    progress.set_message("zya: starting 3 allocators, 3 nodes, 1 gateway");
    let mut cluster = BenchCluster::start(NODES).await?;
    let token = cluster.token()?;
    let url = cluster.gateway_url();
    let mut out = Vec::new();
    for &replicas in &load.replicas {
        for &size in &load.sizes {
            let step = |what: &str| progress.set_message(format!("zya: {what}, {size} B, {replicas} replica(s)"));
            let grpc = Case { size, replicas, path: Path::Grpc, mode: Mode::Default };
            let ws = Case { path: Path::Websocket, ..grpc };
            let name = |kind: &str| format!("bench-{kind}-r{replicas}-s{size}");

            if load.grpc {
                let topic = cluster.create_topic(&name("grpc"), 1, replicas).await?;
                let client = Arc::new(topic.client);
                step("grpc publish, one in flight");
                out.extend(grpc::publish_one_in_flight(client.clone(), grpc, load).await?);
                progress.inc(1);
                step("grpc publish, pipelined");
                out.extend(grpc::publish_pipelined(client.clone(), grpc, load).await?);
                progress.inc(1);
                step("grpc end to end");
                out.extend(grpc::end_to_end(client.clone(), grpc, load).await?);
                progress.inc(1);
                step("grpc catch-up read");
                let fresh = cluster.create_topic(&name("grpc-catch-up"), 1, replicas).await?;
                out.extend(grpc::catch_up_read(Arc::new(fresh.client), grpc, load).await?);
                progress.inc(1);
            }
            if load.websocket {
                let topic = cluster.create_topic(&name("ws"), 1, replicas).await?;
                let publisher = websocket::connect(&url, &token, "bench-publisher").await?;
                let mut subscriber = websocket::connect(&url, &token, "bench-subscriber").await?;
                let target = websocket::Target { url: &url, token: &token, topic: &topic.name };
                step("websocket publish, one in flight");
                out.extend(websocket::publish_one_in_flight(&target, ws, load).await?);
                progress.inc(1);
                step("websocket publish, pipelined");
                out.extend(websocket::publish_pipelined(&target, ws, load).await?);
                progress.inc(1);
                step("websocket end to end");
                out.extend(websocket::end_to_end(&publisher, &mut subscriber, &topic.name, ws, load).await?);
                progress.inc(1);
                step("websocket catch-up read");
                let fresh = cluster.create_topic(&name("ws-catch-up"), 1, replicas).await?;
                let mut reader = websocket::connect(&url, &token, "bench-reader").await?;
                let target = websocket::Target { url: &url, token: &token, topic: &fresh.name };
                out.extend(websocket::catch_up_read(&mut reader, &target, ws, load).await?);
                progress.inc(1);
            }
        }
    }
    // A failed extra is reported and the run goes on: the figures already
    // measured are worth printing.
    if extras.memory_connections > 0 {
        progress.set_message(format!("zya: gateway memory, {} connections", extras.memory_connections));
        keep(&mut out, "gateway memory", memory::gateway(&mut cluster, extras.memory_connections).await);
        progress.inc(1);
    }
    if extras.leader_kills > 0 {
        progress.set_message(format!("zya: write unavailability, {} leader kills", extras.leader_kills));
        keep(&mut out, "leader kills", failover::leader_kill(&mut cluster, extras.leader_kills, progress).await);
        progress.inc(1);
    }
    if extras.restart_bytes > 0 {
        progress.set_message(format!("zya: restart of nodes holding {} MiB", extras.restart_bytes >> 20));
        keep(&mut out, "restart", failover::restart(&mut cluster, extras.restart_bytes, load).await);
        progress.inc(1);
    }
    Ok(out)
}

/// Adds a measurement's figures, or reports on stderr why there are none.
fn keep(out: &mut Vec<Figure>, what: &str, figures: anyhow::Result<Vec<Figure>>) {
    match figures {
        Ok(f) => out.extend(f),
        Err(e) => eprintln!("zya bench: {what} FAILED, no figures: {e:#}"),
    }
}
