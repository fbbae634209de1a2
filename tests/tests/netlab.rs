//! Network partitions between real processes: three `zya-node`s, each in
//! its own network namespace of a [`NetLab`], three `zya-allocator`s and the
//! test itself in the root namespace. Cuts drop packets at the lab's bridge,
//! so established connections stall as behind a broken switch.
//!
//! Needs root, `ip` and `nft` (`./dev` installs iproute2 and nftables).

use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use zya_checker::{check, Op, PublishOutcome, Recorder};
use zya_client::catalogue_pb as cpb;
use zya_client::{pb, PartitionClient};
use zya_harness::{AllocatorOptions, Allocators, NetLab};
use zya_tests::{phase, workload, Cluster, NodeOptions};

/// Messages each test publishes through the partition client (4 writers).
const TOTAL: usize = 3000;
/// How long a cut is held at least, so the cut side notices (several
/// election timeouts of the default 400 ms failure timeout).
const HOLD_CUT: Duration = Duration::from_secs(3);
/// Acknowledgments the side with the majority must give while cut off from
/// the old leader, and how long it may take at most (an election, and
/// writers leaving the silent old leader after their 1 s attempt timeout).
const MAJORITY_ACKS: u64 = 100;
const CUT_AT_MOST: Duration = Duration::from_secs(30);

/// A lab of 3 hosts with a node in each, 3 allocators on the lab's root
/// address, and one 3-replica partition of `topic`.
struct Setup {
    lab: Arc<NetLab>,
    _allocators: Allocators,
    cluster: Cluster,
    client: Arc<PartitionClient>,
    group: u64,
    /// Set at the end of a passing test; otherwise dropping the setup
    /// prints the end of every node's log (the folder is deleted).
    passed: bool,
}

/// Lines of each node's log shown when a test fails.
const LOG_TAIL: usize = 40;

impl Drop for Setup {
    fn drop(&mut self) {
        if self.passed {
            return;
        }
        for i in 0..self.cluster.nodes.len() {
            let text = self.cluster.log_text(i);
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- last {LOG_TAIL} lines of node-{i} ({})", self.cluster.addr(i));
            for line in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
                eprintln!("{line}");
            }
        }
    }
}

async fn setup(topic: &str) -> anyhow::Result<Setup> {
    let lab = NetLab::create(3)?;
    eprintln!("lab {lab:?}: hosts {}, {}, {}; root {}", lab.ip(0), lab.ip(1), lab.ip(2), lab.root_ip());
    let allocators = Allocators::start_on(lab.root_ip().into(), 3, AllocatorOptions::default()).await?;
    allocators.leader(Duration::from_secs(20)).await?;
    let options = NodeOptions { allocators: allocators.addrs(), ..Default::default() };
    let cluster = Cluster::start_in_lab(lab.clone(), options).await?;
    let catalogue = allocators.client();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let live = catalogue
            .call(Duration::from_secs(2), |mut s| async move { s.cluster_status(cpb::ClusterStatusRequest {}).await })
            .await
            .map(|r| r.into_inner().members.iter().filter(|m| m.live).count())
            .unwrap_or(0);
        if live == 3 {
            break;
        }
        anyhow::ensure!(Instant::now() < until, "nodes did not register from the lab: {live} of 3 live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let req = cpb::CreateTopicRequest {
        caller: Some(cpb::Caller { user: "admin".into(), cluster_admin: true }),
        topic: topic.into(),
        scope: cpb::Scope::Global as i32,
        partitions: 1,
        replication_factor: 3,
        ..Default::default()
    };
    let info = catalogue
        .call(Duration::from_secs(30), |mut s| {
            let req = req.clone();
            async move { s.create_topic(req).await }
        })
        .await?
        .into_inner()
        .topic
        .ok_or_else(|| anyhow::anyhow!("no topic in the CreateTopic reply"))?;
    let p = &info.partitions[0];
    let client = Arc::new(PartitionClient::new(cluster.channels.clone(), p.group_id, p.replica_addrs.clone()));
    cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    Ok(Setup { lab, _allocators: allocators, cluster, client, group: p.group_id, passed: false })
}

/// Node `i`'s process is the `zya-node` binary itself (not a wrapper) and
/// runs in host `i`'s namespace: signals by pid reach the node.
fn assert_node_in_host(cluster: &Cluster, lab: &NetLab, i: usize) -> anyhow::Result<()> {
    let pid = cluster.pid(i).ok_or_else(|| anyhow::anyhow!("node {i} is down"))?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))?;
    assert!(exe.ends_with("zya-node"), "pid {pid} of node {i} runs {}", exe.display());
    let ns = std::fs::metadata(format!("/proc/{pid}/ns/net"))?;
    let host = std::fs::metadata(lab.netns_path(i))?;
    assert_eq!((ns.dev(), ns.ino()), (host.dev(), host.ino()), "node {i} runs outside host {i}");
    Ok(())
}

