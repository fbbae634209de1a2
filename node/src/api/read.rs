//! Streaming reads of committed messages.
//!
//! A reader task pages through the state machine and sends batches on a
//! bounded channel; a slow client fills the channel and the task waits, so a
//! read never buffers more than [`READ_STREAM_DEPTH`] batches. With `follow`
//! the task then waits for newly applied entries (a watch on the partition
//! counters) until the client goes away or the node stops.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zya_proto::node::{ReadReply, ReadRequest};

use super::convert;
use crate::error::NodeError;
use crate::group::Group;

/// Batches buffered per read stream.
pub const READ_STREAM_DEPTH: usize = 4;
/// Default and largest number of messages per batch.
pub const DEFAULT_BATCH: usize = 500;
pub const MAX_BATCH: usize = 5000;
/// Payload bytes per batch at most (a batch is one gRPC message).
const MAX_BATCH_BYTES: usize = 4 << 20;

pub fn start(
    group: Arc<Group>,
    req: ReadRequest,
    cancel: CancellationToken,
) -> mpsc::Receiver<Result<ReadReply, tonic::Status>> {
    let (tx, rx) = mpsc::channel(READ_STREAM_DEPTH);
    tokio::spawn(async move {
        if let Err(e) = stream(group, req, &tx, cancel).await {
            let _ = tx.send(Err(e.into())).await;
        }
    });
    rx
}

async fn stream(
    group: Arc<Group>,
    req: ReadRequest,
    tx: &mpsc::Sender<Result<ReadReply, tonic::Status>>,
    cancel: CancellationToken,
) -> Result<(), NodeError> {
    let batch = match req.max_batch as usize {
        0 => DEFAULT_BATCH,
        n => n.min(MAX_BATCH),
    };
    let end = req.end_offset.unwrap_or(u64::MAX);
    let mut from = req.from_offset;
    let mut watch = group.reader.watch();
    loop {
        let meta = *watch.borrow_and_update();
        from = from.max(meta.first_offset);
        let upto = end.min(meta.next_offset);
        if from < upto {
            let reader = group.reader.clone();
            let records = tokio::task::spawn_blocking(move || reader.records(from, upto, batch))
                .await
                .map_err(|e| NodeError::Raft(format!("read task: {e}")))??;
            let mut messages = Vec::with_capacity(records.len());
            let mut bytes = 0;
            for (offset, record) in records {
                bytes += record.payload.len();
                from = offset + 1;
                messages.push(convert::stored(offset, record));
                if bytes >= MAX_BATCH_BYTES {
                    break;
                }
            }
            let reply = ReadReply { messages, first_offset: meta.first_offset, next_offset: meta.next_offset };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                sent = tx.send(Ok(reply)) => if sent.is_err() { return Ok(()) },
            }
            continue;
        }
        if from >= end || !req.follow {
            return Ok(());
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tx.closed() => return Ok(()),
            changed = watch.changed() => if changed.is_err() { return Err(NodeError::ShuttingDown) },
        }
    }
}
