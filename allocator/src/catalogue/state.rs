//! The catalogue itself and its pure, deterministic `apply`.
//!
//! Every catalogue replica applies the same committed commands in the same
//! order and must end in the same state with the same responses, so `apply`
//! reads nothing but `self` and the command (no clock, no randomness, no IO)
//! and refuses bad commands with a [`Rejection`] instead of panicking. It
//! re-checks rights and placements even though the allocator checked them
//! before proposing: rights can be revoked, members removed and group ids
//! taken between the check and the commit.
//!
//! Snapshots are `[format version] ++ bincode(Catalogue)`; an unknown version
//! is refused rather than misread. Version 2 added the subscription
//! registry; version 1 snapshots still load, with no subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::command::{CatalogueCommand, CatalogueResponse, Rejection};
use super::model::{Member, MemberKind, ModelError, NodeId, PartitionPlacement, Scope, Topic, TopicKey};
use super::subscriptions::{Subscription, Subscriptions, MAX_SUBSCRIPTIONS_PER_USER};
use crate::placement::Candidate;

const CATALOGUE_FORMAT_V1: u8 = 1;
const CATALOGUE_FORMAT_V2: u8 = 2;

type Applied = Result<CatalogueResponse, Rejection>;

/// The replicated cluster catalogue. Fields are public for reading; change
/// them only through [`Catalogue::apply`], or replicas diverge.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    pub members: BTreeMap<NodeId, Member>,
    pub topics: BTreeMap<TopicKey, Topic>,
    pub cluster_admins: BTreeSet<String>,
    /// Users granted the right to create global topics.
    pub topic_creators: BTreeSet<String>,
    /// The next group id `ReserveGroupIds` hands out; starts at 1.
    pub next_group_id: u64,
    /// Group ids of deleted topics. Storage nodes drop a deleted group's data
    /// on their own schedule, so an id must never come back: a new group
    /// under an old id could meet the old group's stale Raft state.
    pub retired_group_ids: BTreeSet<u64>,
    /// Every user's durable subscriptions; all name existing topics.
    pub subscriptions: Subscriptions,
}

/// The catalogue as format version 1 stored it: no subscriptions.
#[derive(Serialize, Deserialize)]
struct CatalogueV1 {
    members: BTreeMap<NodeId, Member>,
    topics: BTreeMap<TopicKey, Topic>,
    cluster_admins: BTreeSet<String>,
    topic_creators: BTreeSet<String>,
    next_group_id: u64,
    retired_group_ids: BTreeSet<u64>,
}

impl From<CatalogueV1> for Catalogue {
    fn from(v1: CatalogueV1) -> Self {
        Self {
            members: v1.members,
            topics: v1.topics,
            cluster_admins: v1.cluster_admins,
            topic_creators: v1.topic_creators,
            next_group_id: v1.next_group_id,
            retired_group_ids: v1.retired_group_ids,
            subscriptions: Subscriptions::default(),
        }
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Self {
            members: BTreeMap::new(),
            topics: BTreeMap::new(),
            cluster_admins: BTreeSet::new(),
            topic_creators: BTreeSet::new(),
            next_group_id: 1,
            retired_group_ids: BTreeSet::new(),
            subscriptions: Subscriptions::default(),
        }
    }
}

impl Catalogue {
    /// Applies one committed command. Pure and deterministic; a refusal
    /// leaves the catalogue unchanged.
    pub fn apply(&mut self, cmd: &CatalogueCommand) -> CatalogueResponse {
        use CatalogueCommand as C;
        let applied = match cmd {
            C::RegisterMember { member } => self.register_member(member),
            C::RemoveMember { id } => self.remove_member(*id),
            C::SetDecommissioning { id, on } => match self.members.get_mut(id) {
                Some(m) => {
                    m.decommissioning = *on;
                    Ok(CatalogueResponse::Done)
                }
                None => Err(Rejection::UnknownMember { id: *id }),
            },
            C::ReserveGroupIds { count } => self.reserve_group_ids(*count),
            C::CreateTopic { topic } => self.create_topic(topic),
            C::DeleteTopic { key, by } => self.delete_topic(key, by),
            C::ReplaceReplica { group_id, old, new } => self.replace_replica(*group_id, *old, *new),
            C::GrantCreateTopics { user } => grant(&mut self.topic_creators, user),
            C::RevokeCreateTopics { user } => {
                self.topic_creators.remove(user);
                Ok(CatalogueResponse::Done)
            }
            C::GrantClusterAdmin { user } => grant(&mut self.cluster_admins, user),
            C::AddTopicAdmin { key, user, by } => self.add_topic_admin(key, user, by),
            C::RecordSubscription { user, subscription } => self.record_subscription(user, subscription),
        };
        applied.unwrap_or_else(CatalogueResponse::Rejected)
    }

