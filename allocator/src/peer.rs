//! Raft RPCs between catalogue replicas (group 0 of `zya.raft.v1`).

use tonic::{Request, Response, Status};
use zya_proto::raft::peer_failure::Code as FailureCode;
use zya_proto::raft::raft_peer_server::RaftPeer;
use zya_proto::raft::{LeadersReply, LeadersRequest, PingReply, PingRequest, RaftReply, RaftRequest};
use zya_raftstore::reply::{encode_result, failure};
use zya_raftstore::snapshot_transfer::{receive_and_install, ChunkOf};
use zya_raftstore::SnapshotReceiver;

use crate::raft::{CatalogueTypes, Raft, CATALOGUE_GROUP};

pub struct CataloguePeer {
    pub id: u64,
    pub raft: Raft,
    /// The catalogue is small: a snapshot is received in memory.
    pub incoming: SnapshotReceiver<Vec<u8>>,
}

impl CataloguePeer {
    fn check(&self, req: &RaftRequest) -> Option<RaftReply> {
        if req.group_id != CATALOGUE_GROUP {
            return Some(failure(FailureCode::GroupNotFound, format!("allocators host only group {CATALOGUE_GROUP}")));
        }
        if req.target_node != self.id {
            return Some(failure(FailureCode::WrongNode, format!("this is allocator {}", self.id)));
        }
        None
    }
}

macro_rules! dispatch {
    ($self:ident, $request:ident, $method:ident) => {{
        let req = $request.into_inner();
        if let Some(refused) = $self.check(&req) {
            return Ok(Response::new(refused));
        }
        match bincode::deserialize(&req.payload) {
            Ok(rpc) => Ok(Response::new(encode_result($self.raft.$method(rpc).await))),
            Err(e) => Ok(Response::new(failure(FailureCode::BadPayload, e.to_string()))),
        }
    }};
}

#[tonic::async_trait]
impl RaftPeer for CataloguePeer {
    async fn append_entries(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        dispatch!(self, request, append_entries)
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        dispatch!(self, request, vote)
    }

    async fn install_snapshot(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let req = request.into_inner();
        if let Some(refused) = self.check(&req) {
            return Ok(Response::new(refused));
        }
        let chunk: ChunkOf<CatalogueTypes> = match bincode::deserialize(&req.payload) {
            Ok(c) => c,
            Err(e) => return Ok(Response::new(failure(FailureCode::BadPayload, e.to_string()))),
        };
        let reply = receive_and_install(&self.raft, &self.incoming, chunk, || async { Ok(Vec::new()) }).await;
        Ok(Response::new(reply))
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        Err(Status::unimplemented("allocators take no part in storage-node liveness"))
    }

    async fn leaders(&self, _request: Request<LeadersRequest>) -> Result<Response<LeadersReply>, Status> {
        Err(Status::unimplemented("allocators take no part in storage-node liveness"))
    }
}
