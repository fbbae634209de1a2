//! The `Catalogue` gRPC service.

use openraft::async_runtime::watch::WatchReceiver;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};
use zya_proto::catalogue as pb;
use zya_proto::catalogue::catalogue_server::Catalogue as CatalogueApi;

use crate::allocator::{Allocator, TopicSpec};
use crate::catalogue::command::{CatalogueCommand, CatalogueResponse, Rejection};
use crate::catalogue::model::{Member, MemberKind};
use crate::catalogue::subscriptions::Subscription;
use crate::convert;
use crate::error::AllocError;

pub struct CatalogueService {
    pub alloc: Arc<Allocator>,
}

type RpcResult<T> = Result<Response<T>, Status>;

/// Default page size of a topic (messages per delivered batch).
const DEFAULT_PAGE_SIZE: u32 = 100;

fn kind(k: i32) -> Result<MemberKind, AllocError> {
    match pb::MemberKind::try_from(k) {
        Ok(pb::MemberKind::StorageNode) => Ok(MemberKind::StorageNode),
        Ok(pb::MemberKind::Gateway) => Ok(MemberKind::Gateway),
        Ok(pb::MemberKind::Allocator) => Ok(MemberKind::Allocator),
        _ => Err(AllocError::BadRequest("unknown member kind".into())),
    }
}

fn wire_kind(k: MemberKind) -> i32 {
    match k {
        MemberKind::StorageNode => pb::MemberKind::StorageNode as i32,
        MemberKind::Gateway => pb::MemberKind::Gateway as i32,
        MemberKind::Allocator => pb::MemberKind::Allocator as i32,
    }
}

