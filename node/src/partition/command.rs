//! Commands replicated through a partition's Raft log, and their responses.
//!
//! A command is decided by the leader (it stamps `appended_at_ms`, it
//! computes retention cut-offs) and applied identically by every replica, so
//! nothing in `apply` may read a clock or a random source.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::deliveries::DeliveryRange;

/// A message as a publisher sent it, before it has an offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    pub message_id: String,
    /// As bytes, not a sequence of u8: bincode then copies the payload in
    /// one go instead of visiting each byte (the same encoding, so stored
    /// entries read either way; the per-byte visit was the node's largest
    /// own symbol in a profile of pipelined publishing).
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub key: Option<String>,
    pub user: String,
    pub device: String,
    pub timestamp: String,
}

/// Which offsets a consumer commit covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommitPosition {
    UpTo(u64),
    One(u64),
}

/// Stored in the Raft log with bincode, which identifies a variant by its
/// index: add variants at the end only, never reorder or remove them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Append messages at the next offsets; ids already present are not
    /// appended again.
    ///
    /// The messages are shared, not owned: the leader's log store keeps the
    /// entry for applying and hands clones to each follower's replication,
    /// and a clone must not copy every message. (Encoded as the `Vec` it
    /// wraps, so stored entries read either way.)
    Append { messages: Arc<Vec<NewMessage>>, appended_at_ms: i64 },
    /// Record a consumer group's commit.
    CommitOffset { consumer: String, position: CommitPosition },
    /// Delete every message below `before_offset` (retention).
    Trim { before_offset: u64 },
    /// Count one more delivery to a consumer group of the uncommitted
    /// offsets in `[from, end)`.
    MarkDelivered { consumer: String, from: u64, end: u64 },
}

/// What openraft prints of an entry in its logs: the kind and size, never
/// the payloads.
impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Append { messages, .. } => write!(f, "append({} messages)", messages.len()),
            Command::CommitOffset { consumer, position } => write!(f, "commit({consumer}, {position:?})"),
            Command::Trim { before_offset } => write!(f, "trim(before {before_offset})"),
            Command::MarkDelivered { consumer, from, end } => write!(f, "mark_delivered({consumer}, [{from}, {end}))"),
        }
    }
}

/// Where one appended message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub offset: u64,
    /// The id was already in the partition; `offset` is the original one.
    pub duplicate: bool,
}

/// Why a command was applied as a no-op. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("offset {offset} is past the end of the log ({next_offset})")]
    OffsetBeyondLog { offset: u64, next_offset: u64 },
    #[error("too many single commits pending above the committed offset")]
    TooManyPendingCommits,
    #[error("offsets [{from}, {end}) are empty or wider than {max}")]
    BadRange { from: u64, end: u64, max: u64 },
}

/// Variants are added at the end only, like [`Command`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CommandResponse {
    /// Membership changes and blank entries.
    #[default]
    None,
    Appended(Vec<AppendOutcome>),
    Committed {
        committed_offset: u64,
    },
    Trimmed {
        first_offset: u64,
    },
    Rejected(Rejection),
    /// Counts of the uncommitted offsets of a mark, after it.
    Delivered {
        counts: Vec<DeliveryRange>,
        committed_offset: u64,
    },
}
