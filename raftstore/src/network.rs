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
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{BasicNode, RaftTypeConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use zya_proto::raft::raft_peer_client::RaftPeerClient;
use zya_proto::raft::raft_reply::Result as ReplyResult;
use zya_proto::raft::{RaftReply, RaftRequest};

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

/// Creates clients for one group's replicas.
pub struct GroupNetworkFactory<C> {
    group: u64,
    pool: Arc<ChannelPool>,
    _types: PhantomData<fn() -> C>,
}

impl<C> GroupNetworkFactory<C> {
    pub fn new(group: u64, pool: Arc<ChannelPool>) -> Self {
        Self { group, pool, _types: PhantomData }
    }
}

impl<C> RaftNetworkFactory<C> for GroupNetworkFactory<C>
where
    C: NetworkTypes,
    C::Entry: serde::Serialize + DeserializeOwned,
{
    type Network = PeerClient<C>;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        PeerClient { group: self.group, target, addr: node.addr.clone(), pool: self.pool.clone(), _types: PhantomData }
    }
}

/// A group's client for one target replica.
pub struct PeerClient<C> {
    group: u64,
    target: NodeId,
    addr: String,
    pool: Arc<ChannelPool>,
    _types: PhantomData<fn() -> C>,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

impl<C: NetworkTypes> PeerClient<C> {
    /// Sends a request. Takes it by value and drops it once encoded: an
    /// AppendEntries holds entries shared with the leader's log store, and
    /// the applier moves their messages out only if no copy is left (held
    /// through the round trip, they were copied on every apply).
    async fn call<Req, Resp, E>(&self, kind: Kind, req: Req, option: &RPCOption) -> Result<Resp, RpcErr<E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let payload = bincode::serialize(&req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        drop(req);
        let channel = self.pool.channel(&self.addr).map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        let mut client = RaftPeerClient::new(channel).max_decoding_message_size(256 << 20);
        let mut request = tonic::Request::new(RaftRequest { group_id: self.group, target_node: self.target, payload });
        request.set_timeout(option.hard_ttl());
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
                let err: RaftError<NodeId, E> =
                    bincode::deserialize(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
                Err(RPCError::RemoteError(RemoteError::new(self.target, err)))
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

impl<C> RaftNetwork<C> for PeerClient<C>
where
    C: NetworkTypes,
    C::Entry: serde::Serialize + DeserializeOwned,
{
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        self.call(Kind::Append, rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<C>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        self.call(Kind::Snapshot, rpc, &option).await
    }

    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption) -> Result<VoteResponse<NodeId>, RpcErr> {
        self.call(Kind::Vote, rpc, &option).await
    }
}
