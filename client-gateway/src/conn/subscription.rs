//! One live subscription: takes chunks from its partitions' readers and
//! delivers them as `Message` frames, as far as flow control allows.
//!
//! Before a message is sent, its delivery is recorded in the partition
//! (`MarkDelivered`, through Raft), and the count that comes back becomes
//! the frame's `deliveryCount` and `redelivered`. So the counts are right
//! whichever gateway delivers next, and a gateway that dies after sending
//! leaves the next one knowing the message went out.
//!
//! ```text
//! readers ──chunks──> buffers ──credit?──> MarkDelivered ──> Message frames ──> outbox
//!                        ^                                                       │
//!   permits back when a buffer drains            commits (this connection) ──> flow opens
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zya_client::{pb, PartitionClient};

use super::reader::{self, GoneCheck, ReaderEvent, ReaderSpec};
use super::session::CommitEvent;
use super::Ctx;
use crate::protocol::{EndReason, Message, Response, Scope, SubscriptionEnd, Timestamp, TopicName};
use crate::session::flow::Flow;

/// Deadline of one `MarkDelivered`; on failure delivery pauses for
/// [`MARK_RETRY`] and tries again (the partition is electing a leader).
const MARK_DEADLINE: Duration = Duration::from_secs(3);
const MARK_RETRY: Duration = Duration::from_millis(300);

pub struct PartStart {
    pub partition: u32,
    pub client: Arc<PartitionClient>,
    pub from: u64,
    pub end: Option<u64>,
    /// Offsets committed one by one above the start: never delivered.
    pub skip: BTreeSet<u64>,
}

pub struct Spec {
    pub id: String,
    pub topic: TopicName,
    pub scope: Scope,
    pub consumer: String,
    pub flow: Flow,
    pub parts: Vec<PartStart>,
    /// A `MessageRange` reader: ends with `SubscriptionEnd` once read.
    pub range: bool,
    pub chunk: u32,
}

struct Part {
    partition: u32,
    client: Arc<PartitionClient>,
    buffer: VecDeque<pb::StoredMessage>,
    skip: BTreeSet<u64>,
    permit: Arc<Semaphore>,
    done: bool,
}

