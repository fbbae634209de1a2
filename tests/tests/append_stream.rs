//! The ordered append stream through real processes: batches in flight are
//! appended and answered in send order, the first failure ends the stream,
//! and a publisher's pipeline carries its batches across a leader kill
//! without losing, doubling or reordering any.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use zya_client::{pb, PartitionClient, Pipeline};
use zya_tests::{message, partition_config, phase, Cluster, NodeOptions};

/// Batch `b` of `per` messages, ids `prefix-b-i`.
fn batch(prefix: &str, b: usize, per: usize) -> Vec<pb::NewMessage> {
    (0..per).map(|i| message(&format!("{prefix}-{b}-{i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_batches_in_flight_on_a_stream_then_offsets_follow_send_order_and_a_failure_ends_it() -> anyhow::Result<()>
{
    let cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = cluster.create_group(11, &[0, 1, 2], partition_config("stream-order")).await?;
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;
    let mut stub = cluster.channels.stub(cluster.addr(leader))?;

    phase("20 batches sent before any answer is read");
    let (tx, rx) = tokio::sync::mpsc::channel(32);
    for b in 0..20 {
        tx.send(pb::AppendRequest { group_id: 11, messages: batch("s", b, 1 + b % 4), timeout_ms: 10_000 }).await?;
    }
    let mut replies = stub.append_stream(ReceiverStream::new(rx)).await?.into_inner();
    let mut offsets = Vec::new();
    for b in 0..20 {
        let reply = tokio::time::timeout(Duration::from_secs(10), replies.message()).await??.expect("an answer");
        assert_eq!(reply.results.len(), 1 + b % 4, "batch {b} answered with its own results");
        assert!(reply.results.iter().all(|r| !r.duplicate));
        offsets.extend(reply.results.iter().map(|r| r.offset));
    }
    let total = offsets.len() as u64;
    assert_eq!(offsets, (0..total).collect::<Vec<_>>(), "offsets follow the order the batches were sent in");

    phase("a bad batch mid-stream is the last answer");
    tx.send(pb::AppendRequest { group_id: 11, messages: batch("t", 0, 2), timeout_ms: 10_000 }).await?;
    tx.send(pb::AppendRequest { group_id: 11, messages: vec![message("")], timeout_ms: 10_000 }).await?;
    tx.send(pb::AppendRequest { group_id: 11, messages: batch("t", 2, 2), timeout_ms: 10_000 }).await?;
    let ok = replies.message().await?.expect("the good batch before it is answered");
    assert_eq!(ok.results.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![total, total + 1]);
    let status = replies.message().await.expect_err("the bad batch ends the stream");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let after = tokio::time::timeout(Duration::from_secs(5), replies.message()).await?;
    assert!(matches!(after, Ok(None) | Err(_)), "nothing is answered after the failure: {after:?}");
    // A batch queued after the failure would be committed within
    // milliseconds; give it a second to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let offsets = client.offsets("nobody", Duration::from_secs(5)).await?;
    assert_eq!(offsets.next_offset, total + 2, "the batch after the failure was not appended");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_pipeline_when_the_leader_is_killed_then_every_batch_lands_once_in_send_order() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, NodeOptions::default()).await?;
    let client = Arc::new(cluster.create_group(12, &[0, 1, 2], partition_config("stream-kill")).await?);
    let leader = cluster.wait_leader(&client, Duration::from_secs(20)).await?;

    phase("200 batches of 10, four in flight, the leader killed after batch 80");
    let (batches, per) = (200usize, 10usize);
    let mut pipe: Pipeline<usize> = Pipeline::new(client.clone(), 4);
    let mut answered = Vec::new();
    let mut next = 0;
    while next < batches || !pipe.is_idle() {
        if next < batches && pipe.has_room() {
            if next == 80 {
                assert!(!pipe.is_idle(), "batches are in flight when the leader dies");
                cluster.kill(leader).await?;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            answered.extend(pipe.send(batch("p", next, per), deadline, next).await);
            next += 1;
            continue;
        }
        let reply = pipe.reply().await;
        answered.extend(pipe.finish(reply).await);
    }

    phase("each batch answered once, in send order, with increasing offsets");
    assert_eq!(answered.iter().map(|(b, _)| *b).collect::<Vec<_>>(), (0..batches).collect::<Vec<_>>());
    let mut offsets = Vec::new();
    for (b, outcome) in answered {
        let results = outcome.map_err(|e| anyhow::anyhow!("batch {b}: {e}"))?;
        assert_eq!(results.len(), per, "batch {b}");
        offsets.extend(results.iter().map(|r| r.offset));
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets increase with send order");
    let new_leader = client.known_leader().expect("a leader answered");
    assert_ne!(new_leader, cluster.addr(leader), "the answers after the kill came from another node");

    phase("the log holds every message once, where its answer said");
    let log = read_all(&client, &new_leader).await?;
    assert_eq!(log.len(), batches * per, "no message lost or doubled");
    for (i, m) in log.iter().enumerate() {
        let (b, k) = (i / per, i % per);
        assert_eq!(m.message_id, format!("p-{b}-{k}"), "offset {} holds the message sent at position {i}", m.offset);
        assert_eq!(m.offset, offsets[i]);
    }
    Ok(())
}

async fn read_all(client: &PartitionClient, addr: &str) -> anyhow::Result<Vec<pb::StoredMessage>> {
    let end = client.offsets("nobody", Duration::from_secs(10)).await?.next_offset;
    Ok(client.read_replica(addr, 0, Some(end)).await?)
}