impl CatalogueService {
    /// Records a caller whose token says cluster admin, so the catalogue's
    /// own rights checks agree with the token.
    async fn admit(&self, caller: &pb::Caller) -> Result<(), AllocError> {
        if caller.cluster_admin && !self.alloc.reader.read(|c| c.is_cluster_admin(&caller.user)) {
            self.alloc.propose(CatalogueCommand::GrantClusterAdmin { user: caller.user.clone() }).await?;
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl CatalogueApi for CatalogueService {
    async fn register_member(&self, request: Request<pb::RegisterMemberRequest>) -> RpcResult<pb::RegisterMemberReply> {
        let req = request.into_inner();
        self.alloc.ensure_leader()?;
        let kind = kind(req.kind)?;
        if req.addr.is_empty() || req.id == 0 {
            return Err(AllocError::BadRequest("member id and address are required".into()).into());
        }
        let known =
            self.alloc.reader.read(|c| c.members.get(&req.id).is_some_and(|m| m.addr == req.addr && m.kind == kind));
        if !known {
            let member = Member { id: req.id, kind, addr: req.addr, registered_at_ms: 0, decommissioning: false };
            self.alloc.propose(CatalogueCommand::RegisterMember { member }).await?;
        }
        Ok(Response::new(pb::RegisterMemberReply {}))
    }

    async fn heartbeat(&self, request: Request<pb::HeartbeatRequest>) -> RpcResult<pb::HeartbeatReply> {
        self.alloc.ensure_leader()?;
        let report = request.into_inner();
        self.alloc.members.lock().expect("member table lock is never poisoned").heartbeat(report, Instant::now());
        Ok(Response::new(pb::HeartbeatReply {}))
    }

    async fn create_topic(&self, request: Request<pb::CreateTopicRequest>) -> RpcResult<pb::TopicReply> {
        let req = request.into_inner();
        let caller = convert::caller(req.caller)?;
        self.alloc.ensure_leader()?;
        self.admit(&caller).await?;
        let key = convert::key(&caller, &req.topic, req.scope)?;
        let spec = TopicSpec {
            key,
            owner: caller.user.clone(),
            partitions: req.partitions.max(1),
            replication_factor: if req.replication_factor == 0 { 3 } else { req.replication_factor },
            page_size: if req.page_size == 0 { DEFAULT_PAGE_SIZE } else { req.page_size },
            audited: req.audited,
            retention_ms: req.retention_ms,
            retention_bytes: req.retention_bytes,
        };
        let topic = self.alloc.create_topic(spec).await?;
        Ok(Response::new(pb::TopicReply { topic: Some(self.info(&topic)) }))
    }

    async fn delete_topic(&self, request: Request<pb::DeleteTopicRequest>) -> RpcResult<pb::DeleteTopicReply> {
        let req = request.into_inner();
        let caller = convert::caller(req.caller)?;
        self.alloc.ensure_leader()?;
        self.admit(&caller).await?;
        let key = convert::key(&caller, &req.topic, req.scope)?;
        let topic = self.alloc.delete_topic(key, caller.user).await?;
        Ok(Response::new(pb::DeleteTopicReply { topic: Some(self.info(&topic)) }))
    }

    async fn list_topics(&self, request: Request<pb::ListTopicsRequest>) -> RpcResult<pb::ListTopicsReply> {
        let caller = convert::caller(request.into_inner().caller)?;
        self.alloc.ensure_leader()?;
        let members = self.alloc.members.lock().expect("member table lock is never poisoned");
        let topics = self.alloc.reader.read(|c| {
            c.visible_topics(&caller.user)
                .into_iter()
                .map(|t| convert::topic_info(t, c, &members, self.alloc.cfg.down_after))
                .collect()
        });
        Ok(Response::new(pb::ListTopicsReply { topics }))
    }

    async fn describe_topic(&self, request: Request<pb::DescribeTopicRequest>) -> RpcResult<pb::TopicReply> {
        let req = request.into_inner();
        let caller = convert::caller(req.caller)?;
        self.alloc.ensure_leader()?;
        let key = convert::key(&caller, &req.topic, req.scope)?;
        let topic = self.alloc.reader.read(|c| c.topic(&key).cloned());
        let topic = topic.ok_or(AllocError::Rejected(Rejection::TopicNotFound { key }))?;
        Ok(Response::new(pb::TopicReply { topic: Some(self.info(&topic)) }))
    }

    async fn service_map(&self, _request: Request<pb::ServiceMapRequest>) -> RpcResult<pb::ServiceMapReply> {
        self.alloc.ensure_leader()?;
        let now = Instant::now();
        let down = self.alloc.cfg.down_after;
        let members = self.alloc.members.lock().expect("member table lock is never poisoned");
        let live = |kind: MemberKind| -> Vec<String> {
            self.alloc.reader.read(|c| {
                c.members_of_kind(kind)
                    .filter(|m| members.is_confirmed_live(m.id, now, down))
                    .map(|m| m.addr.clone())
                    .collect()
            })
        };
        let allocators = {
            let m = self.alloc.raft.metrics().borrow_watched().clone();
            m.membership_config.membership().nodes().map(|(_, n)| n.addr.clone()).collect()
        };
        Ok(Response::new(pb::ServiceMapReply {
            gateways: live(MemberKind::Gateway),
            allocators,
            nodes: live(MemberKind::StorageNode),
        }))
    }

    async fn cluster_status(&self, _request: Request<pb::ClusterStatusRequest>) -> RpcResult<pb::ClusterStatusReply> {
        self.alloc.ensure_leader()?;
        let now = Instant::now();
        let down = self.alloc.cfg.down_after;
        let members = self.alloc.members.lock().expect("member table lock is never poisoned");
        let (list, topics) = self.alloc.reader.read(|c| {
            let list = c
                .members
                .values()
                .map(|m| {
                    let seen = members.get(m.id);
                    let r = seen.map(|s| s.report.clone()).unwrap_or_default();
                    pb::NodeStatus {
                        id: m.id,
                        kind: wire_kind(m.kind),
                        addr: m.addr.clone(),
                        live: members.is_confirmed_live(m.id, now, down),
                        decommissioning: m.decommissioning,
                        partitions: if seen.is_some() { r.partitions } else { c.replicas_on(m.id).len() as u32 },
                        leaders: r.leaders,
                        bytes: r.bytes,
                        append_rate: r.append_rate,
                        last_seen_ms: seen.map(|s| now.saturating_duration_since(s.at).as_millis() as u64),
                    }
                })
                .collect();
            (list, c.topics.len() as u32)
        });
        Ok(Response::new(pb::ClusterStatusReply {
            members: list,
            topics,
            catalogue_leader: self.alloc.raft.metrics().borrow_watched().current_leader,
        }))
    }

    async fn decommission(&self, request: Request<pb::DecommissionRequest>) -> RpcResult<pb::DecommissionReply> {
        let id = request.into_inner().node_id;
        self.alloc.ensure_leader()?;
        self.alloc.propose(CatalogueCommand::SetDecommissioning { id, on: true }).await?;
        let partitions_to_move = self.alloc.reader.read(|c| c.replicas_on(id).len() as u32);
        Ok(Response::new(pb::DecommissionReply { partitions_to_move }))
    }

    async fn grant_right(&self, request: Request<pb::GrantRightRequest>) -> RpcResult<pb::GrantRightReply> {
        let req = request.into_inner();
        let caller = convert::caller(req.caller)?;
        self.alloc.ensure_leader()?;
        self.admit(&caller).await?;
        if !self.alloc.reader.read(|c| c.is_cluster_admin(&caller.user)) {
            return Err(AllocError::Rejected(Rejection::NotAuthorized {
                user: caller.user,
                action: "grant rights".into(),
            })
            .into());
        }
        let cmd = match pb::grant_right_request::Right::try_from(req.right) {
            Ok(pb::grant_right_request::Right::CreateTopics) => CatalogueCommand::GrantCreateTopics { user: req.user },
            Ok(pb::grant_right_request::Right::ClusterAdmin) => CatalogueCommand::GrantClusterAdmin { user: req.user },
            _ => return Err(AllocError::BadRequest("unknown right".into()).into()),
        };
        self.alloc.propose(cmd).await?;
        Ok(Response::new(pb::GrantRightReply {}))
    }

    async fn record_subscription(
        &self,
        request: Request<pb::RecordSubscriptionRequest>,
    ) -> RpcResult<pb::RecordSubscriptionReply> {
        let req = request.into_inner();
        let caller = convert::caller(req.caller)?;
        self.alloc.ensure_leader()?;
        let topic = convert::key(&caller, &req.topic, req.scope)?;
        let subscription = Subscription { topic, group: req.group };
        // Refusals and repeats (every login re-records) are answered from the
        // applied state without a Raft write; apply checks again.
        if self.alloc.reader.read(|c| c.check_subscription(&caller.user, &subscription)).map_err(AllocError::from)? {
            return Ok(Response::new(pb::RecordSubscriptionReply { created: false }));
        }
        let command = CatalogueCommand::RecordSubscription { user: caller.user, subscription };
        match self.alloc.propose(command).await? {
            CatalogueResponse::SubscriptionRecorded { created } => {
                Ok(Response::new(pb::RecordSubscriptionReply { created }))
            }
            other => Err(AllocError::Raft(format!("unexpected response {other:?}")).into()),
        }
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> RpcResult<pb::ListSubscriptionsReply> {
        let caller = convert::caller(request.into_inner().caller)?;
        self.alloc.ensure_leader()?;
        let members = self.alloc.members.lock().expect("member table lock is never poisoned");
        let subscriptions = self.alloc.reader.read(|c| {
            c.subscriptions_of(&caller.user)
                .map(|(s, t)| pb::SubscriptionRecord {
                    topic: t.key.name.clone(),
                    scope: convert::wire_scope(&t.key.scope),
                    group: s.group.clone(),
                    info: Some(convert::topic_info(t, c, &members, self.alloc.cfg.down_after)),
                })
                .collect()
        });
        Ok(Response::new(pb::ListSubscriptionsReply { subscriptions }))
    }
}

impl CatalogueService {
    fn info(&self, t: &crate::catalogue::model::Topic) -> pb::TopicInfo {
        let members = self.alloc.members.lock().expect("member table lock is never poisoned");
        self.alloc.reader.read(|c| convert::topic_info(t, c, &members, self.alloc.cfg.down_after))
    }
}
