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

#[derive(clap::Args, Debug)]
pub struct IdleArgs {
    /// Partitions (Raft groups) to create, 3 replicas each.
    #[arg(long, default_value_t = 1000)]
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
    let heartbeat: &'static str = Box::leak(args.heartbeat.clone().into_boxed_str());
    let options = NodeOptions { heartbeat, failure_timeout: "800ms", ..NodeOptions::default() };
    eprintln!("starting 3 zya-node processes on loopback ...");
    let cluster = Arc::new(Cluster::start(3, options).await?);
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    for g in 1..=args.partitions {
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
    eprintln!("created {} partitions in {create_s:.1} s; settling {:?} ...", args.partitions, args.settle);
    tokio::time::sleep(args.settle).await;
    let pids: Vec<u32> = (0..3).filter_map(|i| cluster.pid(i)).collect();
    let before: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect::<Result<_, _>>()?;
    tokio::time::sleep(args.window).await;
    let after: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect::<Result<_, _>>()?;
    println!("partitions: {} (3 replicas each, heartbeat {})", args.partitions, args.heartbeat);
    println!("create all: {create_s:.1} s ({:.0} partitions/s)", args.partitions as f64 / create_s);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        println!("node-{i} idle CPU: {:.1} % of one core", (a - b) / args.window.as_secs_f64() * 100.0);
    }
    Ok(())
}
