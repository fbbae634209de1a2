//! Replies and pushes of the message path: `Published`, `Subscribed`, the
//! `Message` pushes, `SubscriptionEnd`, `Committed`, `Unsubscribed`.

use serde::{Deserialize, Serialize};

use crate::protocol::request::Isolation;
use crate::protocol::timestamp::Timestamp;
use crate::protocol::topic::{Scope, TopicName};

/// `Published`: sent only once the write is durable on a majority of the
/// partition's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub topic: TopicName,
    /// Extension: the topic's namespace.
    pub scope: Scope,
    #[serde(flatten)]
    pub outcome: PublishOutcome,
    /// Extension: present when the writes are staged in this transaction
    /// (invisible to `committed` readers until it commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// Where the message(s) landed, in the form the `Publish` used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PublishOutcome {
    /// Answer to a single-message `Publish`.
    #[serde(rename_all = "camelCase")]
    One { message_id: String, partition: u32, offset: u64, duplicate: bool },
    /// Answer to `messages`: arrays aligned with it.
    #[serde(rename_all = "camelCase")]
    Batch { message_ids: Vec<String>, partitions: Vec<u32>, offsets: Vec<u64>, duplicates: Vec<bool> },
}

/// `Subscribed`: the subscription exists and delivery starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscribed {
    pub subscription_id: String,
    pub topic: TopicName,
    pub scope: Scope,
    /// The consumer group (the device name unless the client named one).
    pub group: String,
    pub partitions: Vec<PartitionRange>,
    /// Extension: the effective window (the topic's `pageSize` by default).
    pub batch_size: u32,
    /// Extension: the effective refill ratio.
    pub commit_ratio: f64,
    /// Extension: the effective isolation.
    pub isolation: Isolation,
}

/// What one partition of a new subscription will deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionRange {
    pub partition: u32,
    /// The first offset to be delivered.
    pub start_offset: u64,
    /// The partition's end when subscribing (the next offset to be written),
    /// or the range's `end` for a `MessageRange` reader.
    pub end_offset: u64,
}

/// `Message`: one delivered message (pushed; no `requestId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub subscription_id: String,
    pub topic: TopicName,
    pub scope: Scope,
    pub partition: u32,
    pub offset: u64,
    pub message_id: String,
    /// The publisher's authenticated user.
    pub user_name: String,
    /// The `Publish` request's device, else the publisher's session's.
    pub device: String,
    /// The `Publish` request's timestamp, else the publisher's session's.
    pub timestamp: Timestamp,
    pub message_payload: String,
    /// When the partition's leader appended it.
    pub appended_at: Timestamp,
    /// Delivered before to this group and not committed.
    pub redelivered: bool,
    /// 1 on first delivery.
    pub delivery_count: u32,
    /// Extension: the publisher's partition key, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Part of a transaction not yet committed (only with `isolation:
    /// uncommitted`); omitted when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// Hex SHA-256 chain hash; audited topics only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// `SubscriptionEnd`: nothing more will be delivered on the subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionEnd {
    pub subscription_id: String,
    pub topic: TopicName,
    pub scope: Scope,
    /// The partition of a `MessageRange` reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Extension: why it ended.
    pub reason: EndReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// A `MessageRange` reader delivered its whole range.
    RangeComplete,
    /// The topic was deleted.
    TopicDeleted,
}

/// `Committed`: the commit is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Committed {
    pub topic: TopicName,
    /// Extension.
    pub scope: Scope,
    /// Extension: the group the commit applied to.
    pub group: String,
    pub partition: u32,
    /// The lowest offset of the partition not yet committed by the group.
    pub committed_offset: u64,
    /// Extension: echoes a commit by `messageId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Extension: present when the commit is staged in this transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// `Unsubscribed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unsubscribed {
    pub subscription_id: String,
}
