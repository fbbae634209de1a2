//! Wire ⇄ domain conversions at the service boundary.

use zya_proto::node as pb;
use zya_proto::read_wire::StoredMessageRef;

use crate::error::NodeError;
use crate::group::GroupDescriptor;
use crate::partition::record::RecordRef;
use crate::partition::{DeliveryRange, NewMessage};

/// Longest message id accepted (bytes). Ids are index keys.
pub const MAX_MESSAGE_ID_LEN: usize = 256;

pub fn descriptor(group_id: u64, config: Option<pb::PartitionConfig>) -> Result<GroupDescriptor, NodeError> {
    if group_id > crate::storage::keys::MAX_GROUP_ID {
        return Err(NodeError::bad_request("group id u64::MAX is reserved"));
    }
    let c = config.ok_or_else(|| NodeError::bad_request("missing config"))?;
    if c.topic.is_empty() {
        return Err(NodeError::bad_request("empty topic name"));
    }
    Ok(GroupDescriptor {
        group_id,
        topic: c.topic,
        partition: c.partition,
        retention_ms: c.retention_ms,
        retention_bytes: c.retention_bytes,
        audited: c.audited,
    })
}

pub fn config(d: &GroupDescriptor) -> pb::PartitionConfig {
    pb::PartitionConfig {
        topic: d.topic.clone(),
        partition: d.partition,
        retention_ms: d.retention_ms,
        retention_bytes: d.retention_bytes,
        audited: d.audited,
    }
}

pub fn new_message(m: pb::NewMessage) -> Result<NewMessage, NodeError> {
    if m.message_id.is_empty() || m.message_id.len() > MAX_MESSAGE_ID_LEN {
        return Err(NodeError::bad_request(format!("message id must be 1..={MAX_MESSAGE_ID_LEN} bytes")));
    }
    Ok(NewMessage {
        message_id: m.message_id,
        payload: m.payload,
        key: m.key,
        user: m.user,
        device: m.device,
        timestamp: m.timestamp,
    })
}

/// A stored record as the wire's `StoredMessage`, still borrowed.
pub fn stored<'a>(offset: u64, r: &'a RecordRef<'a>) -> StoredMessageRef<'a> {
    StoredMessageRef {
        offset,
        message_id: r.message_id,
        payload: r.payload,
        key: r.key,
        user: r.user,
        device: r.device,
        timestamp: r.timestamp,
        appended_at_ms: r.appended_at_ms,
        transaction_id: r.transaction_id,
        hash: r.hash.as_ref().map(|h| &h[..]),
    }
}

pub fn delivery_counts(ranges: Vec<DeliveryRange>) -> Vec<pb::DeliveryCount> {
    ranges.into_iter().map(|r| pb::DeliveryCount { start: r.start, end: r.end, count: r.count }).collect()
}
