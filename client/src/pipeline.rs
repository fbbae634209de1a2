//! An ordered window of appends to one partition, over an `AppendStream`.
//!
//! Why: a publisher with one `Append` in flight leaves the partition's
//! leader idle while the answer travels back and the next batch comes in.
//! A `Pipeline` keeps up to `window` batches in flight on one stream to the
//! leader, which queues them in stream order, so offsets still follow the
//! order of [`Pipeline::send`] calls.
//!
//! Failures: when the stream fails (an error status, the leader gone, or no
//! answer to the oldest batch within the one-attempt timeout that
//! [`PartitionClient::on_leader`] gives one call), the batches in flight are
//! retried in order, one after another, through [`PartitionClient::append`],
//! which follows the leader; message ids make a retry of a batch that was
//! appended answer its first offsets (as duplicates). Only then does a new
//! batch go out, on a new stream. While no leader is known, a batch goes
//! through `append` (which finds one) instead of a stream.
//!
//! ```text
//! send() ──> [stream: ≤ window batches in flight] ──> leader
//!              │ reply() (cancel-safe) + finish()
//!              └──> (token, outcome), in send order
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{classify, Next};
use crate::partition::ATTEMPT_TIMEOUT;
use crate::{pb, ClientError, PartitionClient};

pub type Outcome = Result<Vec<pb::AppendResult>, ClientError>;

pub struct Pipeline<T> {
    client: Arc<PartitionClient>,
    window: usize,
    /// `None` only while nothing is in flight.
    stream: Option<Open>,
    in_flight: VecDeque<Sent<T>>,
}

struct Open {
    requests: mpsc::Sender<pb::AppendRequest>,
    replies: tonic::Streaming<pb::AppendReply>,
    /// A request could not be handed to the stream: it is finished.
    broken: bool,
}

struct Sent<T> {
    messages: Vec<pb::NewMessage>,
    deadline: Instant,
    sent_at: Instant,
    token: T,
}

/// What happened to the oldest batch in flight: take it to [`Pipeline::finish`].
pub enum Reply {
    Answer(pb::AppendReply),
    Failed(tonic::Status),
    Ended(String),
}

impl<T> Pipeline<T> {
    pub fn new(client: Arc<PartitionClient>, window: usize) -> Self {
        Self { client, window: window.max(1), stream: None, in_flight: VecDeque::new() }
    }

    pub fn has_room(&self) -> bool {
        self.in_flight.len() < self.window
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Sends a batch that must be answered by `deadline`. Its outcome comes
    /// from [`Self::finish`] later, or at once (`Some`) when it went through
    /// a plain `append` because no leader was known.
    pub async fn send(&mut self, messages: Vec<pb::NewMessage>, deadline: Instant, token: T) -> Option<(T, Outcome)> {
        let now = Instant::now();
        let req = pb::AppendRequest {
            group_id: self.client.group,
            messages: messages.clone(),
            timeout_ms: millis(deadline.saturating_duration_since(now)),
        };
        let sent = Sent { messages, deadline, sent_at: now, token };
        if let Some(open) = &mut self.stream {
            open.broken |= open.requests.try_send(req).is_err();
            self.in_flight.push_back(sent);
            return None;
        }
        let Some(leader) = self.client.known_leader() else {
            let outcome = self.client.append(sent.messages, deadline.saturating_duration_since(now)).await;
            return Some((sent.token, outcome));
        };
        let (requests, rx) = mpsc::channel(self.window);
        let _ = requests.try_send(req);
        self.in_flight.push_back(sent);
        let opened = match self.client.channels().stub(&leader) {
            Ok(mut stub) => tokio::time::timeout(ATTEMPT_TIMEOUT, stub.append_stream(ReceiverStream::new(rx)))
                .await
                .map_err(|_| format!("{leader}: no answer within {ATTEMPT_TIMEOUT:?}"))
                .and_then(|r| r.map_err(|s| format!("{leader}: {s}"))),
            Err(e) => Err(e.to_string()),
        };
        match opened {
            Ok(replies) => {
                self.stream = Some(Open { requests, replies: replies.into_inner(), broken: false });
                None
            }
            Err(why) => {
                let mut done = self.recover(Some(why)).await;
                done.pop()
            }
        }
    }

    /// Waits for what happens to the oldest batch in flight. Cancel-safe;
    /// pending forever while nothing is in flight.
    pub async fn reply(&mut self) -> Reply {
        let (Some(open), Some(front)) = (self.stream.as_mut(), self.in_flight.front()) else {
            return std::future::pending().await;
        };
        if open.broken {
            return Reply::Ended("the stream to the leader closed".into());
        }
        let patience = (front.sent_at + ATTEMPT_TIMEOUT).min(front.deadline.max(Instant::now()));
        tokio::select! {
            m = open.replies.message() => match m {
                Ok(Some(answer)) => Reply::Answer(answer),
                Ok(None) => Reply::Ended("the leader ended the stream".into()),
                Err(status) => Reply::Failed(status),
            },
            _ = tokio::time::sleep_until(patience) => Reply::Ended(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
        }
    }

    /// Settles a [`Reply`]: the oldest batch's outcome, or after a failure
    /// the outcomes of every batch in flight, in send order.
    pub async fn finish(&mut self, reply: Reply) -> Vec<(T, Outcome)> {
        match reply {
            Reply::Answer(answer) => match self.in_flight.pop_front() {
                Some(sent) => vec![(sent.token, Ok(answer.results))],
                None => Vec::new(),
            },
            Reply::Failed(status) => match classify(&status) {
                // A definite refusal of the oldest batch (a bad message):
                // retrying it cannot succeed; the others are retried.
                Next::Fail(e) => {
                    let first = self.in_flight.pop_front().map(|sent| (sent.token, Err(e)));
                    let rest = self.recover(None).await;
                    first.into_iter().chain(rest).collect()
                }
                Next::Leader(Some(addr)) => {
                    self.client.set_leader(Some(addr));
                    self.recover(Some(status.message().to_string())).await
                }
                _ => {
                    self.client.set_leader(None);
                    self.recover(Some(status.message().to_string())).await
                }
            },
            Reply::Ended(why) => {
                self.client.set_leader(None);
                self.recover(Some(why)).await
            }
        }
    }

    /// Gives up on the batches in flight (the caller is going away); their
    /// outcome is unknown.
    pub fn abandon(&mut self) -> Vec<T> {
        self.stream = None;
        self.in_flight.drain(..).map(|sent| sent.token).collect()
    }

    /// Drops the stream and retries every batch in flight, in order, each
    /// within its own deadline. They were sent, so a failure is a timeout
    /// (outcome unknown), never "unavailable" (not written).
    async fn recover(&mut self, why: Option<String>) -> Vec<(T, Outcome)> {
        self.stream = None;
        let why = why.unwrap_or_else(|| "the stream to the leader failed".into());
        let mut done = Vec::with_capacity(self.in_flight.len());
        while let Some(sent) = self.in_flight.pop_front() {
            let remaining = sent.deadline.saturating_duration_since(Instant::now());
            let outcome = match remaining.is_zero() {
                true => Err(ClientError::Timeout { last: why.clone() }),
                false => self.client.append(sent.messages, remaining).await.map_err(|e| match e {
                    ClientError::Unavailable { last } => ClientError::Timeout { last },
                    other => other,
                }),
            };
            done.push((sent.token, outcome));
        }
        done
    }
}

fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}