    fn register_member(&mut self, member: &Member) -> Applied {
        if member.addr.is_empty() {
            return Err(Rejection::bad_request(format!("member {} has no address", member.id)));
        }
        let Some(known) = self.members.get_mut(&member.id) else {
            self.members.insert(member.id, member.clone());
            return Ok(CatalogueResponse::Done);
        };
        let hosts_replicas =
            || self.topics.values().flat_map(|t| &t.partitions).any(|p| p.replicas.contains(&member.id));
        if known.kind == MemberKind::StorageNode && member.kind != MemberKind::StorageNode && hosts_replicas() {
            return Err(Rejection::bad_request(format!(
                "member {} hosts replicas and cannot stop being a storage node",
                member.id
            )));
        }
        known.kind = member.kind;
        known.addr.clone_from(&member.addr);
        Ok(CatalogueResponse::Done)
    }

    fn remove_member(&mut self, id: NodeId) -> Applied {
        if !self.members.contains_key(&id) {
            return Err(Rejection::UnknownMember { id });
        }
        let hosted = self.replicas_on(id).len();
        if hosted > 0 {
            return Err(Rejection::bad_request(format!(
                "member {id} still hosts {hosted} replicas; replace them before removing it"
            )));
        }
        self.members.remove(&id);
        Ok(CatalogueResponse::Done)
    }

    fn reserve_group_ids(&mut self, count: u32) -> Applied {
        if count == 0 {
            return Err(Rejection::bad_request("reserve at least one group id"));
        }
        let first = self.next_group_id;
        self.next_group_id = first
            .checked_add(u64::from(count))
            .ok_or_else(|| Rejection::bad_request("the group id space is exhausted"))?;
        Ok(CatalogueResponse::GroupIds { first, count })
    }

    fn create_topic(&mut self, topic: &Topic) -> Applied {
        let key = &topic.key;
        if !self.can_create(&topic.owner, &key.scope) {
            return Err(Rejection::NotAuthorized { user: topic.owner.clone(), action: format!("create topic {key}") });
        }
        topic.check_shape().map_err(|e| Rejection::bad_request(e.to_string()))?;
        if self.topics.contains_key(key) {
            return Err(Rejection::TopicExists { key: key.clone() });
        }
        let used: BTreeSet<u64> = self.topics.values().flat_map(Topic::group_ids).collect();
        for p in &topic.partitions {
            let g = p.group_id;
            if g >= self.next_group_id {
                return Err(Rejection::bad_request(format!("group id {g} was never reserved")));
            }
            if used.contains(&g) || self.retired_group_ids.contains(&g) {
                return Err(Rejection::bad_request(format!("group id {g} is taken; group ids are never reused")));
            }
            for &node in &p.replicas {
                self.check_replica_host(node)?;
            }
        }
        let mut stored = topic.clone();
        stored.admins.insert(stored.owner.clone());
        self.topics.insert(key.clone(), stored.clone());
        Ok(CatalogueResponse::TopicCreated(stored))
    }

    fn delete_topic(&mut self, key: &TopicKey, by: &str) -> Applied {
        let topic = self.administered(key, by, "delete")?;
        let groups: Vec<u64> = topic.group_ids().collect();
        let removed = self.topics.remove(key).expect("administered() found it");
        self.retired_group_ids.extend(groups);
        self.subscriptions.remove_topic(key);
        Ok(CatalogueResponse::TopicDeleted(removed))
    }

    fn add_topic_admin(&mut self, key: &TopicKey, user: &str, by: &str) -> Applied {
        self.administered(key, by, "add an admin to")?;
        if user.is_empty() {
            return Err(Rejection::bad_request("empty user name"));
        }
        if key.local_owner().is_some_and(|owner| owner != user) {
            return Err(Rejection::bad_request(format!("only its owner administers local topic {key}")));
        }
        self.topics.get_mut(key).expect("administered() found it").admins.insert(user.to_owned());
        Ok(CatalogueResponse::Done)
    }

