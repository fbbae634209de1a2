//! Replies that describe topics: creation and deletion, the topic list
//! (`AllTopics`), the user's subscriptions (`Topics`) and where each
//! partition's replicas are (`ServiceBackupMap`).

use serde::{Deserialize, Serialize};

use crate::protocol::topic::{Scope, TopicName};

/// Where one partition's Raft group lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPlacement {
    pub partition: u32,
    /// The current leader; `null` while an election is under way.
    pub leader: Option<String>,
    /// The other replicas.
    pub backups: Vec<String>,
}

/// `TopicCreated`, the answer to `CreateTopic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicCreated {
    pub topic: TopicName,
    pub scope: Scope,
    pub partitions: Vec<PartitionPlacement>,
}

/// `TopicDeleted`, the answer to `DeleteTopic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDeleted {
    pub topic: TopicName,
    pub scope: Scope,
}

/// `AllTopics`: every topic the user may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    pub topics: Vec<TopicInfo>,
}

/// One topic of `AllTopics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicInfo {
    pub topic: TopicName,
    pub scope: Scope,
    /// The creator (for a local topic, the only user who sees it).
    pub owner: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub message_count: u64,
    pub page_size: u32,
    pub audited: bool,
}

/// `Topics`: the user's subscriptions, every group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionList {
    pub topics: Vec<SubscriptionInfo>,
}

/// A durable subscription of one (user, group) to a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    pub topic: TopicName,
    pub scope: Scope,
    pub group: String,
    pub partitions: Vec<PartitionOffsets>,
}

/// Where a group stands in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionOffsets {
    pub partition: u32,
    /// The lowest offset not yet committed by the group.
    pub committed_offset: u64,
    /// The offset the next message will get.
    pub end_offset: u64,
    /// `endOffset − committedOffset`.
    pub lag: u64,
}

impl PartitionOffsets {
    /// Computes `lag` so it can never disagree with the offsets.
    pub fn new(partition: u32, committed_offset: u64, end_offset: u64) -> Self {
        Self { partition, committed_offset, end_offset, lag: end_offset.saturating_sub(committed_offset) }
    }
}

/// `ServiceBackupMap`: the replicas of each partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMap {
    pub topic: TopicName,
    pub scope: Scope,
    pub partitions: Vec<PartitionPlacement>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_follows_the_offsets() {
        assert_eq!(PartitionOffsets::new(0, 40, 42).lag, 2);
        assert_eq!(PartitionOffsets::new(0, 42, 42).lag, 0);
        assert_eq!(PartitionOffsets::new(0, 50, 42).lag, 0, "never negative, even on a stale end");
    }

    #[test]
    fn an_unknown_leader_is_null() {
        let p = PartitionPlacement { partition: 1, leader: None, backups: vec!["node-1".into()] };
        assert_eq!(
            serde_json::to_value(&p).expect("serialize"),
            serde_json::json!({"partition":1,"leader":null,"backups":["node-1"]})
        );
    }
}
