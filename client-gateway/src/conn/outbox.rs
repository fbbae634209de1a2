//! Frames on their way to one client's socket, bounded in bytes.
//!
//! Replies and deliveries are produced by many tasks of one connection
//! (request handlers, subscriptions); one writer task owns the socket. The
//! queue between them holds at most `budget` bytes of frames: a producer
//! waits for room, so a client that stops reading stalls its own
//! subscriptions and handlers, and the gateway's memory for that connection
//! stays bounded no matter how fast messages arrive.

use std::sync::Arc;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::protocol::{Reply, Response};

/// What the writer task sends.
pub enum Outgoing {
    Text(String, OwnedSemaphorePermit),
    /// A close frame with this code and reason; the writer stops after it.
    Close(u16, String),
}

/// The producers' side. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Semaphore>,
    capacity: usize,
}

/// The writer task went away: the connection is closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is closed")]
pub struct Closed;

/// Frames per connection queue beyond the byte budget: small frames are
/// bounded by count too.
const MAX_QUEUED_FRAMES: usize = 4096;

impl Outbox {
    pub fn new(budget_bytes: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_FRAMES);
        let capacity = budget_bytes.max(1);
        (Self { tx, budget: Arc::new(Semaphore::new(capacity)), capacity }, rx)
    }

    /// Queues a text frame, waiting while the budget is used up.
    pub async fn send_text(&self, text: String) -> Result<(), Closed> {
        let cost = text.len().clamp(1, self.capacity).min(u32::MAX as usize) as u32;
        let permit = self.budget.clone().acquire_many_owned(cost).await.map_err(|_| Closed)?;
        self.tx.send(Outgoing::Text(text, permit)).await.map_err(|_| Closed)
    }

    pub async fn reply(&self, reply: Reply) -> Result<(), Closed> {
        self.send_text(reply.to_frame()).await
    }

    pub async fn push(&self, response: &Response) -> Result<(), Closed> {
        self.send_text(response.to_frame()).await
    }

    /// Asks the writer to close the socket after what is already queued.
    pub async fn close(&self, code: u16, reason: &str) {
        let _ = self.tx.send(Outgoing::Close(code, reason.to_string())).await;
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
