//! The `Partition` service implementation.

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use zya_proto::node as pb;
use zya_proto::node::partition_server::Partition;

use super::{convert, read, with_group, Appends};
use crate::error::NodeError;
use crate::group::{Group, Registry};
use crate::partition::{Command, CommandResponse, CommitPosition, Rejection, MAX_MARK_WIDTH};
use crate::raft::NodeId;

pub struct PartitionService {
    pub registry: Arc<Registry>,
    pub addr: String,
    /// Appends, one call at a time or streamed (holds the test-only faults
    /// and the default time a write may take before `TIMEOUT`).
    pub appends: Appends,
    pub cancel: CancellationToken,
}

type RpcResult<T> = Result<Response<T>, Status>;

impl PartitionService {
    fn group(&self, id: u64) -> Result<Arc<Group>, NodeError> {
        super::group(&self.registry, id)
    }

    fn leader_group(&self, id: u64) -> Result<Arc<Group>, NodeError> {
        super::leader_group(&self.registry, id)
    }

    fn timeout(&self, ms: u32) -> Duration {
        super::timeout_or(self.appends.write_timeout, ms)
    }

    async fn write(&self, group: &Group, command: Command, timeout: Duration) -> Result<CommandResponse, NodeError> {
        let write = async {
            crate::group::lease::ensure(&group.raft).await?;
            Ok::<_, NodeError>(group.raft.client_write(command).await)
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(Ok(resp))) => Ok(resp.data),
            Ok(Ok(Err(e))) => Err(with_group(crate::group::raft_write_error(e), group.id)),
            Ok(Err(e)) => Err(with_group(e, group.id)),
            Err(_) => Err(NodeError::Timeout { timeout_ms: timeout.as_millis() as u64 }),
        }
    }

    fn voters(group: &Group) -> Vec<pb::Replica> {
        let m = group.raft.metrics().borrow_watched().membership_config.clone();
        let membership = m.membership();
        membership
            .voter_ids()
            .map(|id| pb::Replica {
                node_id: id,
                addr: membership.get_node(&id).map(|n| n.addr.clone()).unwrap_or_default(),
            })
            .collect()
    }
}

/// Longest consumer name accepted (bytes); names are storage keys.
const MAX_CONSUMER_NAME_LEN: usize = 512;

fn check_consumer(consumer: &str) -> Result<(), NodeError> {
    if consumer.is_empty() || consumer.len() > MAX_CONSUMER_NAME_LEN {
        return Err(NodeError::bad_request(format!("consumer name must be 1..={MAX_CONSUMER_NAME_LEN} bytes")));
    }
    Ok(())
}

#[tonic::async_trait]
impl Partition for PartitionService {
    async fn create_replica(&self, request: Request<pb::CreateReplicaRequest>) -> RpcResult<pb::CreateReplicaReply> {
        let req = request.into_inner();
        let descriptor = convert::descriptor(req.group_id, req.config)?;
        let members = req.members.into_iter().map(|r| (r.node_id, r.addr)).collect::<Vec<_>>();
        let created = self.registry.create(descriptor, members, req.bootstrap).await?;
        Ok(Response::new(pb::CreateReplicaReply { node_id: self.registry.node_id, created }))
    }

    async fn delete_replica(&self, request: Request<pb::DeleteReplicaRequest>) -> RpcResult<pb::DeleteReplicaReply> {
        let req = request.into_inner();
        if req.node_id.is_some_and(|id| id != self.registry.node_id) {
            // Meant for the node that used to listen at this address.
            return Ok(Response::new(pb::DeleteReplicaReply { deleted: false }));
        }
        let deleted = self.registry.delete(req.group_id).await?;
        Ok(Response::new(pb::DeleteReplicaReply { deleted }))
    }

    async fn append(&self, request: Request<pb::AppendRequest>) -> RpcResult<pb::AppendReply> {
        Ok(Response::new(self.appends.one(request.into_inner()).await?))
    }

    type AppendStreamStream = ReceiverStream<Result<pb::AppendReply, Status>>;

