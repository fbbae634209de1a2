//! Keeps a connection's publishes in arrival order.
//!
//! Each request runs in its own task, and tasks start in any order. For
//! publishes the order matters: a client that pipelines `Publish` frames to
//! one partition expects offsets in the order it sent them. So publishes go
//! through one task per connection that does the ordered part (checks,
//! routing, queueing on the partitions' publishers) one request at a time,
//! and only the waiting for durability runs concurrently: in one task per
//! connection that drives every publish waiting for its answer (a task
//! spawned per publish was a measurable share of the gateway's CPU under
//! pipelined publishing).

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::publish;
use super::session::Session;
use super::Ctx;
use crate::backend::Failure;
use crate::protocol::{ErrorCode, Publish, RequestMeta};

/// Publishes waiting for their turn on one connection.
const QUEUE: usize = 1024;

pub struct Queued {
    pub meta: RequestMeta,
    pub req: Publish,
    /// The connection's in-progress slot, held until the reply is sent.
    pub permit: OwnedSemaphorePermit,
}

#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Queued>,
}

impl Sequencer {
    fn spawn(ctx: Ctx) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(ctx, rx));
        Self { tx }
    }

    pub fn submit(&self, q: Queued) -> Result<(), Failure> {
        self.tx.try_send(q).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Failure::new(ErrorCode::RateLimited, "too many publishes queued"),
            mpsc::error::TrySendError::Closed(_) => Failure::new(ErrorCode::Unavailable, "the connection is closing"),
        })
    }
}

impl Session {
    /// This session's sequencer, started on first use.
    pub fn sequencer(&self, ctx: &Ctx) -> Sequencer {
        let mut slot = self.sequencer.lock().expect("lock is never poisoned");
        slot.get_or_insert_with(|| Sequencer::spawn(ctx.clone())).clone()
    }
}

/// Publishes waiting for durability, answered as each completes.
async fn answer(ctx: Ctx, mut rx: mpsc::Receiver<BoxFuture<'static, ()>>) {
    let mut waiting = FuturesUnordered::new();
    let mut closed = false;
    loop {
        if closed && waiting.is_empty() {
            return;
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            f = rx.recv(), if !closed => match f {
                Some(f) => waiting.push(f),
                None => closed = true,
            },
            Some(()) = waiting.next(), if !waiting.is_empty() => {}
        }
    }
}

async fn run(ctx: Ctx, mut rx: mpsc::Receiver<Queued>) {
    // Bounded like the publish queue; each publish waiting here also holds
    // one of the connection's in-progress slots, which bound it first.
    let (answers, answers_rx) = mpsc::channel(QUEUE);
    tokio::spawn(answer(ctx.clone(), answers_rx));
    loop {
        let q = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            q = rx.recv() => match q { Some(q) => q, None => return },
        };
        let rid = q.meta.request_id.clone();
        let submitted = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            s = publish::submit(&ctx, &q.meta, q.req) => s,
        };
        match submitted {
            Ok(sub) => {
                let (own, permit) = (ctx.clone(), q.permit);
                let waiting: BoxFuture<'static, ()> = Box::pin(async move {
                    let _permit = permit;
                    let answer = publish::finish(&own, sub).await;
                    let _ = own.outbox.reply(answer.unwrap_or_else(Failure::into_response).reply_to(rid)).await;
                });
                if answers.send(waiting).await.is_err() {
                    return;
                }
            }
            Err(f) => {
                let _ = ctx.outbox.reply(f.into_response().reply_to(rid)).await;
            }
        }
    }
}
