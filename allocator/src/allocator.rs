//! The TopicAllocator: places a new topic's partitions on storage nodes,
//! creates the replicas, and records the placement in the catalogue only
//! once every replica acknowledged.
//!
//! ```text
//! CreateTopic ─> placement by load ─> CreateReplica on each replica ──all ok──> catalogue.CreateTopic
//!                                        │ timeout / error (within create_timeout)
//!                                        ▼
//!                     delete the attempt's replicas; round-robin over the
//!                     remaining live nodes, fresh group ids ─> CreateReplica ─> …
//! ```
//!
//! Group ids are reserved through the catalogue and never reused: a replica
//! of a failed attempt that wakes up late can only ever join the abandoned
//! group, never a live one.

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zya_client::{pb, Channels};

use crate::catalogue::command::{CatalogueCommand, CatalogueResponse, Rejection};
use crate::catalogue::model::{NodeId, PartitionPlacement, Topic, TopicKey};
use crate::catalogue::store::CatalogueReader;
use crate::error::AllocError;
use crate::members::MemberTable;
use crate::placement::{self, Candidate, Plan};
use crate::raft::Raft;

#[derive(Debug, Clone)]
pub struct AllocatorConfig {
    /// How long replicas of one placement attempt may take to acknowledge.
    pub create_timeout: Duration,
    /// A member silent this long is down (leaves the service map, gets no
    /// new replicas).
    pub down_after: Duration,
    /// A storage node down this long has its replicas moved elsewhere.
    pub replace_after: Duration,
}

/// What a topic should look like, before placement.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub key: TopicKey,
    pub owner: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub page_size: u32,
    pub audited: bool,
    pub retention_ms: u64,
    pub retention_bytes: u64,
}