    fn record_subscription(&mut self, user: &str, subscription: &Subscription) -> Applied {
        if self.check_subscription(user, subscription)? {
            return Ok(CatalogueResponse::SubscriptionRecorded { created: false });
        }
        let created = self.subscriptions.insert(user, subscription.clone());
        Ok(CatalogueResponse::SubscriptionRecorded { created })
    }

    /// Whether `user` may record `subscription`: a group name of the right
    /// length, a topic that exists and that they can see (another user's
    /// local topic is "not found", so its existence does not leak), and room
    /// under [`MAX_SUBSCRIPTIONS_PER_USER`]. Ok(true) when it is already
    /// recorded, which needs no write.
    pub fn check_subscription(&self, user: &str, subscription: &Subscription) -> Result<bool, Rejection> {
        if user.is_empty() {
            return Err(Rejection::bad_request("empty user name"));
        }
        subscription.check_shape()?;
        let key = &subscription.topic;
        if key.local_owner().is_some_and(|owner| owner != user) || !self.topics.contains_key(key) {
            return Err(Rejection::TopicNotFound { key: key.clone() });
        }
        if self.subscriptions.contains(user, subscription) {
            return Ok(true);
        }
        if !self.subscriptions.has_room(user) {
            return Err(Rejection::bad_request(format!(
                "user {user:?} already has {MAX_SUBSCRIPTIONS_PER_USER} subscriptions"
            )));
        }
        Ok(false)
    }

    /// The topic at `key` if `by` holds admin rights on it. Another user's
    /// local topic is refused before looking it up, so its existence does
    /// not leak.
    fn administered(&self, key: &TopicKey, by: &str, verb: &str) -> Result<&Topic, Rejection> {
        let refuse = || Rejection::NotAuthorized { user: by.to_owned(), action: format!("{verb} topic {key}") };
        if key.local_owner().is_some_and(|owner| owner != by) && !self.cluster_admins.contains(by) {
            return Err(refuse());
        }
        let topic = self.topics.get(key).ok_or_else(|| Rejection::TopicNotFound { key: key.clone() })?;
        if !self.can_delete(by, topic) {
            return Err(refuse());
        }
        Ok(topic)
    }

    fn replace_replica(&mut self, group_id: u64, old: NodeId, new: NodeId) -> Applied {
        let (key, index) = self
            .topics
            .values()
            .find_map(|t| t.partitions.iter().position(|p| p.group_id == group_id).map(|i| (t.key.clone(), i)))
            .ok_or(Rejection::UnknownGroup { group_id })?;
        let replicas = &self.topics[&key].partitions[index].replicas;
        let Some(slot) = replicas.iter().position(|&r| r == old) else {
            return Err(Rejection::bad_request(format!("node {old} is not a replica of group {group_id}")));
        };
        if replicas.contains(&new) {
            return Err(Rejection::bad_request(format!("node {new} is already a replica of group {group_id}")));
        }
        self.check_replica_host(new)?;
        let partition = self.topics.get_mut(&key).map(|t| &mut t.partitions[index]).expect("found above");
        partition.replicas[slot] = new;
        Ok(CatalogueResponse::Done)
    }

    /// A node may receive a new replica if it is a registered storage node
    /// that is not being drained.
    fn check_replica_host(&self, id: NodeId) -> Result<(), Rejection> {
        let member = self.members.get(&id).ok_or(Rejection::UnknownMember { id })?;
        if member.kind != MemberKind::StorageNode {
            return Err(Rejection::bad_request(format!("member {id} is not a storage node")));
        }
        if member.decommissioning {
            return Err(Rejection::bad_request(format!("member {id} is being decommissioned")));
        }
        Ok(())
    }

    /// Whether `user` may create a topic in `scope`: their own local scope
    /// always; the global scope as a cluster admin or a granted creator.
    pub fn can_create(&self, user: &str, scope: &Scope) -> bool {
        match scope {
            Scope::Local { owner } => !user.is_empty() && owner == user,
            Scope::Global => self.cluster_admins.contains(user) || self.topic_creators.contains(user),
        }
    }

