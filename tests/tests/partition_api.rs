//! The node's partition service through real processes: leader errors,
//! reads that follow the log, consumer offsets across a failover,
//! retention, and deleting a replica.

use std::time::Duration;

use zya_client::pb::commit_offset_request::Position;
use zya_client::{pb, ClientError, PartitionClient};
use zya_tests::{message, partition_config, phase, Cluster, NodeOptions};

async fn append_n(client: &PartitionClient, prefix: &str, n: usize) -> anyhow::Result<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let batch = chunk.iter().map(|i| message(&format!("{prefix}-{i}"))).collect();
        client.append(batch, Duration::from_secs(10)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_follower_when_appending_then_not_leader_names_the_leader() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = cluster.create_group(3, &[0, 1, 2], partition_config("leaders")).await?;
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    let follower = (leader + 1) % 3;

    phase("append sent straight to a follower");
    let mut stub = cluster.channels.stub(cluster.addr(follower))?;
    let status = stub
        .append(pb::AppendRequest { group_id: 3, messages: vec![message("a")], timeout_ms: 1000 })
        .await
        .expect_err("a follower refuses appends");
    let detail = zya_client::error_detail(&status).expect("error detail attached");
    assert_eq!(detail.code, pb::error_detail::Code::NotLeader as i32);
    assert_eq!(detail.leader_addr.as_deref(), Some(cluster.addr(leader)));
    assert_eq!(detail.leader_id, Some(cluster.nodes[leader].node_id));

    phase("a client pointed at the follower only follows the hint");
    let via_follower = cluster.client(3, &[follower]);
    let r = via_follower.append(vec![message("a")], Duration::from_secs(5)).await?;
    assert_eq!((r[0].offset, r[0].duplicate), (0, false));
    let again = via_follower.append(vec![message("a"), message("b")], Duration::from_secs(5)).await?;
    assert_eq!((again[0].offset, again[0].duplicate), (0, true), "same id, same offset");
    assert_eq!((again[1].offset, again[1].duplicate), (1, false));

    phase("unknown group and malformed requests are typed errors");
    let unknown = cluster.client(99, &[0]);
    match unknown.append(vec![message("x")], Duration::from_millis(300)).await {
        Err(ClientError::Unavailable { .. }) => {}
        other => panic!("expected unavailable for an unknown group, got {other:?}"),
    }
    let bad = stub.append(pb::AppendRequest { group_id: 3, messages: vec![message("")], timeout_ms: 0 }).await;
    assert_eq!(bad.expect_err("empty id refused").code(), tonic::Code::InvalidArgument);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_following_read_when_messages_arrive_then_they_stream_in_order() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = cluster.create_group(4, &[0, 1, 2], partition_config("follow")).await?;
    append_n(&client, "early", 10).await?;
    let mut stream = client
        .read(pb::ReadRequest { from_offset: 5, follow: true, ..Default::default() }, Duration::from_secs(5))
        .await?;
    let writer = tokio::spawn(async move {
        append_n(&client, "late", 20).await?;
        Ok::<_, anyhow::Error>(client)
    });
    let mut seen = Vec::new();
    while seen.len() < 25 {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message()).await??.expect("stream open");
        seen.extend(batch.messages.into_iter().map(|m| (m.offset, m.message_id, m.user)));
    }
    writer.await??;
    let offsets: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(offsets, (5..30).collect::<Vec<_>>());
    assert_eq!(seen[0].1, "early-5");
    assert_eq!(seen[5].1, "late-0");
    assert!(seen.iter().all(|s| s.2 == "alice"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_long_range_when_read_in_small_batches_then_batches_are_bounded_and_contiguous() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, NodeOptions::default()).await?;
    let client = cluster.create_group(9, &[0], partition_config("pages")).await?;
    // Appends of 50: stored chunks of 50 records, which batches of 7 end
    // inside; 140 batches are more than one scan sends before it restarts.
    append_n(&client, "p", 1000).await?;
    let req = pb::ReadRequest { from_offset: 7, end_offset: Some(993), max_batch: 7, ..Default::default() };
    let mut stream = client.read(req, Duration::from_secs(5)).await?;
    let mut offsets = Vec::new();
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(10), stream.message()).await?? {
        assert!(!batch.messages.is_empty() && batch.messages.len() <= 7, "batch of {}", batch.messages.len());
        assert_eq!((batch.first_offset, batch.next_offset), (0, 1000));
        for m in batch.messages {
            assert_eq!(m.message_id, format!("p-{}", m.offset));
            offsets.push(m.offset);
        }
    }
    assert_eq!(offsets, (7..993).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_committed_offsets_when_leader_killed_then_they_survive_and_never_go_back() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = cluster.create_group(5, &[0, 1, 2], partition_config("offsets")).await?;
    append_n(&client, "m", 100).await?;

    phase("commit up to 39, singles at 41 and 42");
    let d = Duration::from_secs(10);
    assert_eq!(client.commit("alice/laptop", Position::UpTo(39), d).await?, 40);
    assert_eq!(client.commit("alice/laptop", Position::One(41), d).await?, 40);
    assert_eq!(client.commit("alice/laptop", Position::One(42), d).await?, 40);
    assert_eq!(client.commit("alice/laptop", Position::UpTo(10), d).await?, 40, "never backwards");
    match client.commit("alice/laptop", Position::UpTo(100), d).await {
        Err(ClientError::Rejected { .. }) => {}
        other => panic!("commit past the log must be refused, got {other:?}"),
    }

    phase("kill the leader; the new leader has the same positions");
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    cluster.kill(leader).await?;
    let offsets = client.offsets("alice/laptop", Duration::from_secs(20)).await?;
    assert_eq!(offsets.consumers[0].committed_offset, 40);
    assert_eq!(offsets.consumers[0].committed_above, vec![41, 42]);
    assert_eq!(client.commit("alice/laptop", Position::One(40), d).await?, 43, "gap closed, singles folded");
    assert_eq!((offsets.first_offset, offsets.next_offset, offsets.message_count), (0, 100, 100));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_size_retention_when_partition_grows_then_old_messages_are_deleted() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, NodeOptions { retention_interval: "300ms", ..Default::default() }).await?;
    let cfg = pb::PartitionConfig { topic: "retained".into(), retention_bytes: 20_000, ..Default::default() };
    let client = cluster.create_group(6, &[0, 1, 2], cfg).await?;
    append_n(&client, "r", 1000).await?;

    phase("wait for the leader's retention rounds to trim to the size bound");
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    let offsets = loop {
        let o = client.offsets("", Duration::from_secs(5)).await?;
        if o.first_offset > 0 && o.bytes <= 20_000 {
            break o;
        }
        assert!(tokio::time::Instant::now() < until, "retention never trimmed: {o:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(offsets.bytes > 15_000, "only what exceeds the bound is deleted: {offsets:?}");
    assert_eq!(offsets.next_offset, 1000, "offsets are never reused");
    cluster.wait_converged(&client, Duration::from_secs(10)).await?;

    phase("every replica deleted the same prefix");
    for i in 0..3 {
        let msgs = client.read_replica(cluster.addr(i), 0, None).await?;
        let first = msgs.first().expect("recent messages kept").offset;
        let status = client.status(cluster.addr(i)).await?;
        assert_eq!(first, status.first_offset);
        assert_eq!(msgs.len() as u64, 1000 - status.first_offset);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_replica_when_deleted_then_its_group_and_data_are_gone() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(1, NodeOptions::default()).await?;
    let client = cluster.create_group(8, &[0], partition_config("doomed")).await?;
    append_n(&client, "d", 200).await?;
    let mut stub = cluster.channels.stub(cluster.addr(0))?;
    assert!(stub.delete_replica(pb::DeleteReplicaRequest { group_id: 8, node_id: None }).await?.into_inner().deleted);
    assert!(!stub.delete_replica(pb::DeleteReplicaRequest { group_id: 8, node_id: None }).await?.into_inner().deleted);
    let info = stub.node_info(pb::NodeInfoRequest {}).await?.into_inner();
    assert!(info.groups.is_empty());

    phase("after a restart the group stays gone, and can be created afresh");
    cluster.restart(0).await?;
    let mut stub = cluster.channels.stub(cluster.addr(0))?;
    assert!(stub.node_info(pb::NodeInfoRequest {}).await?.into_inner().groups.is_empty());
    let client = cluster.create_group(8, &[0], partition_config("doomed")).await?;
    let r = client.append(vec![message("d-0")], Duration::from_secs(5)).await?;
    assert_eq!((r[0].offset, r[0].duplicate), (0, false), "no trace of the old data");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_age_retention_when_messages_grow_old_then_only_recent_ones_remain() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, NodeOptions { retention_interval: "200ms", ..Default::default() }).await?;
    let cfg = pb::PartitionConfig { topic: "aged".into(), retention_ms: 4000, ..Default::default() };
    let client = cluster.create_group(9, &[0, 1, 2], cfg).await?;
    append_n(&client, "old", 100).await?;

    phase("wait until the old messages are past retention, then append fresh ones");
    tokio::time::sleep(Duration::from_millis(4200)).await;
    append_n(&client, "new", 10).await?;
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = client.offsets("", Duration::from_secs(5)).await?;
        if o.first_offset == 100 {
            assert_eq!(o.message_count, 10, "{o:?}");
            break;
        }
        assert!(o.first_offset <= 100, "fresh messages must survive: {o:?}");
        assert!(tokio::time::Instant::now() < until, "old messages never expired: {o:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = client.read_replica(cluster.addr(0), 0, None).await?;
    assert!(left.iter().all(|m| m.message_id.starts_with("new-")), "only fresh messages remain");
    Ok(())
}

/// A node asked to stop (SIGTERM, as `zya dev up` does at Ctrl-C) flushes
/// its state machines and exits by itself; restarted, the cluster serves
/// everything it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_written_nodes_when_stopped_then_they_flush_exit_and_restart_with_their_data() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = cluster.create_group(12, &[0, 1, 2], partition_config("stop")).await?;
    append_n(&client, "kept", 30).await?;

    phase("every node stops by itself within the grace period");
    let killed = cluster.stop_all(Duration::from_secs(20)).await?;
    assert_eq!(killed, 0, "no node had to be killed");
    for i in 0..3 {
        assert!(
            cluster.log_text(i).contains("node stopped; state machines flushed"),
            "node {i} log: {}",
            cluster.log_text(i)
        );
    }

    phase("restarted, the partition has all 30 messages and ids stay deduplicated");
    for i in 0..3 {
        cluster.restart(i).await?;
    }
    cluster.wait_leader(&client, Duration::from_secs(30)).await?;
    let offsets = client.offsets("-", Duration::from_secs(10)).await?;
    assert_eq!(offsets.next_offset, 30);
    let again = client.append(vec![message("kept-7")], Duration::from_secs(10)).await?;
    assert_eq!((again[0].offset, again[0].duplicate), (7, true));
    Ok(())
}
