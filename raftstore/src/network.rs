//! Outgoing Raft RPCs of every group, over one shared channel per peer node.
//!
//! Generic over the group's Raft types, so partition groups and the
//! catalogue share it. openraft asks a group's [`GroupNetworkFactory`] for a client per target
//! replica. All groups share a [`ChannelPool`]: one lazily connected HTTP/2
//! channel per destination address, so thousands of groups to the same node
//! cost one TCP connection. Each request carries the group id and the target
//! node id; the remote node refuses requests for groups it does not host or
//! for a node id that is not its own.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::alias::VoteOf;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, OptionalSend, RaftNetworkV2, RaftTypeConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tonic::transport::{Channel, Endpoint};
use zya_proto::raft::raft_peer_client::RaftPeerClient;
use zya_proto::raft::raft_reply::Result as ReplyResult;
use zya_proto::raft::{RaftReply, RaftRequest};

use crate::snapshot_transfer::{SnapshotChunk, CHUNK_BYTES};

type NodeId = u64;

/// What a group's Raft types must be for this transport: numeric node ids,
/// address nodes, and serde-encodable entries.
pub trait NetworkTypes: RaftTypeConfig<NodeId = NodeId, Node = BasicNode> {}
impl<C> NetworkTypes for C
where
    C: RaftTypeConfig<NodeId = NodeId, Node = BasicNode>,
    C::Entry: serde::Serialize + DeserializeOwned,
{
}

/// One HTTP/2 channel per peer address, shared by every group.
#[derive(Default)]
pub struct ChannelPool {
    channels: Mutex<HashMap<String, Channel>>,
}

impl ChannelPool {
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut map = self.channels.lock().expect("channel pool lock is never poisoned: no panics while held");
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .max_frame_size(zya_proto::http2::MAX_FRAME)
            .initial_stream_window_size(zya_proto::http2::STREAM_WINDOW)
            .initial_connection_window_size(zya_proto::http2::CONNECTION_WINDOW)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        map.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}

/// Creates clients for one group's replicas. `S` is the group's snapshot
/// data, which the clients read to send snapshots.
pub struct GroupNetworkFactory<C, S> {
    group: u64,
    pool: Arc<ChannelPool>,
    _types: PhantomData<fn() -> (C, S)>,
}

impl<C, S> GroupNetworkFactory<C, S> {
    pub fn new(group: u64, pool: Arc<ChannelPool>) -> Self {
        Self { group, pool, _types: PhantomData }
    }
}

impl<C, S> RaftNetworkFactory<C> for GroupNetworkFactory<C, S>
where
    C: NetworkTypes,
    C::Entry: serde::Serialize + DeserializeOwned,
    S: AsyncRead + Unpin + OptionalSend + 'static,
{
    type Network = PeerClient<C, S>;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        PeerClient { group: self.group, target, addr: node.addr.clone(), pool: self.pool.clone(), _types: PhantomData }
    }
}

/// A group's client for one target replica.
pub struct PeerClient<C, S> {
    group: u64,
    target: NodeId,
    addr: String,
    pool: Arc<ChannelPool>,
    _types: PhantomData<fn() -> (C, S)>,
}

impl<C: NetworkTypes, S> PeerClient<C, S> {
    /// Sends a request. Takes it by value and drops it once encoded: an
    /// AppendEntries holds entries shared with the leader's log store, and
    /// the applier moves their messages out only if no copy is left (held
    /// through the round trip, they were copied on every apply).
    ///
    /// A group on the peer that answers with an error (it is shutting
    /// down) is reported unreachable, so openraft backs off.
    async fn call<Req, Resp>(&self, kind: Kind, req: Req, timeout: Duration) -> Result<Resp, RPCError<C>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let payload = bincode::serialize(&req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        drop(req);
        let channel = self.pool.channel(&self.addr).map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        let mut client = RaftPeerClient::new(channel).max_decoding_message_size(256 << 20);
        let mut request = tonic::Request::new(RaftRequest { group_id: self.group, target_node: self.target, payload });
        request.set_timeout(timeout);
        let reply = match kind {
            Kind::Append => client.append_entries(request).await,
            Kind::Vote => client.vote(request).await,
            Kind::Snapshot => client.install_snapshot(request).await,
        };
        let reply: RaftReply = match reply {
            Ok(r) => r.into_inner(),
            Err(status) if status.code() == tonic::Code::Unavailable => {
                return Err(RPCError::Unreachable(Unreachable::new(&status)));
            }
            Err(status) => return Err(RPCError::Network(NetworkError::new(&status))),
        };
        match reply.result {
            Some(ReplyResult::Ok(bytes)) => {
                bincode::deserialize(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))
            }
            Some(ReplyResult::RaftError(bytes)) => {
                let err: openraft::error::RaftError<C> =
                    bincode::deserialize(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
                Err(RPCError::Unreachable(Unreachable::new(&err)))
            }
            // The peer does not host this group (yet, or any more) or is not
            // the replica we meant: treat it as unreachable so openraft backs
            // off instead of spinning.
            Some(ReplyResult::Failure(f)) => Err(RPCError::Unreachable(Unreachable::new(&PeerRefused(f.message)))),
            None => Err(RPCError::Network(NetworkError::new(&PeerRefused("empty reply".into())))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("peer refused: {0}")]
struct PeerRefused(String);

#[derive(Clone, Copy)]
enum Kind {
    Append,
    Vote,
    Snapshot,
}

impl<C, S> RaftNetworkV2<C> for PeerClient<C, S>
where
    C: NetworkTypes,
    C::Entry: serde::Serialize + DeserializeOwned,
    S: AsyncRead + Unpin + OptionalSend + 'static,
{
    type SnapshotData = S;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        self.call(Kind::Append, rpc, option.hard_ttl()).await
    }

    async fn vote(&mut self, rpc: VoteRequest<C>, option: RPCOption) -> Result<VoteResponse<C>, RPCError<C>> {
        self.call(Kind::Vote, rpc, option.hard_ttl()).await
    }

    /// Sends the snapshot in chunks of [`CHUNK_BYTES`]; the peer stores
    /// them and installs the snapshot when the last arrives, answering that
    /// one with its vote.
    async fn full_snapshot(
        &mut self,
        vote: VoteOf<C>,
        mut snapshot: openraft::alias::SnapshotOf<C, S>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let transfer = rand::random::<u64>();
        let send = async {
            let mut offset = 0u64;
            loop {
                let mut data = Vec::with_capacity(CHUNK_BYTES);
                let n = (&mut snapshot.snapshot)
                    .take(CHUNK_BYTES as u64)
                    .read_to_end(&mut data)
                    .await
                    .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
                let done = n < CHUNK_BYTES;
                let chunk =
                    SnapshotChunk { transfer, vote: vote.clone(), meta: snapshot.meta.clone(), offset, data, done };
                let reply: Option<SnapshotResponse<C>> =
                    self.call(Kind::Snapshot, chunk, option.hard_ttl()).await.map_err(streaming_error)?;
                offset += n as u64;
                if done {
                    return reply.ok_or_else(|| {
                        StreamingError::Network(NetworkError::from_string("the peer did not answer the last chunk"))
                    });
                }
            }
        };
        tokio::select! {
            r = send => r,
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}

fn streaming_error<C: RaftTypeConfig>(e: RPCError<C>) -> StreamingError<C> {
    match e {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
    }
}