pub struct Allocator {
    pub id: u64,
    pub raft: Raft,
    pub reader: CatalogueReader,
    pub members: Mutex<MemberTable>,
    pub channels: Channels,
    pub cfg: AllocatorConfig,
    round_robin: AtomicUsize,
    /// Group ids of placement attempts under way: their replicas exist on
    /// nodes before the catalogue records them, and reconciliation must not
    /// mistake them for leftovers.
    in_flight: Mutex<HashSet<u64>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Allocator {
    pub fn new(id: u64, raft: Raft, reader: CatalogueReader, channels: Channels, cfg: AllocatorConfig) -> Self {
        Self {
            id,
            raft,
            reader,
            members: Mutex::new(MemberTable::new(0, Instant::now())),
            channels,
            cfg,
            round_robin: AtomicUsize::new(0),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Fails with `NotLeader` (naming the leader) unless this replica leads
    /// the catalogue; keeps the member table in step with leadership.
    pub fn ensure_leader(&self) -> Result<(), AllocError> {
        let m = self.raft.metrics().borrow_watched().clone();
        if m.current_leader == Some(self.id) {
            self.members.lock().expect("member table lock is never poisoned").for_term(m.current_term, Instant::now());
            return Ok(());
        }
        let leader_addr =
            m.current_leader.and_then(|l| m.membership_config.membership().get_node(&l).map(|n| n.addr.clone()));
        Err(AllocError::NotLeader { leader_addr })
    }

    /// Proposes a catalogue command and turns rejections into errors.
    pub async fn propose(&self, cmd: CatalogueCommand) -> Result<CatalogueResponse, AllocError> {
        match self.raft.client_write(cmd).await {
            Ok(r) => r.data.into_result().map_err(AllocError::from),
            Err(openraft::error::RaftError::APIError(openraft::error::ClientWriteError::ForwardToLeader(f))) => {
                Err(AllocError::NotLeader { leader_addr: f.leader_node.map(|n| n.addr) })
            }
            Err(e) => Err(AllocError::Raft(e.to_string())),
        }
    }

    /// Storage nodes that may take new replicas now, with their load.
    pub fn live_candidates(&self) -> Vec<Candidate> {
        let now = Instant::now();
        let members = self.members.lock().expect("member table lock is never poisoned");
        let mut cands = self.reader.read(|c| c.placement_candidates());
        cands.retain(|c| members.is_confirmed_live(c.id, now, self.cfg.down_after));
        for c in &mut cands {
            if let Some(seen) = members.get(c.id) {
                c.bytes = seen.report.bytes;
            }
        }
        cands
    }

    /// Live candidates; right after leadership changed, waits (at most one
    /// failure timeout) for enough nodes to report to this new leader.
    async fn candidates_for(&self, needed: u32) -> Vec<Candidate> {
        loop {
            let cands = self.live_candidates();
            let young = {
                let members = self.members.lock().expect("member table lock is never poisoned");
                members.age(Instant::now()) < self.cfg.down_after
            };
            if cands.len() >= needed as usize || !young {
                return cands;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn addr_of(&self, node: NodeId) -> Option<String> {
        self.reader.read(|c| c.members.get(&node).map(|m| m.addr.clone()))
    }

    pub async fn create_topic(&self, spec: TopicSpec) -> Result<Topic, AllocError> {
        self.ensure_leader()?;
        if spec.partitions == 0 || spec.replication_factor == 0 {
            return Err(AllocError::BadRequest("partitions and replication factor must be at least 1".into()));
        }
        if self.reader.read(|c| c.topic(&spec.key).is_some()) {
            return Err(Rejection::TopicExists { key: spec.key }.into());
        }
        if !self.reader.read(|c| c.can_create(&spec.owner, &spec.key.scope)) {
            return Err(Rejection::NotAuthorized { user: spec.owner, action: "create topic".into() }.into());
        }
        let cands = self.candidates_for(spec.replication_factor).await;
        let plan = placement::by_load(&cands, spec.partitions, spec.replication_factor)?;
        let placements = match self.attempt(&spec, &plan).await {
            Ok(p) => p,
            Err(failed) => {
                tracing::warn!(topic = %spec.key.name, ?failed, "placement by load failed; falling back to round robin");
                let rest: Vec<Candidate> = cands.into_iter().filter(|c| !failed.contains(&c.id)).collect();
                let start = self.round_robin.fetch_add(1, Ordering::Relaxed);
                let plan = placement::round_robin(&rest, spec.partitions, spec.replication_factor, start)?;
                self.attempt(&spec, &plan).await.map_err(|failed| {
                    AllocError::Unavailable(format!("storage nodes {failed:?} did not acknowledge in time"))
                })?
            }
        };
        let topic = Topic {
            key: spec.key.clone(),
            owner: spec.owner.clone(),
            admins: [spec.owner.clone()].into_iter().collect(),
            partitions: placements.clone(),
            replication_factor: spec.replication_factor,
            page_size: spec.page_size,
            audited: spec.audited,
            retention_ms: spec.retention_ms,
            retention_bytes: spec.retention_bytes,
            created_at_ms: now_ms(),
        };
        let recorded = self.propose(CatalogueCommand::CreateTopic { topic }).await;
        self.settle(&placements);
        match recorded {
            Ok(CatalogueResponse::TopicCreated(t)) => Ok(t),
            Ok(other) => Err(AllocError::Raft(format!("unexpected response {other:?}"))),
            Err(e) => {
                self.delete_replicas(&placements);
                Err(e)
            }
        }
    }

    /// Ends the in-flight protection of an attempt's groups (recorded in the
    /// catalogue now, or abandoned and left to reconciliation).
    fn settle(&self, placements: &[PartitionPlacement]) {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock is never poisoned");
        for p in placements {
            in_flight.remove(&p.group_id);
        }
    }

    /// Protects a group from reconciliation while its replicas change.
    pub fn begin_change(&self, group: u64) {
        self.in_flight.lock().expect("in-flight lock is never poisoned").insert(group);
    }

    pub fn end_change(&self, group: u64) {
        self.in_flight.lock().expect("in-flight lock is never poisoned").remove(&group);
    }

    /// Whether `group` belongs to a placement attempt under way.
    pub fn is_in_flight(&self, group: u64) -> bool {
        self.in_flight.lock().expect("in-flight lock is never poisoned").contains(&group)
    }

    /// Creates the replicas of one plan with fresh group ids. On any
    /// failure, deletes what was created and returns the nodes that failed.
    async fn attempt(&self, spec: &TopicSpec, plan: &Plan) -> Result<Vec<PartitionPlacement>, Vec<NodeId>> {
        let first = match self.propose(CatalogueCommand::ReserveGroupIds { count: spec.partitions }).await {
            Ok(CatalogueResponse::GroupIds { first, .. }) => first,
            _ => return Err(Vec::new()),
        };
        let placements: Vec<PartitionPlacement> = plan
            .iter()
            .enumerate()
            .map(|(p, replicas)| PartitionPlacement {
                partition: p as u32,
                group_id: first + p as u64,
                replicas: replicas.clone(),
            })
            .collect();
        self.in_flight.lock().expect("in-flight lock is never poisoned").extend(placements.iter().map(|p| p.group_id));
        let calls = placements.iter().map(|p| self.create_partition(spec, p));
        let mut failed: Vec<NodeId> =
            match tokio::time::timeout(self.cfg.create_timeout, futures::future::join_all(calls)).await {
                Ok(results) => {
                    let failed: Vec<NodeId> = results.into_iter().filter_map(Result::err).flatten().collect();
                    if failed.is_empty() {
                        return Ok(placements);
                    }
                    failed
                }
                // The deadline passed: blame the nodes that do not host their group.
                Err(_) => self.unresponsive(&placements).await,
            };
        failed.sort_unstable();
        failed.dedup();
        self.delete_replicas(&placements);
        self.settle(&placements);
        Err(failed)
    }

    /// Creates one partition's replicas: followers first, then the
    /// bootstrapping replica (it elects at once; its peers must exist).
    async fn create_partition(&self, spec: &TopicSpec, p: &PartitionPlacement) -> Result<(), Vec<NodeId>> {
        let members: Vec<pb::Replica> = p
            .replicas
            .iter()
            .map(|&id| pb::Replica { node_id: id, addr: self.addr_of(id).unwrap_or_default() })
            .collect();
        let config = pb::PartitionConfig {
            topic: topic_label(&spec.key),
            partition: p.partition,
            retention_ms: spec.retention_ms,
            retention_bytes: spec.retention_bytes,
            audited: spec.audited,
        };
        for (k, replica) in members.iter().enumerate().rev() {
            let mut stub = self.channels.stub(&replica.addr).map_err(|_| vec![replica.node_id])?;
            let req = pb::CreateReplicaRequest {
                group_id: p.group_id,
                config: Some(config.clone()),
                members: members.clone(),
                bootstrap: k == 0,
            };
            let mut request = tonic::Request::new(req);
            request.set_timeout(self.cfg.create_timeout);
            if let Err(status) = stub.create_replica(request).await {
                tracing::warn!(group = p.group_id, node = replica.node_id, %status, "create replica failed");
                return Err(vec![replica.node_id]);
            }
        }
        Ok(())
    }

    /// Nodes of the plan that do not report hosting their group.
    async fn unresponsive(&self, placements: &[PartitionPlacement]) -> Vec<NodeId> {
        let mut out = Vec::new();
        for p in placements {
            for &node in &p.replicas {
                let Some(addr) = self.addr_of(node) else {
                    out.push(node);
                    continue;
                };
                let hosted = async {
                    let mut stub = self.channels.stub(&addr).ok()?;
                    let mut req = tonic::Request::new(pb::StatusRequest { group_id: p.group_id });
                    req.set_timeout(Duration::from_millis(300));
                    stub.status(req).await.ok()
                };
                if tokio::time::timeout(Duration::from_millis(500), hosted).await.ok().flatten().is_none() {
                    out.push(node);
                }
            }
        }
        out
    }

    /// Deletes replicas in the background, best effort; replicas on nodes
    /// that are down are removed by reconciliation when they return.
    pub fn delete_replicas(&self, placements: &[PartitionPlacement]) {
        for p in placements {
            for &node in &p.replicas {
                let (Some(addr), channels, group_id) = (self.addr_of(node), self.channels.clone(), p.group_id) else {
                    continue;
                };
                tokio::spawn(async move {
                    if let Ok(mut stub) = channels.stub(&addr) {
                        let mut req = tonic::Request::new(pb::DeleteReplicaRequest { group_id, node_id: Some(node) });
                        req.set_timeout(Duration::from_secs(10));
                        if let Err(status) = stub.delete_replica(req).await {
                            tracing::info!(group = group_id, node, %status, "replica not deleted now; reconciliation retries");
                        }
                    }
                });
            }
        }
    }

    pub async fn delete_topic(&self, key: TopicKey, by: String) -> Result<Topic, AllocError> {
        self.ensure_leader()?;
        match self.propose(CatalogueCommand::DeleteTopic { key, by }).await? {
            CatalogueResponse::TopicDeleted(t) => {
                self.delete_replicas(&t.partitions);
                Ok(t)
            }
            other => Err(AllocError::Raft(format!("unexpected response {other:?}"))),
        }
    }
}

/// Runs `round` every `period` while this replica leads the catalogue,
/// until cancelled (the catalogue leader's background duties).
pub async fn leader_loop<F, Fut>(
    alloc: std::sync::Arc<Allocator>,
    period: Duration,
    cancel: tokio_util::sync::CancellationToken,
    round: F,
) where
    F: Fn(std::sync::Arc<Allocator>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if alloc.ensure_leader().is_ok() {
            round(alloc.clone()).await;
        }
    }
}

/// The topic name a partition's replicas carry (for operators reading node
/// status): `name` or `owner/name` for local topics.
pub fn topic_label(key: &TopicKey) -> String {
    match key.local_owner() {
        Some(owner) => format!("{owner}/{}", key.name),
        None => key.name.clone(),
    }
}
