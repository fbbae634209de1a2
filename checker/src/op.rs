//! The operations a chaos test records, one per completed client action.
//!
//! These are the checker's input vocabulary. They are deliberately flat and
//! JSON-friendly (`{"op":"publish",...}`) so that a failing run can be saved as
//! JSON lines, read by a person, and re-checked later. Every operation is
//! recorded when it *completes*, carrying its outcome; the checker never needs
//! the invocation time.

use serde::{Deserialize, Serialize};

/// One client operation with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// One publish attempt. Retries of one message reuse its `message_id`.
    Publish { topic: String, message_id: String, outcome: PublishOutcome },
    /// A range read that observed the whole range `[from, to)` of a partition.
    ///
    /// `to` must not exceed what the server said exists: an offset of the range
    /// that is missing from `entries` is taken as "observed to hold nothing".
    Read {
        topic: String,
        partition: u32,
        from: u64,
        /// Exclusive.
        to: u64,
        /// `(offset, message_id)` pairs.
        entries: Vec<(u64, String)>,
    },
    /// The server confirmed a subscription; deliveries refer to it by id.
    Subscribe {
        /// Unique per run; assigned by the test.
        subscription: u64,
        group: String,
        topic: String,
        partition: u32,
        /// The first offset the server will deliver.
        start_offset: u64,
        /// Whether `start_offset` is the group's committed offset (a resume)
        /// rather than an explicit position.
        from_committed: bool,
    },
    /// A message delivered to a subscription.
    Deliver {
        subscription: u64,
        topic: String,
        partition: u32,
        offset: u64,
        message_id: String,
        /// The server marked this as a repeat of an earlier delivery.
        redelivered: bool,
    },
    /// The server confirmed a commit.
    CommitAck {
        group: String,
        topic: String,
        partition: u32,
        /// The lowest offset not yet committed.
        committed_offset: u64,
    },
    /// A committed offset read back, e.g. after a reconnect.
    CommitRead { group: String, topic: String, partition: u32, committed_offset: u64 },
    /// The test finished consuming this group's partition up to `end_offset`
    /// (exclusive): every existing offset below it should have been delivered.
    Drained { group: String, topic: String, partition: u32, end_offset: u64 },
    /// The full read from offset 0 of one replica after healing.
    FinalRead {
        topic: String,
        partition: u32,
        replica: String,
        /// `(offset, message_id)` pairs.
        entries: Vec<(u64, String)>,
    },
    /// A fault was injected (marker for the report only).
    Fault { description: String },
    /// All faults were healed (marker for the report only).
    Healed,
}

/// What a publish attempt learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PublishOutcome {
    /// Acknowledged: written at this position and durable.
    Ok { partition: u32, offset: u64 },
    /// A definite failure: this attempt wrote nothing.
    Fail { reason: String },
    /// Timeout, lost connection, ...: may or may not have been written.
    Unknown,
}
