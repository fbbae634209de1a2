//! Appends: one call at a time (`Append`) or an ordered stream of them
//! (`AppendStream`).
//!
//! Why a stream: with one `Append` in flight per publisher, the partition's
//! leader sits idle while the answer travels back and the next batch comes
//! in (a third of each publish cycle through the gateway, by a timeline
//! trace). Separate `Append` calls in flight would not do: each gRPC call
//! runs in its own task, so two of them can reach the appender in either
//! order, and offsets must follow the publisher's order. A stream is read
//! by one task, which queues each batch on its group's appender before it
//! reads the next one (the appender keeps queue order); a second task awaits
//! the outcomes in that same order and answers them.
//!
//! ```text
//! requests ──> reader: check, queue on appender ──[≤ WINDOW pending]──> answerer ──> replies
//! ```
//!
//! The first failure is the stream's last answer: the reader stops, and
//! requests it had queued after the failed one are not answered (they may
//! still be appended; their outcome is unknown, and a publisher retries them
//! in order with the same message ids).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};
use zya_proto::node as pb;

use super::{convert, Faults};
use crate::error::NodeError;
use crate::group::{Pending, Registry};

/// Batches of one stream queued and not yet answered. The publisher's own
/// window is smaller; this bounds what a misbehaving one can queue.
const WINDOW: usize = 32;

#[derive(Clone)]
pub struct Appends {
    pub registry: Arc<Registry>,
    pub faults: Arc<Faults>,
    /// Default time a write (an append, or the service's commits) may take
    /// before `TIMEOUT`.
    pub write_timeout: Duration,
}

/// One request, checked and queued on its group's appender.
enum Queued {
    Pending {
        group: u64,
        pending: Pending,
        timeout: Duration,
    },
    /// Answered before replication (the test-only fault).
    Answered(Vec<pb::AppendResult>),
}

impl Appends {
    /// Appends one request's messages; answered once a majority has them.
    pub async fn one(&self, req: pb::AppendRequest) -> Result<pb::AppendReply, NodeError> {
        self.queue(req).await?.answer().await
    }

    /// Serves an append stream until it ends, fails, or `cancel` fires.
    pub fn stream(
        &self,
        incoming: Streaming<pb::AppendRequest>,
        cancel: CancellationToken,
    ) -> mpsc::Receiver<Result<pb::AppendReply, Status>> {
        let (queued_tx, queued_rx) = mpsc::channel(WINDOW);
        let (reply_tx, reply_rx) = mpsc::channel(WINDOW);
        tokio::spawn(read(self.clone(), incoming, queued_tx, cancel.clone()));
        tokio::spawn(answer(queued_rx, reply_tx, cancel));
        reply_rx
    }

    async fn queue(&self, req: pb::AppendRequest) -> Result<Queued, NodeError> {
        if req.messages.is_empty() {
            return Err(NodeError::bad_request("no messages"));
        }
        let messages = req.messages.into_iter().map(convert::new_message).collect::<Result<Vec<_>, _>>()?;
        let group = super::leader_group(&self.registry, req.group_id)?;
        if self.faults.ack_before_replication {
            let n = messages.len() as u64;
            let base = self.faults.predict(group.id, group.reader.meta().next_offset, n);
            let appender = group.appender.clone();
            tokio::spawn(async move { appender.append(messages).await });
            let results = (base..base + n).map(|offset| pb::AppendResult { offset, duplicate: false }).collect();
            return Ok(Queued::Answered(results));
        }
        let timeout = super::timeout_or(self.write_timeout, req.timeout_ms);
        let pending = group.appender.submit(messages).await.map_err(|e| super::with_group(e, group.id))?;
        Ok(Queued::Pending { group: group.id, pending, timeout })
    }
}

impl Queued {
    async fn answer(self) -> Result<pb::AppendReply, NodeError> {
        let (group, pending, timeout) = match self {
            Queued::Answered(results) => return Ok(pb::AppendReply { results }),
            Queued::Pending { group, pending, timeout } => (group, pending, timeout),
        };
        let outcomes = match tokio::time::timeout(timeout, pending.wait()).await {
            Ok(r) => r.map_err(|e| super::with_group(e, group))?,
            Err(_) => return Err(NodeError::Timeout { timeout_ms: timeout.as_millis() as u64 }),
        };
        let results =
            outcomes.into_iter().map(|o| pb::AppendResult { offset: o.offset, duplicate: o.duplicate }).collect();
        Ok(pb::AppendReply { results })
    }
}

/// Reads requests and queues each before reading the next; a request that
/// cannot be queued goes to the answerer as its failure, and ends the reading.
async fn read(
    appends: Appends,
    mut incoming: Streaming<pb::AppendRequest>,
    queued: mpsc::Sender<Result<Queued, NodeError>>,
    cancel: CancellationToken,
) {
    loop {
        let req = tokio::select! {
            _ = cancel.cancelled() => return,
            m = incoming.message() => match m {
                Ok(Some(req)) => req,
                // The publisher closed its side (the queued ones are still
                // answered) or went away.
                Ok(None) | Err(_) => return,
            },
        };
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            q = appends.queue(req) => q,
        };
        let failed = item.is_err();
        tokio::select! {
            _ = cancel.cancelled() => return,
            sent = queued.send(item) => if sent.is_err() { return },
        }
        if failed {
            return;
        }
    }
}

/// Answers queued requests in order; the first failure is the last answer.
async fn answer(
    mut queued: mpsc::Receiver<Result<Queued, NodeError>>,
    replies: mpsc::Sender<Result<pb::AppendReply, Status>>,
    cancel: CancellationToken,
) {
    while let Some(item) = queued.recv().await {
        let reply = match item {
            Ok(q) => tokio::select! {
                _ = cancel.cancelled() => Err(NodeError::ShuttingDown),
                r = q.answer() => r,
            },
            Err(e) => Err(e),
        };
        let failed = reply.is_err();
        if replies.send(reply.map_err(Status::from)).await.is_err() || failed {
            // The publisher is gone, or this was the last answer: stop the
            // reader too.
            cancel.cancel();
            return;
        }
    }
}
