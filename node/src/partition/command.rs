//! Commands replicated through a partition's Raft log, and their responses.
//!
//! A command is decided by the leader (it stamps `appended_at_ms`, it
//! computes retention cut-offs) and applied identically by every replica, so
//! nothing in `apply` may read a clock or a random source.

use serde::{Deserialize, Serialize};

/// A message as a publisher sent it, before it has an offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    pub message_id: String,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Append messages at the next offsets; ids already present are not
    /// appended again.
    Append { messages: Vec<NewMessage>, appended_at_ms: i64 },
    /// Record a consumer group's commit.
    CommitOffset { consumer: String, position: CommitPosition },
    /// Delete every message below `before_offset` (retention).
    Trim { before_offset: u64 },
}

/// Where one appended message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub offset: u64,
    /// The id was already in the partition; `offset` is the original one.
    pub duplicate: bool,
}

/// Why a command was applied as a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("offset {offset} is past the end of the log ({next_offset})")]
    OffsetBeyondLog { offset: u64, next_offset: u64 },
    #[error("too many single commits pending above the committed offset")]
    TooManyPendingCommits,
}

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
}
