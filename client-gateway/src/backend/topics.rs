//! Topic placements, cached from the catalogue.
//!
//! Every publish and subscribe needs a topic's partitions (Raft group ids
//! and replica addresses). Asking the catalogue each time would put its
//! leader on every message's path, so placements are cached for
//! [`FRESH_FOR`] and refreshed early when a caller reports that a partition
//! looked gone or moved. One [`PartitionClient`] per group is shared by all
//! connections, so a leader learned by one request serves the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zya_client::{catalogue_pb as cpb, Channels, PartitionClient};

use super::Failure;
use crate::protocol::{Scope, TopicName};

/// How long a placement is used without asking the catalogue again.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// A topic's identity across namespaces: local topics are keyed by owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicKey {
    pub name: TopicName,
    pub scope: Scope,
    /// The owner of a local topic; `None` for global ones.
    pub owner: Option<String>,
}

impl TopicKey {
    pub fn new(name: TopicName, scope: Scope, user: &str) -> Self {
        let owner = (scope == Scope::Local).then(|| user.to_string());
        Self { name, scope, owner }
    }
}

pub struct Topic {
    pub key: TopicKey,
    pub info: cpb::TopicInfo,
    /// One client per partition, in partition order.
    pub partitions: Vec<Arc<PartitionClient>>,
    fetched: Instant,
}

impl Topic {
    pub fn partition(&self, p: u32) -> Option<&Arc<PartitionClient>> {
        self.partitions.get(p as usize)
    }

    pub fn page_size(&self) -> u32 {
        self.info.page_size.max(1)
    }
}

pub(super) struct TopicCache {
    channels: Channels,
    topics: Mutex<HashMap<TopicKey, Arc<Topic>>>,
    groups: Mutex<HashMap<u64, Arc<PartitionClient>>>,
}

pub fn wire_scope(scope: Scope) -> cpb::Scope {
    match scope {
        Scope::Global => cpb::Scope::Global,
        Scope::Local => cpb::Scope::Local,
    }
}

impl TopicCache {
    pub(super) fn new(channels: Channels) -> Self {
        Self { channels, topics: Mutex::new(HashMap::new()), groups: Mutex::new(HashMap::new()) }
    }

    fn cached(&self, key: &TopicKey) -> Option<Arc<Topic>> {
        let map = self.topics.lock().expect("lock is never poisoned");
        map.get(key).filter(|t| t.fetched.elapsed() < FRESH_FOR).cloned()
    }

    pub(super) fn forget(&self, key: &TopicKey) {
        self.topics.lock().expect("lock is never poisoned").remove(key);
    }

    pub(super) fn store(&self, key: TopicKey, info: cpb::TopicInfo) -> Arc<Topic> {
        let mut partitions: Vec<&cpb::PartitionInfo> = info.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition);
        let clients = {
            let mut groups = self.groups.lock().expect("lock is never poisoned");
            partitions
                .iter()
                .map(|p| {
                    let client = groups
                        .entry(p.group_id)
                        .or_insert_with(|| {
                            Arc::new(PartitionClient::new(self.channels.clone(), p.group_id, p.replica_addrs.clone()))
                        })
                        .clone();
                    if client.replicas() != p.replica_addrs {
                        client.set_replicas(p.replica_addrs.clone());
                    }
                    client
                })
                .collect()
        };
        let topic = Arc::new(Topic { key: key.clone(), info, partitions: clients, fetched: Instant::now() });
        self.topics.lock().expect("lock is never poisoned").insert(key, topic.clone());
        topic
    }
}

impl super::Backend {
    /// The topic's placement, from the cache or the catalogue. A local
    /// topic is looked up in `caller.user`'s namespace only.
    pub async fn topic(&self, caller: &cpb::Caller, key: &TopicKey, deadline: Duration) -> Result<Arc<Topic>, Failure> {
        if let Some(t) = self.topics.cached(key) {
            return Ok(t);
        }
        self.refresh_topic(caller, key, deadline).await
    }

    /// Asks the catalogue again, replacing what was cached.
    pub async fn refresh_topic(
        &self,
        caller: &cpb::Caller,
        key: &TopicKey,
        deadline: Duration,
    ) -> Result<Arc<Topic>, Failure> {
        let req = cpb::DescribeTopicRequest {
            caller: Some(caller.clone()),
            topic: key.name.to_string(),
            scope: wire_scope(key.scope) as i32,
        };
        let reply = self
            .catalogue
            .call(deadline, |mut s| {
                let r = req.clone();
                async move { s.describe_topic(r).await }
            })
            .await;
        match reply {
            Ok(r) => {
                let info = r.into_inner().topic.ok_or_else(|| {
                    Failure::new(crate::protocol::ErrorCode::Internal, "catalogue answered without a topic")
                })?;
                Ok(self.topics.store(key.clone(), info))
            }
            Err(e) => {
                self.topics.forget(key);
                Err(e.into())
            }
        }
    }

    pub fn forget_topic(&self, key: &TopicKey) {
        self.topics.forget(key);
    }

    /// Caches a placement the catalogue just returned (e.g. from CreateTopic).
    pub fn remember_topic(&self, key: TopicKey, info: cpb::TopicInfo) -> Arc<Topic> {
        self.topics.store(key, info)
    }
}
