//! CPU of idle nodes hosting many partitions, and the time to create them.
//!
//! Creates `partitions` groups with 3 replicas on a 3-node cluster, waits
//! for every group to elect a leader, lets the cluster settle, then samples
//! each node process's CPU time from `/proc` over a window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use zya_client::pb;
use zya_harness::{Cluster, NodeOptions};

use super::figures::{Case, Figure, Mode, Path};

#[derive(clap::Args, Debug)]
pub struct IdleArgs {
    /// Partitions (Raft groups) to create, 3 replicas each.
    #[arg(long, default_value_t = 10_000)]
    partitions: u64,
    /// Node-level heartbeat (ping) interval of the nodes.
    #[arg(long, default_value = "200ms")]
    heartbeat: String,
    /// Settling time before measuring.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Measurement window.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    window: Duration,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// CPU seconds (user + system) used so far by a process.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).unwrap_or(&"0").parse::<f64>()? + fields.get(12).unwrap_or(&"0").parse::<f64>()?;
    Ok(ticks / 100.0)
}

pub async fn run(args: IdleArgs) -> anyhow::Result<()> {
    let figures = measure(args.partitions, &args.heartbeat, args.settle, args.window).await?;
    super::report::print_figures(&figures, args.json)
}

/// Figures `create_partitions` (s), `idle_cpu_max_node` and
/// `idle_cpu_mean_node` (% of one core), with `size` the partition count.
pub async fn measure(
    partitions: u64,
    heartbeat: &str,
    settle: Duration,
    window: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let heartbeat: &'static str = Box::leak(heartbeat.to_string().into_boxed_str());
    let options = NodeOptions { heartbeat, failure_timeout: "800ms", ..NodeOptions::default() };
    eprintln!("idle: starting 3 zya-node processes, creating {partitions} partitions ...");
    let cluster = Arc::new(Cluster::start(3, options).await?);
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    for g in 1..=partitions {
        let (cluster, limit) = (cluster.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let config = pb::PartitionConfig { topic: format!("idle-{g}"), ..Default::default() };
            cluster
                .create_group(g, &[(g % 3) as usize, ((g + 1) % 3) as usize, ((g + 2) % 3) as usize], config)
                .await?;
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let create_s = started.elapsed().as_secs_f64();
    eprintln!(
        "idle: created {partitions} partitions in {create_s:.1} s; settling {settle:?}, measuring {window:?} ..."
    );
    tokio::time::sleep(settle).await;
    let pids: Vec<u32> = (0..3).filter_map(|i| cluster.pid(i)).collect();
    let before: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect::<Result<_, _>>()?;
    tokio::time::sleep(window).await;
    let after: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect::<Result<_, _>>()?;
    let cpu: Vec<f64> = before.iter().zip(&after).map(|(b, a)| (a - b) / window.as_secs_f64() * 100.0).collect();
    let case = Case { size: partitions as usize, replicas: 3, path: Path::Grpc, mode: Mode::Default };
    Ok(vec![
        case.figure("create_partitions", "s", create_s),
        case.figure("idle_cpu_max_node", "%core", cpu.iter().copied().fold(0.0, f64::max)),
        case.figure("idle_cpu_mean_node", "%core", cpu.iter().sum::<f64>() / cpu.len().max(1) as f64),
    ])
}
