//! The catalogue's data model: who is in the cluster, which topics exist in
//! which namespace, and on which storage nodes each partition's Raft group
//! lives.
//!
//! These are storage values: they travel in the catalogue's Raft log and are
//! written into its snapshots, so they are versioned with the snapshot format
//! (see [`super::state`]) and are never the gateway's JSON or the RPC layer's
//! protobuf types; those convert at their own boundaries. Checks that need no
//! catalogue context (a topic name, the shape of a placement) live here so the
//! gateway can run them early and `apply` runs them again.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A cluster member's id; for storage nodes, also their Raft node id.
pub type NodeId = u64;

/// Longest topic name, in bytes (names are ASCII).
pub const MAX_TOPIC_NAME_LEN: usize = 200;

/// Most partitions one topic may have. Each partition is a Raft group with
/// its own log and heartbeats, so a typo like `1000000` must not be able to
/// overload every storage node.
pub const MAX_PARTITIONS: u32 = 10_000;

/// The namespace a topic lives in. Alice's local `notes` and Bob's local
/// `notes` are different topics; only their owner sees or uses them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Global,
    Local { owner: String },
}

/// A topic's identity: its namespace and its name within it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicKey {
    pub scope: Scope,
    pub name: String,
}

impl TopicKey {
    pub fn global(name: impl Into<String>) -> Self {
        Self { scope: Scope::Global, name: name.into() }
    }

    pub fn local(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self { scope: Scope::Local { owner: owner.into() }, name: name.into() }
    }

    /// The owner of a local topic; `None` for a global one.
    pub fn local_owner(&self) -> Option<&str> {
        match &self.scope {
            Scope::Global => None,
            Scope::Local { owner } => Some(owner),
        }
    }
}

impl fmt::Display for TopicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Global => write!(f, "{:?} (global)", self.name),
            Scope::Local { owner } => write!(f, "{:?} (local to {owner:?})", self.name),
        }
    }
}

/// Checks a topic name: `[A-Za-z0-9._-]{1,200}` and neither `.` nor `..`,
/// so a name can never act as a path or carry separators of other formats.
pub fn validate_topic_name(name: &str) -> Result<(), ModelError> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_TOPIC_NAME_LEN {
        "is longer than 200 bytes"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        "may only contain A-Z, a-z, 0-9, '.', '_' and '-'"
    } else if name == "." || name == ".." {
        "may not be '.' or '..'"
    } else {
        return Ok(());
    };
    // Keep the error small whatever the client sent.
    let shown: String = name.chars().take(MAX_TOPIC_NAME_LEN).collect();
    Err(ModelError::InvalidTopicName { name: shown, reason })
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberKind {
    /// Hosts partition replicas; the only kind placement considers.
    StorageNode,
    Gateway,
    Allocator,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: NodeId,
    pub kind: MemberKind,
    /// Where its RPC service listens (`host:port`).
    pub addr: String,
    /// When it first registered; re-registering keeps it.
    pub registered_at_ms: i64,
    /// Being drained: gets no new replicas and its replicas are moved away.
    pub decommissioning: bool,
}

/// Where one partition lives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PartitionPlacement {
    pub partition: u32,
    /// The partition's Raft group id; never reused, even after deletion.
    pub group_id: u64,
    /// Distinct storage nodes. `replicas[0]` is the preferred leader: it
    /// bootstraps the group.
    pub replicas: Vec<NodeId>,
}

impl PartitionPlacement {
    /// The preferred leader.
    pub fn leader(&self) -> Option<NodeId> {
        self.replicas.first().copied()
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub key: TopicKey,
    /// The creator; for a local topic, the scope's owner.
    pub owner: String,
    /// Users with admin rights on the topic (delete it, add admins). The
    /// owner is always one.
    pub admins: BTreeSet<String>,
    /// Partition `i` is at index `i`.
    pub partitions: Vec<PartitionPlacement>,
    pub replication_factor: u32,
    /// Default page size for subscribers.
    pub page_size: u32,
    /// Whether the topic keeps a tamper-evident hash chain.
    pub audited: bool,
    /// 0 = keep forever.
    pub retention_ms: u64,
    /// 0 = no size limit.
    pub retention_bytes: u64,
    pub created_at_ms: i64,
}

impl Topic {
    /// The Raft group ids of all partitions, in partition order.
    pub fn group_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.partitions.iter().map(|p| p.group_id)
    }

