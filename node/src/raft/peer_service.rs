//! Incoming Raft RPCs: one tonic service for every group on the node.
//!
//! tonic runs each request on its own task, so a slow group (a snapshot
//! being installed, a busy disk) never holds up another group's heartbeats.
//! A request for a group this node does not host is refused with
//! `GROUP_NOT_FOUND`; a group is never created because a message arrived.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};
use zya_proto::raft::peer_failure::Code as FailureCode;
use zya_proto::raft::raft_peer_server::RaftPeer;
use zya_proto::raft::{LeadersReply, LeadersRequest, PingReply, PingRequest, RaftReply, RaftRequest};
use zya_raftstore::reply::{encode_result, failure};
use zya_raftstore::snapshot_transfer::{receive_and_install, ChunkOf};

use crate::group::{Group, Registry};
use crate::liveness::LocalLeaders;
use crate::raft::TypeConfig;

pub struct PeerService {
    pub node_id: u64,
    pub registry: Arc<Registry>,
    pub leaders: Arc<LocalLeaders>,
}

impl PeerService {
    fn resolve<T: DeserializeOwned>(&self, req: &RaftRequest) -> Result<(Arc<Group>, T), RaftReply> {
        if req.target_node != self.node_id {
            return Err(failure(
                FailureCode::WrongNode,
                format!("this is node {}, not {}", self.node_id, req.target_node),
            ));
        }
        let Some(group) = self.registry.get(req.group_id) else {
            return Err(failure(FailureCode::GroupNotFound, format!("group {} not hosted here", req.group_id)));
        };
        match bincode::deserialize(&req.payload) {
            Ok(rpc) => Ok((group, rpc)),
            Err(e) => Err(failure(FailureCode::BadPayload, e.to_string())),
        }
    }
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn append_entries(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let req = request.into_inner();
        Ok(match self.resolve(&req) {
            Ok((group, rpc)) => Response::new(encode_result(group.raft.append_entries(rpc).await)),
            Err(reply) => Response::new(reply),
        })
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let req = request.into_inner();
        Ok(match self.resolve(&req) {
            Ok((group, rpc)) => Response::new(encode_result(group.raft.vote(rpc).await)),
            Err(reply) => Response::new(reply),
        })
    }

    /// A chunk of a snapshot (`zya_raftstore::snapshot_transfer`): written
    /// to the group's incoming file; the last one installs it.
    async fn install_snapshot(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let req = request.into_inner();
        let (group, chunk): (_, ChunkOf<TypeConfig>) = match self.resolve(&req) {
            Ok(resolved) => resolved,
            Err(reply) => return Ok(Response::new(reply)),
        };
        let reply = receive_and_install(&group.raft, &group.incoming, chunk, || group.begin_snapshot()).await;
        Ok(Response::new(reply))
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        Ok(Response::new(PingReply {
            node_id: self.node_id,
            incarnation: self.leaders.incarnation,
            leaders_version: self.leaders.version(),
        }))
    }

    async fn leaders(&self, _request: Request<LeadersRequest>) -> Result<Response<LeadersReply>, Status> {
        let (leaders_version, group_ids) = self.leaders.snapshot();
        Ok(Response::new(LeadersReply { node_id: self.node_id, leaders_version, group_ids }))
    }
}
