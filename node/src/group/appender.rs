//! The append pipeline of one group: many callers, few Raft entries.
//!
//! Appends from all callers queue on a bounded channel. One task drains
//! whatever has queued (up to [`MAX_BATCH_MESSAGES`] / [`MAX_BATCH_BYTES`])
//! into a single `Command::Append` entry and hands it to Raft in arrival
//! order (`client_write_ff` only enqueues, so entry order is queue order).
//! Up to [`MAX_IN_FLIGHT`] entries are replicating at once; each caller is
//! answered when its entry is committed and applied. Together with the
//! node's WAL group commit this makes throughput grow with concurrency
//! instead of being capped by fsyncs per second.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::error::{ClientWriteError, RaftError};
use openraft::impls::ProgressResponder;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::partition::{AppendOutcome, Command, CommandResponse, NewMessage};
use crate::raft::{Raft, TypeConfig};

/// Append requests waiting to be batched. When full, callers wait for room
/// (their gRPC call is still within its deadline), which pushes back on
/// publishers instead of queueing without bound.
pub const APPEND_QUEUE_CAPACITY: usize = 1024;
/// Messages per Raft entry at most.
pub const MAX_BATCH_MESSAGES: usize = 4096;
/// Payload bytes per Raft entry at most (one entry is one replication unit).
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Raft entries of this group replicating at once.
pub const MAX_IN_FLIGHT: usize = 8;

/// Where the outcomes of one caller's messages go.
type Reply = oneshot::Sender<Result<Vec<AppendOutcome>, NodeError>>;

struct Job {
    messages: Vec<NewMessage>,
    bytes: usize,
    reply: Reply,
}

/// Handle to a group's append pipeline.
#[derive(Clone)]
pub struct Appender {
    tx: mpsc::Sender<Job>,
}

impl Appender {
    pub fn start(raft: Raft, cancel: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(APPEND_QUEUE_CAPACITY);
        tokio::spawn(run(raft, rx, cancel));
        Self { tx }
    }

    /// Appends messages; resolves once they are committed by a majority.
    /// Not cancel-safe in effect: dropping the future does not withdraw the
    /// messages, which may still be appended (the outcome is unknown).
    pub async fn append(&self, messages: Vec<NewMessage>) -> Result<Vec<AppendOutcome>, NodeError> {
        self.submit(messages).await?.wait().await
    }

    /// Queues messages and returns, without waiting for the commit, the
    /// future of their outcomes. Calls made one after another from one task
    /// are appended in that order (the queue is FIFO and one task drains
    /// it), which is what an ordered append stream relies on.
    pub async fn submit(&self, messages: Vec<NewMessage>) -> Result<Pending, NodeError> {
        let bytes = messages.iter().map(|m| m.payload.len() + m.message_id.len()).sum();
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { messages, bytes, reply }).await.map_err(|_| NodeError::ShuttingDown)?;
        Ok(Pending(rx))
    }
}

/// The outcomes of submitted messages, once committed and applied.
pub struct Pending(oneshot::Receiver<Result<Vec<AppendOutcome>, NodeError>>);

impl Pending {
    pub async fn wait(self) -> Result<Vec<AppendOutcome>, NodeError> {
        self.0.await.map_err(|_| NodeError::ShuttingDown)?
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn run(raft: Raft, mut rx: mpsc::Receiver<Job>, cancel: CancellationToken) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => tokio::select! {
                _ = cancel.cancelled() => return,
                job = rx.recv() => match job { Some(j) => j, None => return },
            },
        };
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = in_flight.clone().acquire_owned() => p.expect("semaphore is never closed"),
        };
        let mut jobs = vec![first];
        let (mut count, mut bytes) = (jobs[0].messages.len(), jobs[0].bytes);
        while count < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(job) if count + job.messages.len() > MAX_BATCH_MESSAGES || bytes + job.bytes > MAX_BATCH_BYTES => {
                    carry = Some(job);
                    break;
                }
                Ok(job) => {
                    count += job.messages.len();
                    bytes += job.bytes;
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut messages = Vec::with_capacity(count);
        let mut shares = Vec::with_capacity(jobs.len());
        for job in jobs {
            shares.push((job.messages.len(), job.reply));
            messages.extend(job.messages);
        }
        let command = Command::Append { messages: Arc::new(messages), appended_at_ms: now_ms() };
        // An idle group's leader renews its lease before writing (see
        // `super::lease`); within one round trip under load.
        super::lease::ensure(&raft).await.ok();
        let (responder, receiver) = ProgressResponder::complete_only();
        match raft.client_write_ff(command, Some(responder)).await {
            Ok(()) => {
                tokio::spawn(async move {
                    let result = match receiver.await {
                        Ok(Ok(resp)) => match resp.data {
                            CommandResponse::Appended(outcomes) => Ok(outcomes),
                            other => Err(NodeError::Raft(format!("unexpected append response {other:?}"))),
                        },
                        Ok(Err(e)) => Err(write_error(e)),
                        Err(_) => Err(NodeError::Unavailable { reason: "raft stopped before answering".into() }),
                    };
                    drop(permit);
                    distribute(shares, result);
                });
            }
            Err(fatal) => {
                distribute(shares, Err(NodeError::Raft(fatal.to_string())));
                return;
            }
        }
    }
}

fn distribute(shares: Vec<(usize, Reply)>, result: Result<Vec<AppendOutcome>, NodeError>) {
    match result {
        Ok(outcomes) => {
            let mut it = outcomes.into_iter();
            for (n, reply) in shares {
                let _ = reply.send(Ok(it.by_ref().take(n).collect()));
            }
        }
        Err(e) => {
            for (_, reply) in shares {
                let _ = reply.send(Err(e.duplicate()));
            }
        }
    }
}

/// Maps a Raft write error to what the caller should do next.
pub fn write_error(e: ClientWriteError<TypeConfig>) -> NodeError {
    match e {
        ClientWriteError::ForwardToLeader(f) => {
            NodeError::NotLeader { group: 0, leader_id: f.leader_id, leader_addr: f.leader_node.map(|n| n.addr) }
        }
        // The leader changed before the entry committed: it may or may not
        // be in the log. The message ids make a retry safe (duplicates are
        // found), so the caller retries as for any unavailability.
        ClientWriteError::LogEntryDiscarded(f) => NodeError::Unavailable {
            reason: format!("leadership changed before the write committed (new leader {:?})", f.leader_id),
        },
        ClientWriteError::ChangeMembershipError(e) => NodeError::bad_request(e.to_string()),
        ClientWriteError::PreconditionFailed(e) => NodeError::bad_request(e.to_string()),
    }
}

/// Maps a Raft error of a write call.
pub fn raft_write_error(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> NodeError {
    match e {
        RaftError::APIError(e) => write_error(e),
        RaftError::Fatal(f) => NodeError::Raft(f.to_string()),
    }
}