    /// Checks everything that can be checked without the catalogue: the
    /// name, partitions numbered `0..n` with `1 <= n <= MAX_PARTITIONS`,
    /// exactly `replication_factor` distinct replicas each, distinct non-zero
    /// group ids, a non-zero page size and an owner.
    pub fn check_shape(&self) -> Result<(), ModelError> {
        let bad = |reason: String| Err(ModelError::InvalidTopic { reason });
        validate_topic_name(&self.key.name)?;
        if self.owner.is_empty() {
            return bad("the owner is empty".into());
        }
        let count = self.partitions.len();
        if count == 0 || count > MAX_PARTITIONS as usize {
            return bad(format!("{count} partitions; a topic has 1 to {MAX_PARTITIONS}"));
        }
        if self.replication_factor == 0 {
            return bad("replication factor 0".into());
        }
        if self.page_size == 0 {
            return bad("page size 0".into());
        }
        let mut groups = BTreeSet::new();
        for (i, p) in self.partitions.iter().enumerate() {
            if p.partition as usize != i {
                return bad(format!("partition at index {i} is numbered {}", p.partition));
            }
            if p.replicas.len() != self.replication_factor as usize {
                return bad(format!(
                    "partition {i} has {} replicas, the replication factor is {}",
                    p.replicas.len(),
                    self.replication_factor
                ));
            }
            let distinct: BTreeSet<NodeId> = p.replicas.iter().copied().collect();
            if distinct.len() != p.replicas.len() {
                return bad(format!("partition {i} names a node twice: {:?}", p.replicas));
            }
            if p.group_id == 0 {
                return bad(format!("partition {i} has group id 0; group ids start at 1"));
            }
            if !groups.insert(p.group_id) {
                return bad(format!("group id {} is used by two partitions", p.group_id));
            }
        }
        Ok(())
    }
}

/// Errors of the model's checks and of decoding stored catalogue values.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid topic name {name:?}: it {reason}")]
    InvalidTopicName { name: String, reason: &'static str },
    #[error("invalid topic: {reason}")]
    InvalidTopic { reason: String },
    #[error("catalogue snapshot is empty")]
    EmptySnapshot,
    #[error("catalogue snapshot has unknown format version {version}")]
    UnknownFormatVersion { version: u8 },
    #[error("catalogue snapshot (format version {version}) is corrupt")]
    CorruptSnapshot {
        version: u8,
        #[source]
        source: bincode::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(partition: u32, group_id: u64, replicas: &[NodeId]) -> PartitionPlacement {
        PartitionPlacement { partition, group_id, replicas: replicas.to_vec() }
    }

    fn topic(partitions: Vec<PartitionPlacement>, rf: u32) -> Topic {
        Topic {
            key: TopicKey::global("orders"),
            owner: "alice".into(),
            admins: BTreeSet::new(),
            partitions,
            replication_factor: rf,
            page_size: 100,
            audited: false,
            retention_ms: 0,
            retention_bytes: 0,
            created_at_ms: 0,
        }
    }

    #[test]
    fn topic_names() {
        for ok in ["orders", "a", "A-b_c.9", "..x", &"x".repeat(200)] {
            assert!(validate_topic_name(ok).is_ok(), "{ok:?} should be valid");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "a b", "ü", "a:b", &"x".repeat(201)] {
            assert!(
                matches!(validate_topic_name(bad), Err(ModelError::InvalidTopicName { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn local_keys_of_different_owners_differ() {
        assert_ne!(TopicKey::local("alice", "notes"), TopicKey::local("bob", "notes"));
        assert_ne!(TopicKey::local("alice", "notes"), TopicKey::global("notes"));
        assert_eq!(TopicKey::local("alice", "notes").local_owner(), Some("alice"));
        assert_eq!(TopicKey::global("notes").local_owner(), None);
    }

    #[test]
    fn well_formed_topic_passes() {
        let t = topic(vec![placement(0, 1, &[1, 2]), placement(1, 2, &[2, 3])], 2);
        assert!(t.check_shape().is_ok());
        assert_eq!(t.group_ids().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(t.partitions[1].leader(), Some(2));
    }

    #[test]
    fn malformed_topics_are_rejected() {
        let cases = [
            ("no partitions", topic(vec![], 1)),
            ("rf 0", topic(vec![placement(0, 1, &[])], 0)),
            ("rf mismatch", topic(vec![placement(0, 1, &[1, 2])], 3)),
            ("duplicate replica", topic(vec![placement(0, 1, &[1, 1])], 2)),
            ("group 0", topic(vec![placement(0, 0, &[1])], 1)),
            ("shared group", topic(vec![placement(0, 4, &[1]), placement(1, 4, &[2])], 1)),
            ("misnumbered", topic(vec![placement(1, 4, &[1])], 1)),
        ];
        for (what, t) in cases {
            assert!(matches!(t.check_shape(), Err(ModelError::InvalidTopic { .. })), "{what}");
        }
        let mut t = topic(vec![placement(0, 1, &[1])], 1);
        t.key.name = "../etc".into();
        assert!(matches!(t.check_shape(), Err(ModelError::InvalidTopicName { .. })));
    }
}
