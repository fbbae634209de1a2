//! Append throughput and acknowledgment latency through the node's gRPC API.
//!
//! One in flight: a single writer waits for each acknowledgment before the
//! next append (latency of one durable, replicated write). Pipelined: many
//! writers at once, each with one append in flight (what group commit and
//! batching are for). Every acknowledgment means the message is fsynced on
//! a majority of the partition's replicas.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use zya_client::{pb, PartitionClient};
use zya_harness::{Cluster, NodeOptions};

use super::stats::Latencies;

#[derive(clap::Args, Debug)]
pub struct AppendArgs {
    /// Message payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "128,1024")]
    sizes: Vec<usize>,
    /// Replication factors.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    replicas: Vec<usize>,
    /// Messages of a one-in-flight run (at most).
    #[arg(long, default_value_t = 2_000)]
    serial_messages: usize,
    /// Messages of a pipelined run (at most).
    #[arg(long, default_value_t = 50_000)]
    pipelined_messages: usize,
    /// Appends in flight in a pipelined run.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Time limit of each run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    max_time: Duration,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
pub struct Row {
    figure: &'static str,
    size: usize,
    replicas: usize,
    path: &'static str,
    mode: &'static str,
    messages: u64,
    seconds: f64,
    msg_per_s: f64,
    mb_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

pub async fn run(args: AppendArgs) -> anyhow::Result<()> {
    let nodes = args.replicas.iter().copied().max().unwrap_or(1).max(1);
    eprintln!("starting {nodes} zya-node processes on loopback ...");
    let options = NodeOptions { heartbeat: "200ms", failure_timeout: "800ms", ..NodeOptions::default() };
    let cluster = Cluster::start(nodes, options).await?;
    let mut rows = Vec::new();
    let mut group_id = 1000;
    for &replicas in &args.replicas {
        for &size in &args.sizes {
            group_id += 1;
            let on: Vec<usize> = (0..replicas).collect();
            let config = pb::PartitionConfig { topic: format!("bench-{group_id}"), ..Default::default() };
            let client = Arc::new(cluster.create_group(group_id, &on, config).await?);
            for (mode, writers, count) in
                [("one_in_flight", 1, args.serial_messages), ("pipelined", args.in_flight, args.pipelined_messages)]
            {
                eprintln!("append: {size} B, {replicas} replica(s), {mode} ...");
                let row = measure(client.clone(), size, replicas, mode, writers, count, args.max_time).await?;
                rows.push(row);
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows);
    }
    Ok(())
}

async fn measure(
    client: Arc<PartitionClient>,
    size: usize,
    replicas: usize,
    mode: &'static str,
    writers: usize,
    count: usize,
    max_time: Duration,
) -> anyhow::Result<Row> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + max_time;
    let payload = vec![b'z'; size];
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, next, payload) = (client.clone(), next.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > deadline {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let msg = pb::NewMessage {
                    message_id: format!("{mode}-{w}-{i}"),
                    payload: payload.clone(),
                    user: "bench".into(),
                    device: "bench".into(),
                    ..Default::default()
                };
                let t = Instant::now();
                client.append(vec![msg], Duration::from_secs(10)).await?;
                lat.record(t.elapsed());
            }
        }));
    }
    let mut all = Latencies::new();
    for t in tasks {
        all.merge(&t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    let messages = all.len();
    let msg_per_s = messages as f64 / seconds;
    Ok(Row {
        figure: "append",
        size,
        replicas,
        path: "grpc",
        mode,
        messages,
        seconds,
        msg_per_s,
        mb_per_s: msg_per_s * size as f64 / 1e6,
        p50_ms: all.ms(0.5),
        p99_ms: all.ms(0.99),
        p999_ms: all.ms(0.999),
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<8} {:>6} {:>8} {:<14} {:>8} {:>10} {:>8} {:>8} {:>8} {:>9}",
        "figure", "size", "replicas", "mode", "messages", "msg/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms"
    );
    for r in rows {
        println!(
            "{:<8} {:>6} {:>8} {:<14} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
            r.figure, r.size, r.replicas, r.mode, r.messages, r.msg_per_s, r.mb_per_s, r.p50_ms, r.p99_ms, r.p999_ms
        );
    }
}
