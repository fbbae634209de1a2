//! One chaos run, start to end:
//!
//! ```text
//! start cluster ─> create topic ─> publishers + subscribers (WebSocket)
//!       ─> faults from the seeded schedule until the duration is up
//!       ─> stop publishing, heal everything, wait for full replication
//!       ─> subscribers drain to the partitions' ends ─> final read of every replica
//!       ─> history checker ─> report
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::time::Instant;
use zya_checker::{check, History, Op, Recorder, Report};

use crate::schedule::{FaultKind, Holds, Schedule};
use crate::target::{ProcessCluster, Shape};
use crate::workload::{self, Workload};

#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub duration: Duration,
    pub seed: u64,
    pub nodes: usize,
    pub partitions: u32,
    pub publishers: usize,
    pub subscribers: usize,
    pub faults: Vec<FaultKind>,
    pub holds: Holds,
    /// Pause between two faults (healed state).
    pub settle: Duration,
    /// Nodes acknowledge before replicating: the checker must find losses.
    pub negative_control: bool,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(120),
            seed: 1,
            nodes: 5,
            partitions: 3,
            publishers: 4,
            subscribers: 2,
            faults: FaultKind::ALL.iter().copied().filter(|k| !k.is_network()).collect(),
            holds: Holds::default(),
            settle: Duration::from_millis(500),
            negative_control: false,
        }
    }
}

/// What a run did and what the checker found.
pub struct ChaosOutcome {
    pub config: ChaosConfig,
    pub report: Report,
    pub history: History,
    /// Injected faults by kind.
    pub injected: BTreeMap<FaultKind, u64>,
    /// Faults that could not be injected (no target at the time, …).
    pub skipped: Vec<String>,
    pub elapsed: Duration,
}

const TOPIC: &str = "chaos";
/// Process id the fault markers are recorded under.
const NEMESIS: u64 = 0;

pub async fn run(config: ChaosConfig) -> anyhow::Result<ChaosOutcome> {
    let started = Instant::now();
    let shape = Shape { nodes: config.nodes, gateways: 2, ack_before_replication: config.negative_control };
    let mut cluster = ProcessCluster::start(shape).await.context("start the cluster")?;
    cluster.create_topic(TOPIC, config.partitions).await.context("create the chaos topic")?;
    cluster.wait_healthy(TOPIC, Duration::from_secs(30)).await?;

    let recorder = Recorder::new();
    let work = Workload::new(cluster.gateways.urls(), cluster.secret.clone(), TOPIC.into(), recorder.clone());
    let (drain_tx, drain_rx) = watch::channel(None);
    let mut tasks = Vec::new();
    for w in 0..config.publishers as u64 {
        tasks.push(tokio::spawn(workload::publisher(work.clone(), w + 1, config.seed ^ (w + 1) << 20)));
    }
    let mut readers = Vec::new();
    for s in 0..config.subscribers as u64 {
        readers.push(tokio::spawn(workload::subscriber(
            work.clone(),
            s + 1,
            config.seed ^ (s + 1) << 40,
            drain_rx.clone(),
        )));
    }

    // Faults, one after another, until the duration is up.
    let mut injected: BTreeMap<FaultKind, u64> = BTreeMap::new();
    let mut skipped = Vec::new();
    let end = Instant::now() + config.duration;
    let mut schedule = Schedule::new(config.seed, &config.faults, config.holds);
    while Instant::now() < end {
        let Some(planned) = schedule.next() else {
            tokio::time::sleep_until(end).await;
            break;
        };
        let rec = recorder.clone();
        let healed = recorder.clone();
        let result = cluster
            .inject(
                TOPIC,
                planned,
                move |d| rec.record(NEMESIS, Op::Fault { description: d.to_string() }),
                move || healed.record(NEMESIS, Op::Healed),
            )
            .await;
        match result {
            Ok(d) => {
                tracing::info!(fault = %d, "healed");
                *injected.entry(planned.kind).or_default() += 1;
            }
            Err(e) => {
                tracing::warn!(kind = %planned.kind, error = %e, "fault not injected");
                skipped.push(format!("{}: {e:#}", planned.kind));
                cluster.heal_all().await?;
                recorder.record(NEMESIS, Op::Healed);
            }
        }
        // Let the cluster recover before the next fault: a fault on a
        // partition already down to its quorum tests nothing new.
        let _ = cluster.wait_healthy(TOPIC, Duration::from_secs(30)).await;
        tokio::time::sleep(config.settle).await;
    }

    // Heal, stop publishing, drain.
    work.stop_publishing.cancel();
    for t in tasks {
        let _ = t.await;
    }
    cluster.heal_all().await?;
    recorder.record(NEMESIS, Op::Healed);
    cluster.wait_healthy(TOPIC, Duration::from_secs(60)).await?;
    let parts = cluster.placement(TOPIC).await?;
    let mut ends = BTreeMap::new();
    for p in &parts {
        let client = cluster.partition_client(p);
        let o = client.offsets("-", Duration::from_secs(20)).await.context("partition end offsets")?;
        ends.insert(p.partition, o.next_offset);
    }
    drain_tx.send_replace(Some(ends));
    let drained = tokio::time::timeout(Duration::from_secs(120), async {
        for r in readers {
            let _ = r.await;
        }
    })
    .await;
    work.stop.cancel();
    if drained.is_err() {
        skipped.push("subscribers did not drain within 120 s (the checker reports what they missed)".into());
    }

    // Every replica's full log.
    for p in &parts {
        let client = cluster.partition_client(p);
        cluster.nodes.wait_converged(&client, Duration::from_secs(30)).await.ok();
        for addr in &p.replica_addrs {
            let entries = client
                .read_replica(addr, 0, None)
                .await
                .with_context(|| format!("final read of partition {} on {addr}", p.partition))?
                .into_iter()
                .map(|m| (m.offset, m.message_id))
                .collect();
            recorder.record(
                NEMESIS,
                Op::FinalRead { topic: TOPIC.into(), partition: p.partition, replica: addr.clone(), entries },
            );
        }
    }
    let history = recorder.history();
    let report = check(&history);
    Ok(ChaosOutcome { config, report, history, injected, skipped, elapsed: started.elapsed() })
}

impl fmt::Display for ChaosOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "chaos run: seed {} duration {:?} (took {:.0?}), {} nodes, {} partitions x 3 replicas, {} publishers, {} subscribers{}",
            c.seed,
            c.duration,
            self.elapsed,
            c.nodes,
            c.partitions,
            c.publishers,
            c.subscribers,
            if c.negative_control { ", NEGATIVE CONTROL (nodes ack before replicating)" } else { "" }
        )?;
        let total: u64 = self.injected.values().sum();
        writeln!(f, "faults injected: {total}")?;
        for (k, n) in &self.injected {
            writeln!(f, "  {k:<26} {n}")?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "not injected or incomplete: {}", self.skipped.len())?;
            for s in self.skipped.iter().take(10) {
                writeln!(f, "  {s}")?;
            }
        }
        write!(f, "{}", self.report)
    }
}