    async fn append_stream(
        &self,
        request: Request<tonic::Streaming<pb::AppendRequest>>,
    ) -> RpcResult<Self::AppendStreamStream> {
        let rx = self.appends.stream(request.into_inner(), self.cancel.child_token());
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type ReadStream = ReceiverStream<Result<zya_proto::read_wire::ReadReplyWire, Status>>;

    async fn read(&self, request: Request<pb::ReadRequest>) -> RpcResult<Self::ReadStream> {
        let req = request.into_inner();
        let group = if req.allow_follower { self.group(req.group_id)? } else { self.leader_group(req.group_id)? };
        let rx = read::start(group.clone(), req, group.cancel.child_token());
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn commit_offset(&self, request: Request<pb::CommitOffsetRequest>) -> RpcResult<pb::CommitOffsetReply> {
        let req = request.into_inner();
        check_consumer(&req.consumer)?;
        let position = match req.position {
            Some(pb::commit_offset_request::Position::UpTo(o)) => CommitPosition::UpTo(o),
            Some(pb::commit_offset_request::Position::One(o)) => CommitPosition::One(o),
            None => return Err(NodeError::bad_request("missing position").into()),
        };
        let group = self.leader_group(req.group_id)?;
        let command = Command::CommitOffset { consumer: req.consumer, position };
        match self.write(&group, command, self.timeout(req.timeout_ms)).await? {
            CommandResponse::Committed { committed_offset } => {
                Ok(Response::new(pb::CommitOffsetReply { committed_offset }))
            }
            CommandResponse::Rejected(r) => Err(NodeError::OffsetOutOfRange { reason: r.to_string() }.into()),
            other => Err(NodeError::Raft(format!("unexpected commit response {other:?}")).into()),
        }
    }

    async fn find_message(&self, request: Request<pb::FindMessageRequest>) -> RpcResult<pb::FindMessageReply> {
        let req = request.into_inner();
        let group = self.leader_group(req.group_id)?;
        let reader = group.reader.clone();
        let offset = tokio::task::spawn_blocking(move || reader.offset_of(&req.message_id))
            .await
            .map_err(|e| NodeError::Raft(e.to_string()))?
            .map_err(NodeError::from)?;
        Ok(Response::new(pb::FindMessageReply { offset }))
    }

    async fn mark_delivered(&self, request: Request<pb::MarkDeliveredRequest>) -> RpcResult<pb::MarkDeliveredReply> {
        let req = request.into_inner();
        check_consumer(&req.consumer)?;
        let (from, end) = (req.from_offset, req.end_offset);
        if from >= end || end - from > MAX_MARK_WIDTH {
            return Err(NodeError::bad_request(format!(
                "offsets [{from}, {end}) must be non-empty and at most {MAX_MARK_WIDTH} wide"
            ))
            .into());
        }
        let group = self.leader_group(req.group_id)?;
        let command = Command::MarkDelivered { consumer: req.consumer, from, end };
        match self.write(&group, command, self.timeout(req.timeout_ms)).await? {
            CommandResponse::Delivered { counts, committed_offset } => {
                Ok(Response::new(pb::MarkDeliveredReply { counts: convert::delivery_counts(counts), committed_offset }))
            }
            CommandResponse::Rejected(r @ Rejection::BadRange { .. }) => {
                Err(NodeError::BadRequest { reason: r.to_string() }.into())
            }
            CommandResponse::Rejected(r) => Err(NodeError::OffsetOutOfRange { reason: r.to_string() }.into()),
            other => Err(NodeError::Raft(format!("unexpected mark response {other:?}")).into()),
        }
    }

    async fn get_offsets(&self, request: Request<pb::GetOffsetsRequest>) -> RpcResult<pb::GetOffsetsReply> {
        let req = request.into_inner();
        let group = if req.allow_follower { self.group(req.group_id)? } else { self.leader_group(req.group_id)? };
        let meta = group.reader.meta();
        let reader = group.reader.clone();
        let consumer = req.consumer;
        let states = tokio::task::spawn_blocking(move || {
            if consumer.is_empty() {
                reader.consumers()
            } else {
                reader.consumer(&consumer).map(|s| vec![(consumer, s.unwrap_or_default())])
            }
        })
        .await
        .map_err(|e| NodeError::Raft(e.to_string()))?
        .map_err(NodeError::from)?;
        let consumers = states
            .into_iter()
            .map(|(name, mut s)| {
                s.skip_to(meta.first_offset);
                let deliveries = convert::delivery_counts(s.delivery_counts(0, u64::MAX));
                pb::ConsumerOffsets {
                    consumer: name,
                    committed_offset: s.committed,
                    committed_above: s.above.into_iter().collect(),
                    deliveries,
                }
            })
            .collect();
        Ok(Response::new(pb::GetOffsetsReply {
            first_offset: meta.first_offset,
            next_offset: meta.next_offset,
            message_count: meta.message_count(),
            bytes: meta.bytes,
            consumers,
        }))
    }

    async fn status(&self, request: Request<pb::StatusRequest>) -> RpcResult<pb::StatusReply> {
        let group = self.group(request.into_inner().group_id)?;
        let m = group.raft.metrics().borrow_watched().clone();
        let meta = group.reader.meta();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let last = m.last_log_index.unwrap_or(0);
        let replicas = membership
            .nodes()
            .map(|(id, node)| {
                let matched = m.replication.as_ref().and_then(|r| r.get(id)).map(|l| l.map_or(0, |l| l.index));
                pb::ReplicaStatus {
                    node_id: *id,
                    addr: node.addr.clone(),
                    voter: voters.contains(id),
                    matched_index: matched,
                    lag: matched.map(|x| last.saturating_sub(x)),
                }
            })
            .collect();
        Ok(Response::new(pb::StatusReply {
            group_id: group.id,
            node_id: group.node_id,
            leader_id: m.current_leader,
            term: m.current_term,
            role: format!("{:?}", m.state),
            replicas,
            first_offset: meta.first_offset,
            next_offset: meta.next_offset,
            message_count: meta.message_count(),
            bytes: meta.bytes,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            config: Some(convert::config(&group.descriptor)),
            last_log: group.last_log()?.map(|(term, index)| pb::LastLog { term, index }),
        }))
    }

    async fn add_replica(&self, request: Request<pb::AddReplicaRequest>) -> RpcResult<pb::AddReplicaReply> {
        let req = request.into_inner();
        let replica = req.replica.ok_or_else(|| NodeError::bad_request("missing replica"))?;
        let group = self.leader_group(req.group_id)?;
        // Learner first: it catches up (from a snapshot if needed) without
        // counting towards the quorum; only then does it become a voter.
        crate::group::lease::ensure(&group.raft).await?;
        group
            .raft
            .add_learner(replica.node_id, BasicNode::new(replica.addr.clone()), true)
            .await
            .map_err(|e| with_group(crate::group::raft_write_error(e), group.id))?;
        let ids = BTreeSet::from([replica.node_id]);
        group
            .raft
            .change_membership(ChangeMembers::AddVoterIds(ids), false)
            .await
            .map_err(|e| with_group(crate::group::raft_write_error(e), group.id))?;
        Ok(Response::new(pb::AddReplicaReply { voters: Self::voters(&group) }))
    }

    async fn remove_replica(&self, request: Request<pb::RemoveReplicaRequest>) -> RpcResult<pb::RemoveReplicaReply> {
        let req = request.into_inner();
        let group = self.leader_group(req.group_id)?;
        let ids = BTreeSet::from([req.node_id]);
        crate::group::lease::ensure(&group.raft).await?;
        group
            .raft
            .change_membership(ChangeMembers::RemoveVoters(ids), false)
            .await
            .map_err(|e| with_group(crate::group::raft_write_error(e), group.id))?;
        Ok(Response::new(pb::RemoveReplicaReply { voters: Self::voters(&group) }))
    }

    async fn node_info(&self, _request: Request<pb::NodeInfoRequest>) -> RpcResult<pb::NodeInfoReply> {
        let groups = self.registry.all();
        let leaders = groups.iter().filter(|g| g.is_leader()).count() as u64;
        let mut ids: Vec<u64> = groups.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        Ok(Response::new(pb::NodeInfoReply {
            node_id: self.registry.node_id,
            addr: self.addr.clone(),
            groups: ids,
            leaders,
        }))
    }
}
