//! Gateway memory: resident size added per idle (logged-in) connection and
//! per active subscription, from the gateway process's `VmRSS` before and
//! after opening them.
//!
//! Measured on a gateway restarted for it: the one that carried the publish
//! runs holds freed memory that its allocator hands back to the system at
//! times of its own, so its resident size could fall while connections were
//! added (−3.2 KiB per connection in one run). And measured at the margin:
//! a first `connections` connections are opened and kept before the
//! baseline, so the figures are the cost of one more connection on a
//! gateway that already holds many, not the heap's one-time growth (which
//! made the first thousand cost 25–27 KiB each on a fresh gateway).

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;
use zya_client::ws::Conn;

use super::super::figures::{Case, Figure, Mode, Path};
use super::{websocket, BenchCluster};

/// Resident set size of a process in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS without a value")?.parse()?)
}

/// Lets the allocator settle, then samples.
async fn settled_rss(pid: u32) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    rss_kib(pid)
}

pub async fn gateway(cluster: &mut BenchCluster, connections: usize) -> anyhow::Result<Vec<Figure>> {
    cluster.gateways.restart(0).await.context("restart the gateway")?;
    let pid = cluster.gateways.pid(0).context("the gateway is down")?;
    let topic = cluster.create_topic("bench-memory", 1, 3).await?;
    let (url, token) = (cluster.gateway_url(), cluster.token()?);
    let mut warm: Vec<Conn> = Vec::with_capacity(connections);
    for i in 0..connections {
        warm.push(websocket::connect(&url, &token, &format!("warm-{i}")).await?);
    }
    let before = settled_rss(pid).await?;
    let mut conns: Vec<Conn> = Vec::with_capacity(connections);
    for i in 0..connections {
        conns.push(websocket::connect(&url, &token, &format!("idle-{i}")).await?);
    }
    let idle = settled_rss(pid).await?;
    for (i, c) in conns.iter().enumerate() {
        let frame = json!({"kind":"Subscribe","topic":topic.name,"group":format!("mem-{i}"),
            "reader":{"from":"Latest"},"batchSize":100,"commitRatio":0.5});
        let reply = c.request(frame, Duration::from_secs(10)).await?;
        if reply["kind"] != "Subscribed" {
            bail!("subscribe refused: {reply}");
        }
    }
    let subscribed = settled_rss(pid).await?;
    drop(warm);
    let case = Case { size: 0, replicas: 3, path: Path::Websocket, mode: Mode::Default };
    let n = connections.max(1) as f64;
    Ok(vec![
        case.figure("gateway_memory_per_idle_connection", "KiB", (idle - before) / n),
        case.figure("gateway_memory_per_subscription", "KiB", (subscribed - idle) / n),
    ])
}