pub async fn run(
    ctx: Ctx,
    spec: Spec,
    mut commits: mpsc::Receiver<CommitEvent>,
    delivered: Arc<Mutex<HashMap<String, (u32, u64)>>>,
    gone: GoneCheck,
    cancel: CancellationToken,
) {
    let Spec { id, topic, scope, consumer, mut flow, parts, range, chunk } = spec;
    let (tx, mut events) = mpsc::channel(parts.len().max(1));
    let mut parts: Vec<Part> = parts
        .into_iter()
        .map(|s| {
            let permit = Arc::new(Semaphore::new(1));
            let spec = ReaderSpec { partition: s.partition, client: s.client.clone(), from: s.from, end: s.end, chunk };
            tokio::spawn(reader::run(spec, tx.clone(), permit.clone(), gone.clone(), cancel.child_token()));
            Part {
                partition: s.partition,
                client: s.client,
                buffer: VecDeque::new(),
                skip: s.skip,
                permit,
                done: false,
            }
        })
        .collect();
    drop(tx);
    let mut next_part = 0usize;
    let mut retry_at: Option<Instant> = None;
    let end_reason = 'run: loop {
        if retry_at.is_none_or(|t| Instant::now() >= t) {
            retry_at = None;
            while flow.credit() > 0 {
                let Some(i) =
                    (0..parts.len()).map(|k| (next_part + k) % parts.len()).find(|&i| !parts[i].buffer.is_empty())
                else {
                    break;
                };
                next_part = i + 1;
                let part = &mut parts[i];
                let n = flow.credit().min(part.buffer.len());
                let mut batch: Vec<pb::StoredMessage> = part.buffer.drain(..n).collect();
                batch.retain(|m| !part.skip.remove(&m.offset));
                if batch.is_empty() {
                    if part.buffer.is_empty() {
                        part.permit.add_permits(1);
                    }
                    continue;
                }
                let (first, end) = (batch[0].offset, batch[batch.len() - 1].offset + 1);
                let marked = tokio::select! {
                    _ = cancel.cancelled() => break 'run None,
                    r = part.client.mark_delivered(&consumer, first, end, MARK_DEADLINE) => r,
                };
                let counts = match marked {
                    Ok(reply) => reply.counts,
                    Err(e) => {
                        tracing::warn!(subscription = %id, group = part.client.group, error = %e,
                            "cannot record deliveries; delivery paused");
                        for m in batch.into_iter().rev() {
                            part.buffer.push_front(m);
                        }
                        retry_at = Some(Instant::now() + MARK_RETRY);
                        break;
                    }
                };
                for m in batch {
                    let count = count_of(&counts, m.offset);
                    let (p, offset, message_id) = (part.partition, m.offset, m.message_id.clone());
                    let frame = Response::Message(message_frame(&id, &topic, scope, p, m, count));
                    if ctx.outbox.push(&frame).await.is_err() {
                        break 'run None;
                    }
                    flow.delivered(p, offset);
                    delivered.lock().expect("lock is never poisoned").insert(message_id, (p, offset));
                }
                if part.buffer.is_empty() {
                    part.permit.add_permits(1);
                }
            }
        }
        if range && parts.iter().all(|p| p.done && p.buffer.is_empty()) {
            break Some((EndReason::RangeComplete, parts.first().map(|p| p.partition)));
        }
        let retry = async {
            match retry_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break None,
            Some(c) = commits.recv() => {
                if let Some(o) = c.one {
                    flow.committed_one(c.partition, o);
                }
                if c.committed_offset > 0 {
                    flow.committed_up_to(c.partition, c.committed_offset - 1);
                }
                delivered.lock().expect("lock is never poisoned").retain(|_, &mut (p, o)| {
                    p != c.partition || (o >= c.committed_offset && Some(o) != c.one)
                });
            }
            ev = events.recv() => match ev {
                Some(ReaderEvent::Chunk(p, messages)) => {
                    if let Some(part) = parts.iter_mut().find(|x| x.partition == p) {
                        part.buffer.extend(messages);
                    }
                }
                Some(ReaderEvent::Done(p)) => {
                    if let Some(part) = parts.iter_mut().find(|x| x.partition == p) {
                        part.done = true;
                    }
                }
                Some(ReaderEvent::Gone(p)) => break Some((EndReason::TopicDeleted, Some(p))),
                None => break None,
            },
            _ = retry => {}
        }
    };
    cancel.cancel();
    ctx.session.subscriptions.lock().expect("lock is never poisoned").remove(&id);
    if let Some((reason, partition)) = end_reason {
        let end = SubscriptionEnd { subscription_id: id, topic, scope, partition, reason };
        let _ = ctx.outbox.push(&Response::SubscriptionEnd(end)).await;
    }
}

/// The delivery count of `offset` in a `MarkDelivered` answer; an offset
/// the answer does not cover was committed already, so this is a re-read
/// and counts as a first delivery to this reader.
fn count_of(counts: &[pb::DeliveryCount], offset: u64) -> u32 {
    counts.iter().find(|c| c.start <= offset && offset < c.end).map(|c| c.count.max(1)).unwrap_or(1)
}

fn message_frame(
    subscription_id: &str,
    topic: &TopicName,
    scope: Scope,
    partition: u32,
    m: pb::StoredMessage,
    count: u32,
) -> Message {
    let appended_at = Timestamp::from_unix_millis(m.appended_at_ms.max(0) as u64);
    let timestamp = Timestamp::parse(m.timestamp).unwrap_or_else(|_| appended_at.clone());
    let payload = String::from_utf8_lossy(&m.payload).into_owned();
    Message {
        subscription_id: subscription_id.to_string(),
        topic: topic.clone(),
        scope,
        partition,
        offset: m.offset,
        message_id: m.message_id,
        user_name: m.user,
        device: m.device,
        timestamp,
        message_payload: payload,
        appended_at,
        redelivered: count > 1,
        delivery_count: count,
        key: m.key,
        pending: false,
        hash: m.hash.map(|h| h.iter().map(|b| format!("{b:02x}")).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_the_covering_range() {
        let counts =
            [pb::DeliveryCount { start: 10, end: 12, count: 2 }, pb::DeliveryCount { start: 12, end: 20, count: 1 }];
        assert_eq!(count_of(&counts, 10), 2);
        assert_eq!(count_of(&counts, 11), 2);
        assert_eq!(count_of(&counts, 12), 1);
        assert_eq!(count_of(&counts, 25), 1, "an uncovered (committed) offset is a first delivery");
    }
}
