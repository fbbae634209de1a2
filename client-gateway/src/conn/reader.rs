//! Reads one partition for one subscription: a follow-mode read stream on
//! the partition's leader, reopened from where it stopped whenever the
//! leader changes or the stream breaks, and handed to the subscription one
//! chunk at a time.
//!
//! The reader holds at most one chunk beyond what the subscription has
//! taken: it waits for a permit before sending, and the subscription gives
//! the permit back only when it has delivered the previous chunk. So a
//! subscription that may not deliver (flow control closed, slow socket)
//! stops its readers, and the nodes' streams stop behind them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use zya_client::{pb, PartitionClient};

/// Longest wait to open a stream before trying again.
const OPEN_DEADLINE: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Consecutive failures after which the reader asks whether the topic
/// still exists.
const CHECK_AFTER_FAILURES: u32 = 2;

/// Silence on a stream after which the reader checks that it is not
/// reading from a node left behind (paused, partitioned, deposed).
const IDLE_CHECK: Duration = Duration::from_secs(3);

pub enum ReaderEvent {
    Chunk(u32, Vec<pb::StoredMessage>),
    /// Every offset below the range's end was read.
    Done(u32),
    /// The partition is gone (its topic was deleted).
    Gone(u32),
}

pub struct ReaderSpec {
    pub partition: u32,
    pub client: Arc<PartitionClient>,
    pub from: u64,
    pub end: Option<u64>,
    pub chunk: u32,
}

/// Answers whether the partition's topic still exists with this group.
pub type GoneCheck = Arc<dyn Fn(u64) -> futures::future::BoxFuture<'static, bool> + Send + Sync>;

pub async fn run(
    spec: ReaderSpec,
    tx: mpsc::Sender<ReaderEvent>,
    permit: Arc<Semaphore>,
    gone: GoneCheck,
    cancel: CancellationToken,
) {
    let ReaderSpec { partition, client, mut from, end, chunk } = spec;
    let mut failures = 0u32;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if end.is_some_and(|e| from >= e) {
            let _ = tx.send(ReaderEvent::Done(partition)).await;
            return;
        }
        let req = pb::ReadRequest {
            group_id: client.group,
            from_offset: from,
            end_offset: end,
            max_batch: chunk,
            follow: true,
            allow_follower: false,
        };
        let opened = tokio::select! {
            _ = cancel.cancelled() => return,
            r = client.read(req, OPEN_DEADLINE) => r,
        };
        let mut stream = match opened {
            Ok(s) => s,
            Err(e) => {
                failures += 1;
                tracing::debug!(group = client.group, error = %e, "cannot open a read stream; retrying");
                if failures >= CHECK_AFTER_FAILURES && gone(client.group).await {
                    let _ = tx.send(ReaderEvent::Gone(partition)).await;
                    return;
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return,
                n = tokio::time::timeout(IDLE_CHECK, stream.message()) => n,
            };
            let Ok(next) = next else {
                // Quiet for a while: fine if the partition is quiet too, but
                // a paused or cut-off node also looks quiet. Ask the leader
                // how far the log goes; reopen if it went past us.
                if behind(&client, from).await {
                    tracing::debug!(group = client.group, from, "read stream silent while the log grew; reopening");
                    break;
                }
                continue;
            };
            match next {
                Ok(Some(reply)) => {
                    failures = 0;
                    backoff = FIRST_BACKOFF;
                    let Some(last) = reply.messages.last() else { continue };
                    from = last.offset + 1;
                    let got = tokio::select! {
                        _ = cancel.cancelled() => return,
                        p = permit.acquire() => p,
                    };
                    match got {
                        Ok(p) => p.forget(),
                        Err(_) => return,
                    }
                    if tx.send(ReaderEvent::Chunk(partition, reply.messages)).await.is_err() {
                        return;
                    }
                }
                // The stream ends at the range's end, or when the node
                // stops serving it (shutdown, lost the group): reopen.
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(group = client.group, %status, "read stream broke; reopening");
                    break;
                }
            }
        }
    }
}

/// Whether the partition's leader has messages at or past `from`.
async fn behind(client: &PartitionClient, from: u64) -> bool {
    match client.offsets(NO_CONSUMER, Duration::from_secs(2)).await {
        Ok(o) => o.next_offset > from,
        // No leader answers: the stream's node may be the stale one.
        Err(_) => true,
    }
}

/// A consumer name no group can have (they all contain `/`): asking for it
/// returns the partition's offsets without scanning its consumers.
const NO_CONSUMER: &str = "-";
