//! Measurements over the storage nodes' gRPC API (`zya-client`), the path
//! a backend service takes. Every acknowledgment means the message is
//! fsynced on a majority of the partition's replicas.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use zya_client::{pb, BatchPublisher, PartitionClient};

use super::super::figures::{Case, Figure, Load};
use super::super::stats::Latencies;

const CALL: Duration = Duration::from_secs(10);
/// Consumer position the catch-up read commits.
const CONSUMER: &str = "bench-catch-up";

pub(super) fn message(id: String, size: usize) -> pb::NewMessage {
    pb::NewMessage {
        message_id: id,
        payload: vec![b'z'; size],
        user: "bench".into(),
        device: "bench".into(),
        ..Default::default()
    }
}

/// `writers` tasks, each with one publish in flight, until `count`
/// messages or `max_time`. One writer calls `Append` itself; several share
/// the client library's [`BatchPublisher`] (what a producer does: messages
/// queued while an `Append` is in flight go in the next one).
pub(super) async fn publish(
    client: Arc<PartitionClient>,
    prefix: &str,
    size: usize,
    writers: usize,
    count: usize,
    max_time: Duration,
) -> anyhow::Result<(u64, Duration, Latencies)> {
    let publisher = (writers > 1).then(|| Arc::new(BatchPublisher::new(client.clone(), writers, writers, CALL)));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + max_time;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (client, next, prefix, publisher) = (client.clone(), next.clone(), prefix.to_string(), publisher.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > deadline {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let m = message(format!("{prefix}-{i}"), size);
                let t = Instant::now();
                match &publisher {
                    Some(p) => drop(p.publish(m).await.context("publish")?),
                    None => drop(client.append(vec![m], CALL).await.context("append")?),
                }
                lat.record(t.elapsed());
            }
        }));
    }
    let mut all = Latencies::new();
    for t in tasks {
        all.merge(&t.await??);
    }
    Ok((all.len(), start.elapsed(), all))
}

pub async fn publish_one_in_flight(
    client: Arc<PartitionClient>,
    case: Case,
    load: &Load,
) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(client, "one", case.size, 1, load.one_in_flight, load.max_time).await?;
    Ok(case.publish_figures("publish_one_in_flight", n, elapsed, &lat))
}

pub async fn publish_pipelined(client: Arc<PartitionClient>, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(client, "pipe", case.size, load.window, load.pipelined, load.max_time).await?;
    Ok(case.publish_figures("publish_pipelined", n, elapsed, &lat))
}

/// Publish → delivery on a following read stream, one message at a time.
pub async fn end_to_end(client: Arc<PartitionClient>, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let from = client.offsets("-", CALL).await?.next_offset;
    let req = pb::ReadRequest { from_offset: from, follow: true, ..Default::default() };
    let mut stream = client.read(req, CALL).await.context("open a following read")?;
    let mut lat = Latencies::new();
    let deadline = Instant::now() + load.max_time;
    let mut pending = 0usize; // messages delivered in a batch ahead of their turn
    for i in 0..load.end_to_end {
        if Instant::now() > deadline {
            break;
        }
        let t = Instant::now();
        client.append(vec![message(format!("e2e-{i}"), case.size)], CALL).await?;
        while pending == 0 {
            let batch = tokio::time::timeout(CALL, stream.next())
                .await
                .context("no delivery within 10 s")?
                .context("the read stream ended")??;
            pending += batch.messages.len();
        }
        pending -= 1;
        lat.record(t.elapsed());
    }
    Ok(case.latency_figures("end_to_end", &lat))
}

/// Writes `load.catch_up` messages (not timed), then reads the partition
/// from its start to that end, committing the consumer's position as it
/// goes: one commit in flight at a time, each carrying the newest offset
/// read, while reading goes on (a consumer's asynchronous commit, as the
/// JetStream side's acks are). The clock stops once the last offset read
/// is committed.
pub async fn catch_up_read(client: Arc<PartitionClient>, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let from = client.offsets("-", CALL).await?.next_offset;
    publish(client.clone(), "fill", case.size, load.window, load.catch_up, load.max_time * 3).await?;
    let end = client.offsets("-", CALL).await?.next_offset;
    let start = Instant::now();
    let deadline = start + load.max_time;
    let req = pb::ReadRequest { from_offset: from, end_offset: Some(end), ..Default::default() };
    let mut stream = client.read(req, CALL).await.context("open the catch-up read")?;
    let (newest, committer) = spawn_committer(client.clone());
    let mut read = 0u64;
    while let Some(batch) = tokio::time::timeout(CALL, stream.next()).await.context("read stalled")? {
        let batch = batch?;
        if let Some(last) = batch.messages.last() {
            newest.send_replace(Some(last.offset));
        }
        read += batch.messages.len() as u64;
        if Instant::now() > deadline {
            break;
        }
    }
    drop(newest);
    committer.await.context("the committer panicked")??;
    let rate = read as f64 / start.elapsed().as_secs_f64();
    Ok(vec![case.figure("catch_up_read", "msg/s", rate)])
}

/// A task committing the newest offset sent to it, one commit at a time;
/// once the sender is dropped it commits what is left and ends.
fn spawn_committer(
    client: Arc<PartitionClient>,
) -> (tokio::sync::watch::Sender<Option<u64>>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let (tx, mut rx) = tokio::sync::watch::channel(None::<u64>);
    let task = tokio::spawn(async move {
        let mut committed = None;
        loop {
            let open = rx.changed().await.is_ok();
            let newest = *rx.borrow_and_update();
            if let Some(offset) = newest.filter(|&o| Some(o) != committed) {
                client.commit(CONSUMER, pb::commit_offset_request::Position::UpTo(offset), CALL).await?;
                committed = Some(offset);
            }
            if !open {
                return Ok(());
            }
        }
    });
    (tx, task)
}
