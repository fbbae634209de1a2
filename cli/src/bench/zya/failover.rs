//! Failover figures: how long writes stop after the SIGKILL of a
//! partition's leader, and how long a node holding a large log takes to
//! serve again after a restart.
//!
//! Unavailability is measured the way a client lives it: one writer keeps
//! appending (one in flight, each attempt bounded by the client's retry
//! loop), and the gap is the time from the kill to the first
//! acknowledgment after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;

use super::super::figures::{Case, Figure, Load, Mode, Path};
use super::super::stats::Latencies;
use super::grpc::message;
use super::BenchCluster;

const CALL: Duration = Duration::from_secs(10);

/// Kills the leader of an RF3 partition `kills` times under a steady
/// writer; figures `leader_kill_unavailability_p50|p99|max` in ms.
///
/// Each kill's gap is also printed to stderr with the kill's wall-clock
/// time, so that a slow one can be matched with the nodes' logs (the
/// percentiles alone cannot say which kill was slow or why).
pub async fn leader_kill(
    cluster: &mut BenchCluster,
    kills: usize,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<Figure>> {
    let topic = cluster.create_topic("bench-failover", 1, 3).await?;
    let client = Arc::new(topic.client);
    let acks: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, acks, stop) = (client.clone(), acks.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                if client.append(vec![message(format!("failover-{i}"), 128)], CALL).await.is_ok() {
                    acks.lock().expect("lock is never poisoned").push(Instant::now());
                }
            }
        })
    };
    let mut gaps = Latencies::new();
    let mut max = Duration::ZERO;
    for k in 1..=kills {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let leader = cluster.nodes.wait_leader(&client, CALL).await?;
        let wall = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let killed_at = Instant::now();
        cluster.nodes.kill(leader).await?;
        let until = killed_at + Duration::from_secs(30);
        let gap = loop {
            let first = acks.lock().expect("lock is never poisoned").iter().find(|&&t| t > killed_at).copied();
            if let Some(t) = first {
                break t - killed_at;
            }
            anyhow::ensure!(Instant::now() < until, "no write acknowledged within 30 s of killing the leader");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        gaps.record(gap);
        max = max.max(gap);
        let ms = gap.as_secs_f64() * 1000.0;
        progress.suspend(|| {
            eprintln!(
                "zya bench: leader kill {k}/{kills}: node {leader} killed at {wall}, writes resumed after {ms:.0} ms"
            )
        });
        cluster.nodes.restart(leader).await?;
        cluster.nodes.wait_converged(&client, Duration::from_secs(30)).await.context("converge after a kill")?;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    let case = Case { size: 128, replicas: 3, path: Path::Grpc, mode: Mode::Default };
    let mut out = vec![
        case.figure("leader_kill_unavailability_p50", "ms", gaps.ms(0.5)),
        case.figure("leader_kill_unavailability_p99", "ms", gaps.ms(0.99)),
    ];
    out.push(case.figure("leader_kill_unavailability_max", "ms", max.as_secs_f64() * 1000.0));
    Ok(out)
}

/// Fills an RF3 partition with `bytes` of messages, then (1) restarts one
/// follower and times until it serves a read of the newest message, and
/// (2) restarts every node at once and times until a write is
/// acknowledged again. Figures `restart_node_serving_s` and
/// `restart_cluster_first_write_s`, with `size` the bytes held.
pub async fn restart(cluster: &mut BenchCluster, bytes: u64, load: &Load) -> anyhow::Result<Vec<Figure>> {
    const SIZE: usize = 16 * 1024;
    let topic = cluster.create_topic("bench-restart", 1, 3).await?;
    let client = Arc::new(topic.client);
    let count = (bytes / SIZE as u64).max(1) as usize;
    let (written, _, _) =
        super::grpc::publish(client.clone(), "fill", SIZE, load.window.min(64), count, load.max_time * 30)
            .await
            .context("fill")?;
    anyhow::ensure!(written as usize == count, "filled {written} of {count} messages within the time limit");
    let end = client.offsets("-", CALL).await?.next_offset;
    cluster.nodes.wait_converged(&client, Duration::from_secs(120)).await.context("converge after the fill")?;

    let leader = cluster.nodes.wait_leader(&client, CALL).await?;
    let follower = (0..cluster.nodes.nodes.len()).find(|&i| i != leader).context("a follower")?;
    cluster.nodes.kill(follower).await?;
    let started = Instant::now();
    cluster.nodes.restart(follower).await?;
    let addr = cluster.nodes.addr(follower).to_string();
    let until = started + Duration::from_secs(300);
    loop {
        let read = client.read_replica(&addr, end - 1, Some(end)).await;
        if read.is_ok_and(|m| m.len() == 1) {
            break;
        }
        anyhow::ensure!(Instant::now() < until, "the restarted node did not serve within 300 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let node_s = started.elapsed().as_secs_f64();

    for i in 0..cluster.nodes.nodes.len() {
        cluster.nodes.kill(i).await?;
    }
    let started = Instant::now();
    for i in 0..cluster.nodes.nodes.len() {
        cluster.nodes.restart(i).await?;
    }
    client
        .append(vec![message("after-restart".into(), 128)], Duration::from_secs(300))
        .await
        .context("first write after restarting every node")?;
    let cluster_s = started.elapsed().as_secs_f64();

    let held = count as u64 * SIZE as u64;
    let case = Case { size: held as usize, replicas: 3, path: Path::Grpc, mode: Mode::Default };
    Ok(vec![
        case.figure("restart_node_serving", "s", node_s),
        case.figure("restart_cluster_first_write", "s", cluster_s),
    ])
}
