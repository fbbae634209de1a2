//! Snapshots sent to a lagging replica in chunks, over the peer service's
//! `InstallSnapshot` RPC.
//!
//! openraft hands the sender a whole snapshot and wants it back whole on
//! the receiver (`Raft::install_full_snapshot`); moving it is ours. A
//! partition's snapshot can be a GiB, so it goes in chunks of
//! [`CHUNK_BYTES`] (well under the peers' gRPC message limit), each written
//! to the group's [`SnapshotSink`] as it arrives: the receiver never holds
//! the whole snapshot in memory unless its sink does (the catalogue's,
//! which is small).
//!
//! A chunk at offset 0 starts a new transfer and drops any unfinished one;
//! a chunk that does not continue the transfer in progress is refused, and
//! openraft sends the snapshot again from the start.

use std::future::Future;
use std::io;

use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::error::RaftError;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{Raft, RaftTypeConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use zya_proto::raft::peer_failure::Code as FailureCode;
use zya_proto::raft::RaftReply;

use crate::reply::{encode_result, failure};

/// Bytes of snapshot data in one RPC.
pub const CHUNK_BYTES: usize = 4 << 20;

/// One piece of a snapshot on the wire.
#[derive(Serialize, Deserialize)]
pub struct SnapshotChunk<V, M> {
    /// Drawn at random by the sender for each transfer: the chunks of one
    /// snapshot sent twice are not mixed.
    pub transfer: u64,
    /// The sender's vote, which the receiver's Raft checks.
    pub vote: V,
    pub meta: M,
    /// Where `data` starts in the snapshot.
    pub offset: u64,
    pub data: Vec<u8>,
    /// The last chunk: install once it is written.
    pub done: bool,
}

/// A chunk with its group's Raft types.
pub type ChunkOf<C> = SnapshotChunk<VoteOf<C>, SnapshotMetaOf<C>>;

/// Where a group writes a snapshot it receives.
pub trait SnapshotSink: Send + Sized + 'static {
    /// What the group's state machine installs.
    type Data: Send + 'static;

    fn write(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// Makes what was written durable (where the sink is a file) and ready
    /// to install.
    fn finish(self) -> impl Future<Output = io::Result<Self::Data>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("snapshot chunk at {got} of transfer {transfer:x} does not continue the transfer in progress (expected {expected:x?})")]
    OutOfOrder { transfer: u64, got: u64, expected: Option<(u64, u64)> },
    #[error("writing the received snapshot")]
    Io(#[from] io::Error),
}

struct Incoming<S> {
    transfer: u64,
    next_offset: u64,
    sink: S,
}

/// One group's snapshot being received (at most one at a time).
pub struct SnapshotReceiver<S> {
    slot: Mutex<Option<Incoming<S>>>,
}

impl<S> Default for SnapshotReceiver<S> {
    fn default() -> Self {
        Self { slot: Mutex::new(None) }
    }
}

/// A snapshot received whole: what `Raft::install_full_snapshot` takes.
pub type Received<C, D> = (VoteOf<C>, SnapshotMetaOf<C>, D);

impl<S: SnapshotSink> SnapshotReceiver<S> {
    /// Writes a chunk; returns the snapshot once its last chunk is written.
    /// `begin` opens a fresh sink for a transfer starting at offset 0.
    pub async fn receive<C, F, Fut>(
        &self,
        chunk: ChunkOf<C>,
        begin: F,
    ) -> Result<Option<Received<C, S::Data>>, TransferError>
    where
        C: RaftTypeConfig,
        F: FnOnce() -> Fut,
        Fut: Future<Output = io::Result<S>>,
    {
        let mut slot = self.slot.lock().await;
        if chunk.offset == 0 {
            *slot = None;
            let sink = begin().await?;
            *slot = Some(Incoming { transfer: chunk.transfer, next_offset: 0, sink });
        }
        let incoming = match slot.as_mut() {
            Some(i) if i.transfer == chunk.transfer && i.next_offset == chunk.offset => i,
            other => {
                let expected = other.as_ref().map(|i| (i.transfer, i.next_offset));
                return Err(TransferError::OutOfOrder { transfer: chunk.transfer, got: chunk.offset, expected });
            }
        };
        if let Err(e) = incoming.sink.write(&chunk.data).await {
            *slot = None;
            return Err(e.into());
        }
        incoming.next_offset += chunk.data.len() as u64;
        if !chunk.done {
            return Ok(None);
        }
        let incoming = slot.take().expect("matched above");
        let data = incoming.sink.finish().await?;
        Ok(Some((chunk.vote, chunk.meta, data)))
    }
}

/// Handles one chunk for a group's Raft: writes it and, with the last one,
/// installs the snapshot. Returns the reply to the sender: nothing for a
/// chunk in the middle, the group's vote once installed.
pub async fn receive_and_install<C, SM, S, F, Fut>(
    raft: &Raft<C, SM>,
    receiver: &SnapshotReceiver<S>,
    chunk: ChunkOf<C>,
    begin: F,
) -> RaftReply
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = S::Data>,
    S: SnapshotSink,
    F: FnOnce() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    match receiver.receive::<C, _, _>(chunk, begin).await {
        Ok(None) => encode_result::<_, ()>(Ok(None::<()>)),
        Ok(Some((vote, meta, snapshot))) => {
            let installed = raft.install_full_snapshot(vote, Snapshot { meta, snapshot }).await;
            encode_result(installed.map(Some).map_err(RaftError::<C>::Fatal))
        }
        Err(e) => failure(FailureCode::BadPayload, e.to_string()),
    }
}

/// An in-memory sink, for small state machines.
impl SnapshotSink for Vec<u8> {
    type Data = io::Cursor<Vec<u8>>;

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    async fn finish(self) -> io::Result<Self::Data> {
        Ok(io::Cursor::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_types::Types;

    fn chunk(transfer: u64, offset: u64, data: &[u8], done: bool) -> ChunkOf<Types> {
        SnapshotChunk {
            transfer,
            vote: openraft::impls::Vote::new_committed(2, 1),
            meta: Default::default(),
            offset,
            data: data.to_vec(),
            done,
        }
    }

    async fn receive(r: &SnapshotReceiver<Vec<u8>>, c: ChunkOf<Types>) -> Result<Option<Vec<u8>>, TransferError> {
        let got = r.receive::<Types, _, _>(c, || async { Ok(Vec::new()) }).await?;
        Ok(got.map(|(_, _, data)| data.into_inner()))
    }

    /// Chunks in order make the snapshot; one that does not continue the
    /// transfer is refused and a fresh transfer from offset 0 starts over.
    #[tokio::test]
    async fn chunks_must_continue_the_transfer_in_progress() {
        let r = SnapshotReceiver::default();
        assert!(receive(&r, chunk(7, 0, b"abc", false)).await.expect("first").is_none());
        assert!(receive(&r, chunk(7, 3, b"de", false)).await.expect("second").is_none());
        assert!(matches!(receive(&r, chunk(7, 9, b"x", true)).await, Err(TransferError::OutOfOrder { got: 9, .. })));
        assert!(matches!(receive(&r, chunk(8, 5, b"x", true)).await, Err(TransferError::OutOfOrder { .. })));
        assert!(receive(&r, chunk(9, 0, b"hello ", false)).await.expect("restart").is_none());
        assert_eq!(receive(&r, chunk(9, 6, b"world", true)).await.expect("last"), Some(b"hello world".to_vec()));
        assert!(matches!(receive(&r, chunk(9, 11, b"!", true)).await, Err(TransferError::OutOfOrder { .. })));
    }
}