    /// Whether `user` holds admin rights on `topic` (delete it, add admins).
    pub fn can_delete(&self, user: &str, topic: &Topic) -> bool {
        topic.admins.contains(user) || self.cluster_admins.contains(user)
    }

    pub fn is_cluster_admin(&self, user: &str) -> bool {
        self.cluster_admins.contains(user)
    }

    pub fn topic(&self, key: &TopicKey) -> Option<&Topic> {
        self.topics.get(key)
    }

    /// Topics `user` may see: every global one and their own local ones, in
    /// key order.
    pub fn visible_topics(&self, user: &str) -> Vec<&Topic> {
        self.topics.values().filter(|t| t.key.local_owner().is_none_or(|owner| owner == user)).collect()
    }

    /// `user`'s durable subscriptions with their topics, in (topic, group)
    /// order.
    pub fn subscriptions_of<'a>(&'a self, user: &str) -> impl Iterator<Item = (&'a Subscription, &'a Topic)> + 'a {
        self.subscriptions.of(user).filter_map(|s| self.topics.get(&s.topic).map(|t| (s, t)))
    }

    /// The topic and partition whose Raft group is `group_id`.
    pub fn group(&self, group_id: u64) -> Option<(&Topic, &PartitionPlacement)> {
        self.topics.values().find_map(|t| t.partitions.iter().find(|p| p.group_id == group_id).map(|p| (t, p)))
    }

    /// `(topic, partition, group id)` of every replica hosted on `node`.
    pub fn replicas_on(&self, node: NodeId) -> Vec<(TopicKey, u32, u64)> {
        self.topics
            .values()
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .filter(|(_, p)| p.replicas.contains(&node))
            .map(|(t, p)| (t.key.clone(), p.partition, p.group_id))
            .collect()
    }

    pub fn members_of_kind(&self, kind: MemberKind) -> impl Iterator<Item = &Member> + '_ {
        self.members.values().filter(move |m| m.kind == kind)
    }

    /// All storage nodes, decommissioning ones included.
    pub fn storage_nodes(&self) -> impl Iterator<Item = &Member> + '_ {
        self.members_of_kind(MemberKind::StorageNode)
    }

    /// Placement candidates: storage nodes not being drained, with the
    /// replicas and preferred leaderships the catalogue gives them. `bytes`
    /// is 0; the allocator fills it from node metrics if it has them. The
    /// caller also drops nodes it knows to be down.
    pub fn placement_candidates(&self) -> Vec<Candidate> {
        let mut cands: BTreeMap<NodeId, Candidate> = self
            .storage_nodes()
            .filter(|m| !m.decommissioning)
            .map(|m| (m.id, Candidate { id: m.id, partitions: 0, leaders: 0, bytes: 0 }))
            .collect();
        for p in self.topics.values().flat_map(|t| &t.partitions) {
            for (i, node) in p.replicas.iter().enumerate() {
                if let Some(c) = cands.get_mut(node) {
                    c.partitions = c.partitions.saturating_add(1);
                    if i == 0 {
                        c.leaders = c.leaders.saturating_add(1);
                    }
                }
            }
        }
        cands.into_values().collect()
    }

    /// The snapshot form: format version byte, then bincode.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![CATALOGUE_FORMAT_V2];
        bincode::serialize_into(&mut out, self).expect("serializing to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Catalogue, ModelError> {
        let (&version, body) = bytes.split_first().ok_or(ModelError::EmptySnapshot)?;
        match version {
            CATALOGUE_FORMAT_V1 => bincode::deserialize::<CatalogueV1>(body)
                .map(Catalogue::from)
                .map_err(|source| ModelError::CorruptSnapshot { version, source }),
            CATALOGUE_FORMAT_V2 => {
                bincode::deserialize(body).map_err(|source| ModelError::CorruptSnapshot { version, source })
            }
            other => Err(ModelError::UnknownFormatVersion { version: other }),
        }
    }
}

fn grant(set: &mut BTreeSet<String>, user: &str) -> Applied {
    if user.is_empty() {
        return Err(Rejection::bad_request("empty user name"));
    }
    set.insert(user.to_owned());
    Ok(CatalogueResponse::Done)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
