//! The replicated partition log under process faults: real `zya-node`
//! processes on loopback, SIGKILL and SIGSTOP, wiped data directories, and
//! the history checker deciding whether anything acknowledged was lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zya_checker::{check, AnomalyKind, Op, Recorder};
use zya_client::pb;
use zya_tests::{partition_config, phase, workload, Cluster, NodeOptions};

async fn wait_acked(acked: &AtomicU64, at_least: u64) {
    while acked.load(Ordering::Relaxed) < at_least {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_leader_killed_twice_when_appending_then_no_ack_lost() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("start 3 nodes and a 3-replica partition");
    let mut cluster = Cluster::start(3, NodeOptions { snapshot_every: 500, ..Default::default() }).await?;
    let client = Arc::new(cluster.create_group(1, &[0, 1, 2], partition_config("orders")).await?);
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));
    const TOTAL: usize = 10_000;

    phase("append 10,000 messages from 8 writers while the leader is killed twice");
    let writers =
        tokio::spawn(workload::publish(client.clone(), recorder.clone(), "orders", 8, TOTAL, 100, acked.clone()));
    for at in [2_000u64, 5_500] {
        wait_acked(&acked, at).await;
        let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
        recorder.record(0, Op::Fault { description: format!("SIGKILL leader node-{leader}") });
        cluster.kill(leader).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cluster.restart(leader).await?;
        recorder.record(0, Op::Healed);
    }
    writers.await?;

    phase("every replica converges");
    let end = cluster.wait_converged(&client, Duration::from_secs(30)).await?;

    phase("SIGKILL every node at once, restart all: acknowledged data survives");
    for i in 0..3 {
        cluster.kill(i).await?;
    }
    for i in 0..3 {
        cluster.restart(i).await?;
    }
    cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    let end_after = cluster.wait_converged(&client, Duration::from_secs(30)).await?;
    assert!(end_after >= end, "log end went back from {end} to {end_after} after restart");

    phase("read everything back from every replica and check the history");
    assert_eq!(workload::final_reads(&cluster, &client, "orders", &recorder).await?, 3);
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(report.is_valid(), "anomalies found:\n{report}");
    assert_eq!(report.totals.publishes.ok, TOTAL as u64, "every message acknowledged in the end");
    assert_eq!(end_after, TOTAL as u64, "each message id stored exactly once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_ack_before_replication_fault_when_leader_lost_then_checker_reports_lost_writes() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("start 3 nodes that acknowledge before replicating (test fault)");
    let options = NodeOptions { fault_ack_before_replication: true, ..Default::default() };
    let mut cluster = Cluster::start(3, options).await?;
    let client = Arc::new(cluster.create_group(1, &[0, 1, 2], partition_config("negative")).await?);
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));

    phase("50 messages, replicated everywhere");
    workload::publish(client.clone(), recorder.clone(), "negative", 2, 50, 10, acked.clone()).await;
    cluster.wait_converged(&client, Duration::from_secs(20)).await?;

    phase("freeze both followers, publish 20 more: the faulty leader acknowledges them at once");
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &f in &followers {
        cluster.pause(f)?;
    }
    let before = acked.load(Ordering::Relaxed);
    let recorder2 = recorder.clone();
    let publish_more = tokio::spawn({
        let (client, acked) = (client.clone(), acked.clone());
        async move {
            for i in 50..70 {
                let id = format!("m-{i}");
                let msg = pb::NewMessage { message_id: id.clone(), payload: b"lost?".to_vec(), ..Default::default() };
                if let Ok(r) = client.append(vec![msg], Duration::from_secs(2)).await {
                    acked.fetch_add(1, Ordering::Relaxed);
                    let outcome = zya_checker::PublishOutcome::Ok { partition: 0, offset: r[0].offset };
                    recorder2.record(9, Op::Publish { topic: "negative".into(), message_id: id, outcome });
                }
            }
        }
    });
    publish_more.await?;
    assert_eq!(acked.load(Ordering::Relaxed), before + 20, "the fault acknowledges without a quorum");

    phase("kill the leader, wipe its data, resume the followers");
    recorder.record(0, Op::Fault { description: format!("SIGKILL + wipe leader node-{leader}") });
    cluster.kill(leader).await?;
    cluster.wipe(leader)?;
    for &f in &followers {
        cluster.resume(f)?;
    }
    let survivors = cluster.client(1, &followers);
    cluster.wait_leader(&survivors, Duration::from_secs(20)).await?;
    cluster.wait_converged(&survivors, Duration::from_secs(20)).await?;

    phase("the checker must report the lost acknowledged writes");
    workload::final_reads(&cluster, &survivors, "negative", &recorder).await?;
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(!report.is_valid(), "the checker missed a real loss:\n{report}");
    // Not all 20 need be lost: the faulty leader still replicates what it
    // acknowledged, and its first request after the freeze (the first of the
    // 20, possibly a few more) can reach the followers, before SIGSTOP takes
    // effect or from their socket buffers once resumed. Seen once under CI
    // load: 19 lost, m-50 kept. Only those 20 can be lost, so more than 20
    // would be false reports.
    let lost = report.count(AnomalyKind::LostWrite);
    assert!((10..=20).contains(&lost), "expected 10 to 20 lost writes, found {lost}:\n{report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_node_wiped_when_it_rejoins_as_new_replica_then_it_catches_up_from_snapshot() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("start 3 nodes; snapshots every 100 entries so the log is purged");
    let mut cluster = Cluster::start(3, NodeOptions { snapshot_every: 100, log_keep: 0, ..Default::default() }).await?;
    let client = Arc::new(cluster.create_group(7, &[0, 1, 2], partition_config("wiped")).await?);
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));
    workload::publish(client.clone(), recorder.clone(), "wiped", 4, 1500, 200, acked.clone()).await;

    phase("kill a follower, wipe its data, restart it: it comes back as a new node");
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    let victim = (leader + 1) % 3;
    let old_id = cluster.nodes[victim].node_id;
    cluster.kill(victim).await?;
    cluster.wipe(victim)?;
    cluster.restart(victim).await?;
    let new_id = cluster.nodes[victim].node_id;
    assert_ne!(old_id, new_id, "a wiped node must not reuse its identity");

    phase("writes continue while the old replica is replaced by the new one");
    let writers =
        tokio::spawn(workload::publish(client.clone(), recorder.clone(), "wiped", 4, 2500, 200, acked.clone()));
    client.remove_replica(old_id, Duration::from_secs(20)).await?;
    let mut stub = cluster.channels.stub(cluster.addr(victim))?;
    stub.create_replica(pb::CreateReplicaRequest {
        group_id: 7,
        config: Some(partition_config("wiped")),
        members: vec![],
        bootstrap: false,
    })
    .await?;
    let voters = client.add_replica(new_id, cluster.addr(victim), Duration::from_secs(60)).await?;
    assert!(voters.iter().any(|v| v.node_id == new_id), "new replica is a voter: {voters:?}");
    writers.await?;

    phase("all three replicas hold the same messages");
    cluster.wait_converged(&client, Duration::from_secs(30)).await?;
    assert_eq!(workload::final_reads(&cluster, &client, "wiped", &recorder).await?, 3);
    assert!(
        cluster.log_text(victim).contains("installed snapshot"),
        "the new replica caught up through a snapshot install"
    );
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(report.is_valid(), "anomalies found:\n{report}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_leader_paused_when_appending_then_writes_move_on_and_nothing_is_lost() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    phase("start 3 nodes and a partition");
    let mut cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = Arc::new(cluster.create_group(2, &[0, 1, 2], partition_config("paused")).await?);
    let recorder = Recorder::new();
    let acked = Arc::new(AtomicU64::new(0));

    phase("SIGSTOP the leader while 4 writers append 3,000 messages");
    let writers =
        tokio::spawn(workload::publish(client.clone(), recorder.clone(), "paused", 4, 3000, 64, acked.clone()));
    wait_acked(&acked, 500).await;
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    recorder.record(0, Op::Fault { description: format!("SIGSTOP leader node-{leader}") });
    cluster.pause(leader)?;
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = cluster.wait_leader(&cluster.client(2, &others), Duration::from_secs(30)).await?;
    assert_ne!(new_leader, leader);
    let during = acked.load(Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(30), wait_acked(&acked, during + 100))
        .await
        .expect("writes continue on the new leader while the old one is paused");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.resume(leader)?;
    recorder.record(0, Op::Healed);
    writers.await?;

    phase("the old leader rejoins as a follower and every replica agrees");
    cluster.wait_converged(&client, Duration::from_secs(30)).await?;
    assert_eq!(workload::final_reads(&cluster, &client, "paused", &recorder).await?, 3);
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(report.is_valid(), "anomalies found:\n{report}");
    assert_eq!(report.totals.publishes.ok, 3000);
    Ok(())
}
