//! `zya health`: is one process of the cluster serving? A single answer per
//! process kind, for container health checks (the images have no shell or
//! curl, only the `zya` binary) and for operators:
//!
//! ```text
//! node       ── NodeInfo (zya.node.v1) ──────────────> the node's own gRPC server
//! allocator  ── ClusterStatus (zya.catalogue.v1) ────> this allocator, which names
//!                                                      the catalogue leader if it is not it
//! gateway    ── WebSocket {"kind":"Handshake"} ──────> a ServiceMap answer
//! ```
//!
//! Prints one line, `healthy: …` or `unhealthy: …`, and exits 0 or 1.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use zya_client::{catalogue_pb, pb, CatalogueClient, Channels};

/// How long past its own deadline a check may take before it is cut off.
const HANG_GRACE: Duration = Duration::from_millis(500);

#[derive(Args, Debug)]
pub struct HealthArgs {
    #[command(subcommand)]
    target: HealthTarget,
    /// How long the process may take to answer.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration, global = true)]
    timeout: Duration,
}

#[derive(Subcommand, Debug)]
enum HealthTarget {
    /// A storage node answers NodeInfo.
    Node {
        /// The node's gRPC address (host:port).
        addr: String,
    },
    /// An allocator answers ClusterStatus (itself, or by naming a catalogue
    /// leader that answers): it serves and the catalogue has a majority.
    Allocator {
        /// The allocator's address (host:port).
        addr: String,
    },
    /// A gateway answers a WebSocket Handshake with its service map.
    Gateway {
        /// The gateway's WebSocket URL, e.g. ws://127.0.0.1:8080/v1/ws.
        url: String,
    },
}

/// Runs the check, prints its one-line outcome and exits 1 when unhealthy.
pub async fn run(args: HealthArgs) -> anyhow::Result<()> {
    // The checks keep to `timeout` themselves, to say why they failed;
    // this only stops one that hangs.
    let outcome = match tokio::time::timeout(args.timeout + HANG_GRACE, check(&args.target, args.timeout)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow::anyhow!("no answer within {}", humantime::format_duration(args.timeout))),
    };
    match outcome {
        Ok(line) => {
            println!("healthy: {line}");
            Ok(())
        }
        Err(e) => {
            // `{:#}` keeps the causes on the one line a health log shows.
            println!("unhealthy: {}: {e:#}", args.target.describe());
            std::process::exit(1);
        }
    }
}

impl HealthTarget {
    fn describe(&self) -> String {
        match self {
            HealthTarget::Node { addr } => format!("node {addr}"),
            HealthTarget::Allocator { addr } => format!("allocator {addr}"),
            HealthTarget::Gateway { url } => format!("gateway {url}"),
        }
    }
}

async fn check(target: &HealthTarget, timeout: Duration) -> anyhow::Result<String> {
    match target {
        HealthTarget::Node { addr } => node(addr, timeout).await,
        HealthTarget::Allocator { addr } => allocator(addr, timeout).await,
        HealthTarget::Gateway { url } => gateway(url).await,
    }
}

async fn node(addr: &str, timeout: Duration) -> anyhow::Result<String> {
    let mut stub = Channels::default().stub(addr)?;
    let mut request = tonic::Request::new(pb::NodeInfoRequest {});
    request.set_timeout(timeout);
    let info =
        stub.node_info(request).await.map_err(|s| anyhow::anyhow!("NodeInfo: {}", status_reason(&s)))?.into_inner();
    Ok(format!("node {} at {} holds {} replicas, leads {}", info.node_id, info.addr, info.groups.len(), info.leaders))
}

async fn allocator(addr: &str, timeout: Duration) -> anyhow::Result<String> {
    // The catalogue client's error for a refused connection is tonic's
    // debug dump; a plain connect says it in a few words.
    tokio::net::TcpStream::connect(addr).await.context("connect")?;
    // Given only this address, the client fails unless this allocator
    // answers; a follower's NOT_LEADER names the leader, which it follows.
    let client = CatalogueClient::new(vec![addr.to_string()]);
    let status = client
        .call(timeout, |mut s| async move { s.cluster_status(catalogue_pb::ClusterStatusRequest {}).await })
        .await
        .context("ClusterStatus")?
        .into_inner();
    let leader = status.catalogue_leader.context("the catalogue names no leader")?;
    let live = status.members.iter().filter(|m| m.live).count();
    Ok(format!(
        "allocator {addr}: catalogue leader {leader}, {live}/{} members live, {} topics",
        status.members.len(),
        status.topics
    ))
}

/// `Unavailable: tcp connect error (Connection refused (os error 111))`:
/// the code, the message and the innermost cause, without tonic's debug dump.
fn status_reason(status: &tonic::Status) -> String {
    let mut root = None;
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        root = Some(e);
        source = e.source();
    }
    match root {
        Some(cause) => format!("{:?}: {} ({cause})", status.code(), status.message()),
        None => format!("{:?}: {}", status.code(), status.message()),
    }
}

async fn gateway(url: &str) -> anyhow::Result<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.context("connect")?;
    ws.send(WsMessage::Text(json!({"kind":"Handshake"}).to_string().into())).await.context("send Handshake")?;
    let reply = loop {
        match ws.next().await {
            None | Some(Ok(WsMessage::Close(_))) => bail!("the gateway closed the connection"),
            Some(Err(e)) => return Err(e).context("read the answer"),
            Some(Ok(WsMessage::Text(t))) => {
                break serde_json::from_str::<Value>(t.as_str()).context("parse the answer")?
            }
            Some(Ok(_)) => continue,
        }
    };
    let _ = ws.close(None).await;
    if reply["kind"] != "ServiceMap" {
        bail!(
            "answered {} instead of ServiceMap: {}",
            reply["kind"],
            reply["message"].as_str().unwrap_or(&reply.to_string())
        );
    }
    let count = |service: &str| reply["services"][service].as_array().map_or(0, Vec::len);
    Ok(format!(
        "gateway {url}: service map of {} gateways, {} allocators, {} nodes",
        count("gateway"),
        count("allocator"),
        count("node")
    ))
}
