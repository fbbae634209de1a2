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
    /// Inject exactly this many rounds (every kind once per round) instead
    /// of running for `duration`.
    pub rounds: Option<u64>,
    /// Where to copy every process's log when the run fails (anomalies or
    /// a cluster that did not recover); the cluster's own folders are
    /// deleted when the run ends.
    pub keep_logs: Option<std::path::PathBuf>,
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
            faults: FaultKind::ALL.to_vec(),
            holds: Holds::default(),
            settle: Duration::from_millis(500),
            negative_control: false,
            rounds: None,
            keep_logs: None,
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
    /// Why the cluster was not back to full health after healing, if not.
    pub unhealthy: Option<String>,
    pub elapsed: Duration,
}

const TOPIC: &str = "chaos";
/// Process id the fault markers are recorded under.
const NEMESIS: u64 = 0;
/// How long the cluster may take to get every partition back to three live
/// replicas with a leader after a fault (re-replication included).
const RECOVERY: Duration = Duration::from_secs(90);

pub async fn run(config: ChaosConfig) -> anyhow::Result<ChaosOutcome> {
    let started = Instant::now();
    let shape = Shape {
        nodes: config.nodes,
        gateways: 2,
        ack_before_replication: config.negative_control,
        network: config.faults.iter().any(|k| k.is_network()),
    };
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
    let mut unhealthy: Option<String> = None;
    let mut skipped = Vec::new();
    let end = Instant::now() + config.duration;
    let mut schedule = Schedule::new(config.seed, &config.faults, config.holds);
    let planned_total = config.rounds.map(|r| r * config.faults.len() as u64);
    let mut planned_so_far = 0u64;
    while planned_total.map_or(Instant::now() < end, |t| planned_so_far < t) {
        planned_so_far += 1;
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
        // The next fault waits for full recovery: faults are injected one at
        // a time into a healthy cluster, never stacked until a majority of
        // some partition's disks is gone (beyond what any quorum system
        // survives). A cluster that does not recover ends the fault phase
        // and fails the run.
        if let Err(e) = cluster.wait_healthy(TOPIC, RECOVERY).await {
            unhealthy = Some(format!("after {}: {e:#}", planned.kind));
            break;
        }
        tokio::time::sleep(config.settle).await;
    }

    // Heal, stop publishing, drain.
    work.stop_publishing.cancel();
    for t in tasks {
        let _ = t.await;
    }
    cluster.heal_all().await?;
    recorder.record(NEMESIS, Op::Healed);
    if let Err(e) = cluster.wait_healthy(TOPIC, RECOVERY).await {
        unhealthy.get_or_insert(format!("after healing: {e:#}"));
    }
    let parts = cluster.placement(TOPIC).await?;
    let mut ends = BTreeMap::new();
    for p in &parts {
        let client = cluster.partition_client(p);
        match client.offsets("-", Duration::from_secs(20)).await {
            Ok(o) => {
                ends.insert(p.partition, o.next_offset);
            }
            Err(e) => skipped.push(format!("partition {} not drained: no end offset ({e})", p.partition)),
        }
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
            let entries = match client.read_replica(addr, 0, None).await {
                Ok(e) => e,
                Err(e) => {
                    skipped.push(format!("final read of partition {} on {addr}: {e}", p.partition));
                    continue;
                }
            };
            let entries = entries.into_iter().map(|m| (m.offset, m.message_id)).collect();
            recorder.record(
                NEMESIS,
                Op::FinalRead { topic: TOPIC.into(), partition: p.partition, replica: addr.clone(), entries },
            );
        }
    }
    let history = recorder.history();
    let report = check(&history);
    let failed = unhealthy.is_some() || (report.total_anomalies() > 0) != config.negative_control;
    if let (true, Some(dir)) = (failed, &config.keep_logs) {
        match cluster.copy_logs(dir) {
            Ok(n) => tracing::warn!(files = n, dir = %dir.display(), "the run failed; logs kept"),
            Err(e) => tracing::warn!(error = %e, "could not keep the logs"),
        }
    }
    Ok(ChaosOutcome { config, report, history, injected, skipped, unhealthy, elapsed: started.elapsed() })
}

impl fmt::Display for ChaosOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "chaos run: seed {} {} (took {:.0?}), {} nodes, {} partitions x 3 replicas, {} publishers, {} subscribers{}",
            c.seed,
            match c.rounds {
                Some(r) => format!("{r} rounds of every fault kind"),
                None => format!("faults for {:?}", c.duration),
            },
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
        if let Some(u) = &self.unhealthy {
            writeln!(f, "NOT HEALTHY after healing: {u}")?;
        }
        write!(f, "{}", self.report)
    }
}
