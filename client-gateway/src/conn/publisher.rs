//! One connection's writes to one partition, in order and batched.
//!
//! Publishes from a connection to a partition go through one task that
//! sends them in batches, each carrying every message queued since the
//! previous one, a few batches in flight on one ordered stream to the
//! leader (`zya_client::Pipeline`). So a client that pipelines publishes
//! gets them appended in the order it sent them (offsets follow request
//! order), a burst becomes a few large Raft entries instead of many small
//! ones, and the leader is not idle while answers travel back.
//!
//! ```text
//! publish handlers ──Job──> [queue ≤ QUEUE] ──> task: drain ≤ MAX_BATCH ──Pipeline──> leader
//!        ^                                                                  │
//!        └────────────── per-job results (offsets, duplicates) ─────────────┘
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zya_client::{pb, PartitionClient, Pipeline};

use crate::backend::Failure;
use crate::protocol::ErrorCode;

/// Jobs waiting per partition and connection; a fuller queue is answered
/// `RateLimited` by the caller.
const QUEUE: usize = 1024;
/// Most messages and payload bytes in one `Append`.
const MAX_BATCH_MESSAGES: usize = 2000;
const MAX_BATCH_BYTES: usize = 4 << 20;

pub type JobResult = Result<Vec<pb::AppendResult>, Failure>;

pub struct Job {
    pub messages: Vec<pb::NewMessage>,
    pub deadline: Instant,
    pub reply: oneshot::Sender<JobResult>,
}

#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Job>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Handle {
    pub fn spawn(client: Arc<PartitionClient>, cancel: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = cancel.child_token();
        tokio::spawn(run(client, rx, stop.clone()));
        Self { tx, _stop: Arc::new(StopOnDrop(stop)) }
    }

    /// Queues a job; `Err` when the queue is full or the task stopped.
    pub fn submit(&self, job: Job) -> Result<(), Failure> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                Failure::new(ErrorCode::RateLimited, "too many publishes waiting for this partition")
            }
            mpsc::error::TrySendError::Closed(_) => Failure::new(ErrorCode::Unavailable, "the connection is closing"),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Batches of one connection and partition in flight at once: while one is
/// being committed, the next is already on its way to the leader.
const WINDOW: usize = 4;

/// Who waits for a batch: each job's reply and its share of the messages.
type Waiting = Vec<(oneshot::Sender<JobResult>, usize)>;

async fn run(client: Arc<PartitionClient>, mut rx: mpsc::Receiver<Job>, cancel: CancellationToken) {
    let mut pipe: Pipeline<Waiting> = Pipeline::new(client, WINDOW);
    loop {
        let first = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                let f = Failure::new(ErrorCode::Timeout, "connection closed; outcome unknown");
                for waiting in pipe.abandon() {
                    deliver(waiting, Err(f.clone()));
                }
                return;
            }
            reply = pipe.reply(), if !pipe.is_idle() => {
                for (waiting, outcome) in pipe.finish(reply).await {
                    deliver(waiting, outcome.map_err(Failure::from));
                }
                continue;
            }
            job = rx.recv(), if pipe.has_room() => match job {
                Some(j) => j,
                // Every handle is gone, so no one waits for an answer.
                None => return,
            },
        };
        zya_client::gather(&rx).await;
        let mut count = first.messages.len();
        let mut bytes: usize = first.messages.iter().map(|m| m.payload.len()).sum();
        let mut jobs = vec![first];
        while count < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(j) => {
                    count += j.messages.len();
                    bytes += j.messages.iter().map(|m| m.payload.len()).sum::<usize>();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let deadline = jobs.iter().map(|j| j.deadline).min().unwrap_or_else(Instant::now);
        let mut messages = Vec::with_capacity(count);
        let mut waiting = Vec::with_capacity(jobs.len());
        for job in jobs {
            waiting.push((job.reply, job.messages.len()));
            messages.extend(job.messages);
        }
        if deadline.saturating_duration_since(Instant::now()) < Duration::from_millis(1) {
            deliver(waiting, Err(Failure::new(ErrorCode::Timeout, "timeoutMs passed before the write was sent")));
            continue;
        }
        if let Some((waiting, outcome)) = pipe.send(messages, deadline, waiting).await {
            deliver(waiting, outcome.map_err(Failure::from));
        }
    }
}

/// Hands each job its share of a batch's results, in order.
fn deliver(waiting: Waiting, outcome: JobResult) {
    let count: usize = waiting.iter().map(|(_, n)| n).sum();
    match outcome {
        Ok(results) if results.len() == count => {
            let mut results = results.into_iter();
            for (reply, n) in waiting {
                let _ = reply.send(Ok(results.by_ref().take(n).collect()));
            }
        }
        Ok(results) => {
            let f = Failure::new(
                ErrorCode::Internal,
                format!("node answered {} results for {count} messages", results.len()),
            );
            for (reply, _) in waiting {
                let _ = reply.send(Err(f.clone()));
            }
        }
        Err(f) => {
            for (reply, _) in waiting {
                let _ = reply.send(Err(f.clone()));
            }
        }
    }
}
