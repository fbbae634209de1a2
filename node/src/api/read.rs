//! Streaming reads of committed messages.
//!
//! A reader task pages through the state machine and sends batches on a
//! bounded channel; a slow client fills the channel and the task waits, so a
//! read never buffers more than [`READ_STREAM_DEPTH`] batches. With `follow`
//! the task then waits for newly applied entries (a watch on the partition
//! counters) until the client goes away or the node stops.
//!
//! A batch is encoded while its records are read, borrowed from the store
//! (`zya_proto::read_wire`): nothing is allocated per message, and the
//! reply's encoding is one copy of a buffer.

use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zya_proto::node::ReadRequest;
use zya_proto::read_wire::ReadReplyWire;

use super::convert;
use crate::error::NodeError;
use crate::group::Group;
use crate::storage::{PartitionReader, StoreError};

/// Batches buffered per read stream.
pub const READ_STREAM_DEPTH: usize = 4;
/// Default and largest number of messages per batch.
pub const DEFAULT_BATCH: usize = 500;
pub const MAX_BATCH: usize = 5000;
/// Encoded bytes per batch (one gRPC message): a batch ends with the message
/// that reaches this.
const MAX_BATCH_BYTES: usize = 4 << 20;

pub fn start(
    group: Arc<Group>,
    req: ReadRequest,
    cancel: CancellationToken,
) -> mpsc::Receiver<Result<ReadReplyWire, tonic::Status>> {
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
    tx: &mpsc::Sender<Result<ReadReplyWire, tonic::Status>>,
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
            let (mut reply, next) = tokio::task::spawn_blocking(move || page(&reader, from, upto, batch))
                .await
                .map_err(|e| NodeError::Raft(format!("read task: {e}")))??;
            from = next;
            reply.first_offset = meta.first_offset;
            reply.next_offset = meta.next_offset;
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

/// One batch from `from`: at most `batch` records and about
/// [`MAX_BATCH_BYTES`], encoded as they are read; and the offset after it.
fn page(reader: &PartitionReader, from: u64, upto: u64, batch: usize) -> Result<(ReadReplyWire, u64), StoreError> {
    let mut reply: Option<ReadReplyWire> = None;
    let mut next = from;
    reader.scan(from, upto, |offset, record| {
        let reply = reply.get_or_insert_with(|| {
            // Sized from the first record, so that the buffer is not grown
            // (and copied) while it fills.
            let each = record.payload.len() + record.message_id.len() + record.user.len() + 96;
            let count = batch.min(usize::try_from(upto - offset).unwrap_or(usize::MAX));
            ReadReplyWire::with_capacity(each.saturating_mul(count).min(MAX_BATCH_BYTES + each))
        });
        reply.push(&convert::stored(offset, &record));
        next = offset + 1;
        if reply.len() >= batch || reply.bytes() >= MAX_BATCH_BYTES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok((reply.unwrap_or_default(), next))
}