async fn wait_acked(acked: &AtomicU64, at_least: u64, within: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while acked.load(Ordering::Relaxed) < at_least {
        anyhow::ensure!(start.elapsed() < within, "fewer than {at_least} acknowledgments after {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(start.elapsed())
}

/// Waits (signals are delivered asynchronously) until process `pid` is
/// stopped (`T` in /proc/PID/stat) or, with `stopped` false, no longer is.
async fn wait_state(pid: u32, stopped: bool) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let state = stat.rsplit(')').next().unwrap_or("").trim_start().chars().next();
        if (state == Some('T')) == stopped {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < until, "pid {pid} in state {state:?}, wanted stopped={stopped}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads every replica, checks the history and the totals.
async fn final_check(s: &Setup, topic: &str, recorder: &Recorder) -> anyhow::Result<()> {
    s.cluster.wait_converged(&s.client, Duration::from_secs(30)).await?;
    assert_eq!(workload::final_reads(&s.cluster, &s.client, topic, recorder).await?, 3, "all replicas read");
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(report.is_valid(), "anomalies found:\n{report}");
    assert!(report.totals.publishes.ok >= TOTAL as u64, "every workload message acknowledged:\n{report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_leader_isolated_when_publishing_then_a_new_leader_takes_writes_and_the_old_one_rejoins(
) -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("3 nodes in a lab, 3 allocators on its root address, a 3-replica partition");
    let mut s = setup("isolated").await?;
    for i in 0..3 {
        assert_node_in_host(&s.cluster, &s.lab, i)?;
    }
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));
    let writers =
        tokio::spawn(workload::publish(s.client.clone(), recorder.clone(), "isolated", 4, TOTAL, 64, acked.clone()));
    wait_acked(&acked, 500, Duration::from_secs(60)).await.context("writes before the fault")?;

    phase("isolate the leader from the other nodes and from the clients");
    let leader = s.cluster.wait_leader(&s.client, Duration::from_secs(20)).await?;
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    recorder.record(0, Op::Fault { description: format!("isolate leader node-{leader}") });
    let cut_at = Instant::now();
    s.lab.isolate(leader)?;
    let acked_at_cut = acked.load(Ordering::Relaxed);
    let new_leader = s.cluster.wait_leader(&s.cluster.client(s.group, &others), Duration::from_secs(30)).await?;
    let to_leader = cut_at.elapsed();
    eprintln!("isolated node-{leader}: node-{new_leader} leads the others after {to_leader:?}");
    assert_ne!(new_leader, leader, "the isolated node cannot stay leader of the others");
    let probe = tokio::time::timeout(Duration::from_secs(1), s.client.status(s.cluster.addr(leader))).await;
    assert!(probe.is_err(), "the isolated node still answers the root namespace: {probe:?}");
    wait_acked(&acked, acked_at_cut + MAJORITY_ACKS, CUT_AT_MOST)
        .await
        .context("writes through the new leader while the old one is isolated")?;
    let to_writes = cut_at.elapsed();
    tokio::time::sleep(HOLD_CUT.saturating_sub(cut_at.elapsed())).await;
    let during = acked.load(Ordering::Relaxed) - acked_at_cut;
    eprintln!(
        "isolated node-{leader}: {MAJORITY_ACKS} acks through node-{new_leader} after {to_writes:?}, {during} acks \
         in {:?} of isolation",
        cut_at.elapsed()
    );

    phase("heal: the old leader rejoins and catches up");
    s.lab.heal()?;
    recorder.record(0, Op::Healed);
    tokio::time::timeout(Duration::from_secs(120), writers).await??;
    final_check(&s, "isolated", &recorder).await?;

    phase("SIGSTOP and SIGCONT reach the node inside its host");
    let pid = s.cluster.pid(new_leader).ok_or_else(|| anyhow::anyhow!("new leader is down"))?;
    s.cluster.pause(new_leader)?;
    wait_state(pid, true).await?;
    s.cluster.resume(new_leader)?;
    wait_state(pid, false).await?;
    s.passed = true;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_leader_on_minority_side_of_a_split_when_publishing_then_only_the_majority_acknowledges_and_nothing_is_lost(
) -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("3 nodes in a lab, a 3-replica partition, 4 writers");
    let mut s = setup("split").await?;
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));
    let writers =
        tokio::spawn(workload::publish(s.client.clone(), recorder.clone(), "split", 4, TOTAL, 64, acked.clone()));
    wait_acked(&acked, 500, Duration::from_secs(60)).await.context("writes before the fault")?;

    phase("split {leader} | {other two}; clients still reach both sides");
    let leader = s.cluster.wait_leader(&s.client, Duration::from_secs(20)).await?;
    let majority: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    recorder.record(0, Op::Fault { description: format!("split node-{leader} | {majority:?}") });
    let cut_at = Instant::now();
    s.lab.split(&[leader])?;
    assert!(s.lab.reaches_root(leader) && !s.lab.connected(leader, majority[0]));
    let probe = tokio::time::timeout(Duration::from_secs(5), s.client.status(s.cluster.addr(leader))).await;
    assert!(matches!(probe, Ok(Ok(_))), "the root namespace reaches both sides of a split: {probe:?}");
    let acked_at_cut = acked.load(Ordering::Relaxed);
    let new_leader = s.cluster.wait_leader(&s.cluster.client(s.group, &majority), Duration::from_secs(30)).await?;
    eprintln!("split off node-{leader}: node-{new_leader} leads the majority after {:?}", cut_at.elapsed());
    assert_ne!(new_leader, leader, "the majority elects one of its own");

    phase("the old leader, alone, acknowledges nothing while the majority takes writes");
    let mut stub = s.cluster.channels.stub(s.cluster.addr(leader))?;
    let (mut probes, mut probe_acks) = (0, 0);
    let mut majority_writes: Option<Duration> = None;
    loop {
        let id = format!("minority-{probes}");
        let msg = pb::NewMessage { message_id: id.clone(), payload: b"minority".to_vec(), ..Default::default() };
        let req = pb::AppendRequest { group_id: s.group, messages: vec![msg], timeout_ms: 500 };
        let outcome = match tokio::time::timeout(Duration::from_secs(1), stub.append(req)).await {
            Ok(Ok(reply)) => match reply.into_inner().results.first() {
                Some(r) => PublishOutcome::Ok { partition: 0, offset: r.offset },
                None => PublishOutcome::Unknown,
            },
            // Refusals and timeouts alike: the message may sit in the old
            // leader's log, uncommitted.
            Ok(Err(_)) | Err(_) => PublishOutcome::Unknown,
        };
        probe_acks += matches!(outcome, PublishOutcome::Ok { .. }) as u32;
        recorder.record(99, Op::Publish { topic: "split".into(), message_id: id, outcome });
        probes += 1;
        if majority_writes.is_none() && acked.load(Ordering::Relaxed) >= acked_at_cut + MAJORITY_ACKS {
            majority_writes = Some(cut_at.elapsed());
        }
        if majority_writes.is_some() && cut_at.elapsed() >= HOLD_CUT {
            break;
        }
        anyhow::ensure!(
            cut_at.elapsed() < CUT_AT_MOST,
            "the majority acknowledged {} writes in {CUT_AT_MOST:?} of split",
            acked.load(Ordering::Relaxed) - acked_at_cut
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = acked.load(Ordering::Relaxed) - acked_at_cut;
    eprintln!(
        "during {:?} of split: {during} acks through the majority ({MAJORITY_ACKS} after {:?}), {probe_acks} of \
         {probes} probes of the minority acknowledged",
        cut_at.elapsed(),
        majority_writes.unwrap_or_default(),
    );
    assert_eq!(probe_acks, 0, "a replica cut off from the majority acknowledged a write");

    phase("heal: everything acknowledged is on every replica");
    s.lab.heal()?;
    recorder.record(0, Op::Healed);
    tokio::time::timeout(Duration::from_secs(120), writers).await??;
    final_check(&s, "split", &recorder).await?;

    phase("kill and restart the old leader inside its host");
    s.cluster.restart(leader).await?;
    assert_node_in_host(&s.cluster, &s.lab, leader)?;
    s.cluster.wait_converged(&s.client, Duration::from_secs(30)).await?;
    s.passed = true;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_crashed_runs_namespace_when_a_lab_is_created_then_it_and_its_processes_are_removed(
) -> anyhow::Result<()> {
    phase("a namespace of slot 8123 with a process in it and no living owner");
    let leftover = "zyan8123-h0";
    let run = |args: &[&str]| std::process::Command::new("ip").args(args).output().map(|o| o.status);
    let _ = run(&["netns", "del", leftover]);
    anyhow::ensure!(run(&["netns", "add", leftover])?.success(), "ip netns add {leftover}");
    let mut sleeper = tokio::process::Command::new("ip")
        .args(["netns", "exec", leftover, "sleep", "300"])
        .kill_on_drop(true)
        .spawn()?;
    // `ip netns exec` enters the namespace after it starts: wait until it is
    // inside, or the clean-up could list the namespace's processes before
    // the sleeper is one of them.
    let pid = sleeper.id().map(|p| p.to_string()).unwrap_or_default();
    let inside_by = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = std::process::Command::new("ip").args(["netns", "pids", leftover]).output()?;
        if String::from_utf8_lossy(&pids.stdout).split_whitespace().any(|p| p == pid) {
            break;
        }
        anyhow::ensure!(Instant::now() < inside_by, "the sleeper never entered {leftover}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    phase("two labs at once: distinct subnets; the leftover is gone");
    let (a, b) = (NetLab::create(2)?, NetLab::create(1)?);
    assert_ne!(a.root_ip(), b.root_ip());
    let until = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new("/run/netns").join(leftover).exists() {
        anyhow::ensure!(Instant::now() < until, "leftover namespace {leftover} still there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(5), sleeper.wait()).await??;
    assert!(!status.success(), "the leftover's process was killed: {status}");

    phase("dropping a lab deletes its namespaces");
    let names: Vec<String> = (0..2).map(|h| a.netns(h)).collect();
    drop(a);
    for n in names {
        assert!(!std::path::Path::new("/run/netns").join(&n).exists(), "{n} left behind");
    }
    drop(b);
    Ok(())
}
