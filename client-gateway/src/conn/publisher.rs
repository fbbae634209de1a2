//! One connection's writes to one partition, in order and batched.
//!
//! Publishes from a connection to a partition go through one task that
//! sends one `Append` at a time, carrying every message queued since the
//! previous one. So a client that pipelines publishes gets them appended in
//! the order it sent them (offsets follow request order), and a burst
//! becomes a few large Raft entries instead of many small ones.
//!
//! ```text
//! publish handlers ──Job──> [queue ≤ QUEUE] ──> task: drain ≤ MAX_BATCH ──Append──> leader
//!        ^                                                                  │
//!        └────────────── per-job results (offsets, duplicates) ─────────────┘
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zya_client::{pb, PartitionClient};

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

async fn run(client: Arc<PartitionClient>, mut rx: mpsc::Receiver<Job>, cancel: CancellationToken) {
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            job = rx.recv() => match job { Some(j) => j, None => return },
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
        let lens: Vec<usize> = jobs.iter().map(|j| j.messages.len()).collect();
        let deadline = jobs.iter().map(|j| j.deadline).min().unwrap_or_else(Instant::now);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = if remaining < Duration::from_millis(1) {
            Err(Failure::new(ErrorCode::Timeout, "timeoutMs passed before the write was sent"))
        } else {
            let messages: Vec<pb::NewMessage> = jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.messages)).collect();
            tokio::select! {
                _ = cancel.cancelled() => Err(Failure::new(ErrorCode::Timeout, "connection closed; outcome unknown")),
                r = client.append(messages, remaining) => r.map_err(Failure::from),
            }
        };
        match outcome {
            Ok(results) if results.len() == count => {
                let mut results = results.into_iter();
                for (job, len) in jobs.into_iter().zip(lens) {
                    let mine: Vec<pb::AppendResult> = results.by_ref().take(len).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Ok(results) => {
                let f = Failure::new(
                    ErrorCode::Internal,
                    format!("node answered {} results for {count} messages", results.len()),
                );
                for job in jobs {
                    let _ = job.reply.send(Err(f.clone()));
                }
            }
            Err(f) => {
                for job in jobs {
                    let _ = job.reply.send(Err(f.clone()));
                }
            }
        }
    }
}
