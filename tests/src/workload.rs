//! Workloads that drive a partition and record every outcome for the
//! history checker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zya_checker::{Op, PublishOutcome, Recorder};
use zya_client::{pb, ClientError, PartitionClient};

use crate::Cluster;

/// How long one message is retried (same id) before it is recorded as
/// unknown. Longer than any election.
const MESSAGE_BUDGET: Duration = Duration::from_secs(60);

/// Publishes `total` uniquely identified messages from `writers` concurrent
/// writers, one message per request, retrying each with the same id until
/// acknowledged. `acked` counts acknowledgments as they happen, so a fault
/// schedule can follow progress.
pub async fn publish(
    client: Arc<PartitionClient>,
    recorder: Recorder,
    topic: &str,
    writers: usize,
    total: usize,
    payload_len: usize,
    acked: Arc<AtomicU64>,
) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, recorder, topic, acked) = (client.clone(), recorder.clone(), topic.to_string(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..total).step_by(writers) {
                let id = format!("m-{i}");
                let outcome = publish_one(&client, &id, payload_len).await;
                if matches!(outcome, PublishOutcome::Ok { .. }) {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                recorder.record(w as u64, Op::Publish { topic: topic.clone(), message_id: id, outcome });
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task does not panic");
    }
}

async fn publish_one(client: &PartitionClient, id: &str, payload_len: usize) -> PublishOutcome {
    let until = tokio::time::Instant::now() + MESSAGE_BUDGET;
    let msg = pb::NewMessage {
        message_id: id.to_string(),
        payload: vec![b'x'; payload_len],
        key: None,
        user: "tester".into(),
        device: "harness".into(),
        timestamp: String::new(),
    };
    loop {
        match client.append(vec![msg.clone()], Duration::from_secs(10)).await {
            Ok(results) => match results.first() {
                Some(r) => return PublishOutcome::Ok { partition: 0, offset: r.offset },
                None => return PublishOutcome::Fail { reason: "empty append reply".into() },
            },
            Err(ClientError::Rejected { message, .. }) => return PublishOutcome::Fail { reason: message },
            Err(e) => {
                if tokio::time::Instant::now() > until {
                    tracing::warn!(id, error = %e, "giving up on message; outcome unknown");
                    return PublishOutcome::Unknown;
                }
            }
        }
    }
}

/// Reads the whole partition from every running replica and records one
/// `FinalRead` per replica.
pub async fn final_reads(
    cluster: &Cluster,
    client: &PartitionClient,
    topic: &str,
    recorder: &Recorder,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for addr in client.replicas() {
        let Some(i) = cluster.index_of_addr(&addr) else { continue };
        if !cluster.is_up(i) {
            continue;
        }
        let messages = client.read_replica(&addr, 0, None).await?;
        let entries = messages.into_iter().map(|m| (m.offset, m.message_id)).collect();
        recorder.record(
            1000 + i as u64,
            Op::FinalRead { topic: topic.to_string(), partition: 0, replica: format!("node-{i}"), entries },
        );
        n += 1;
    }
    Ok(n)
}
