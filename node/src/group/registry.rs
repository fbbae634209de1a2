//! The groups hosted by this node, by group id.
//!
//! Creating and deleting a group writes its descriptor durably before (or
//! after, for delete) the Raft group starts (or stops), so after a crash the
//! node reopens exactly the groups it acknowledged hosting.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openraft::BasicNode;
use rocksdb::{IteratorMode, WriteBatch};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Group, GroupDescriptor};
use crate::error::NodeError;
use crate::raft::{NodeId, RaftTiming};
use crate::storage::keys::{self, CF_LOG, CF_META, CF_RECORDS, CF_SM, META_DESCRIPTOR};
use crate::storage::{snapshot, Store, StoreError};
use zya_raftstore::ChannelPool;

pub struct Registry {
    pub node_id: NodeId,
    store: Store,
    timing: RaftTiming,
    pool: Arc<ChannelPool>,
    cancel: CancellationToken,
    groups: RwLock<HashMap<u64, Arc<Group>>>,
    /// Serializes create and delete so two calls for one group cannot
    /// interleave their storage writes.
    admin: Mutex<()>,
}

impl Registry {
    /// Opens every group whose descriptor is stored.
    pub async fn open(
        store: Store,
        node_id: NodeId,
        timing: RaftTiming,
        cancel: CancellationToken,
    ) -> Result<Arc<Self>, NodeError> {
        let registry = Arc::new(Self {
            node_id,
            store: store.clone(),
            timing,
            pool: Arc::new(ChannelPool::default()),
            cancel,
            groups: RwLock::new(HashMap::new()),
            admin: Mutex::new(()),
        });
        let mut descriptors = Vec::new();
        for item in store.db.iterator_cf(store.cf(CF_META), IteratorMode::Start) {
            let (key, value) = item.map_err(StoreError::rocks("scan group descriptors"))?;
            if keys::parse_meta_key(&key, META_DESCRIPTOR).is_some() {
                descriptors.push(
                    GroupDescriptor::decode(&value)
                        .map_err(|e| StoreError::Corrupt { what: "group descriptor", reason: e.to_string() })?,
                );
            }
        }
        for d in descriptors {
            let group = registry.open_group(d).await?;
            registry.insert(group);
        }
        Ok(registry)
    }

    async fn open_group(&self, d: GroupDescriptor) -> Result<Arc<Group>, NodeError> {
        Group::open(self.store.clone(), self.node_id, d, &self.timing, self.pool.clone(), self.cancel.child_token())
            .await
    }

    fn insert(&self, group: Arc<Group>) {
        self.groups.write().expect("registry lock is never poisoned").insert(group.id, group);
    }

    /// The channels to peer nodes, shared by every group.
    pub fn pool(&self) -> Arc<ChannelPool> {
        self.pool.clone()
    }

    pub fn get(&self, group: u64) -> Option<Arc<Group>> {
        self.groups.read().expect("registry lock is never poisoned").get(&group).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Group>> {
        self.groups.read().expect("registry lock is never poisoned").values().cloned().collect()
    }

    /// Hosts a replica. Idempotent for an identical descriptor. With
    /// `bootstrap`, initializes the group with `members` as its voters.
    /// Returns whether the group was newly created.
    pub async fn create(
        &self,
        descriptor: GroupDescriptor,
        members: Vec<(NodeId, String)>,
        bootstrap: bool,
    ) -> Result<bool, NodeError> {
        let _guard = self.admin.lock().await;
        let group = match self.get(descriptor.group_id) {
            Some(existing) if existing.descriptor == descriptor => existing,
            Some(_) => return Err(NodeError::GroupExists { group: descriptor.group_id }),
            None => {
                let mut batch = WriteBatch::default();
                batch.put_cf(
                    self.store.cf(CF_META),
                    keys::meta_key(descriptor.group_id, META_DESCRIPTOR),
                    descriptor.encode(),
                );
                self.store.write_synced(batch)?;
                let group = self.open_group(descriptor).await?;
                self.insert(group.clone());
                if bootstrap {
                    initialize(&group, members).await?;
                }
                return Ok(true);
            }
        };
        if bootstrap {
            initialize(&group, members).await?;
        }
        Ok(false)
    }

    /// Stops the group and deletes all its data. Returns whether it existed.
    pub async fn delete(&self, group_id: u64) -> Result<bool, NodeError> {
        let _guard = self.admin.lock().await;
        let removed = self.groups.write().expect("registry lock is never poisoned").remove(&group_id);
        let Some(group) = removed else { return Ok(false) };
        group.shutdown().await;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let mut batch = WriteBatch::default();
            let (from, to) = (keys::group_prefix(group_id), keys::group_end(group_id));
            for cf in [CF_LOG, CF_META, CF_SM, CF_RECORDS] {
                batch.delete_range_cf(store.cf(cf), &from[..], &to[..]);
            }
            store.write_synced(batch)?;
            for cf in [CF_LOG, CF_SM, CF_RECORDS] {
                store.db.compact_range_cf(store.cf(cf), Some(&from[..]), Some(&to[..]));
            }
            let dir = snapshot::group_dir(&store, group_id);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|source| StoreError::SnapshotIo { path: dir, source })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| NodeError::Raft(format!("delete task: {e}")))??;
        tracing::info!(group = group_id, "deleted group and its data");
        Ok(true)
    }

    /// Stops every group (node shutdown), then flushes their state
    /// machines, written without the WAL, so that a clean restart has
    /// nothing to re-apply.
    pub async fn shutdown(&self) {
        for g in self.all() {
            g.shutdown().await;
        }
        let store = self.store.clone();
        let flushed =
            tokio::task::spawn_blocking(move || store.flush_unlogged(&crate::storage::STATE_MACHINE_FAMILIES)).await;
        if let Err(e) = flushed.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())) {
            tracing::warn!(error = %e, "flushing state machines at shutdown");
        }
    }
}

async fn initialize(group: &Group, members: Vec<(NodeId, String)>) -> Result<(), NodeError> {
    let members: std::collections::BTreeMap<NodeId, BasicNode> =
        members.into_iter().map(|(id, addr)| (id, BasicNode::new(addr))).collect();
    if members.is_empty() {
        return Err(NodeError::bad_request("bootstrap needs at least one member"));
    }
    match group.raft.initialize(members).await {
        Ok(()) => Ok(()),
        // Already initialized: a retried create.
        Err(openraft::error::RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(()),
        Err(e) => Err(NodeError::Raft(e.to_string())),
    }
}
