//! The violations of Zya's promises that the checker can prove from a history.
//!
//! Each variant is one kind from `reliability.md` (modelled on Jepsen's Kafka
//! workload) with the facts needed to find it again in the history. Kinds are
//! a separate enum so a report can list every kind, including those with no
//! findings, and so tests can ask "exactly this kind, nothing else".

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::evidence::{CommitSource, Placement, Sighting, Source};

/// The kinds of anomaly, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    InconsistentOffset,
    Duplicate,
    LostWrite,
    FailedVisible,
    NonMonotonic,
    Skip,
    LostCommit,
    CommitBeyondLog,
    LostDelivery,
    ReplicaDivergence,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 10] = [
        AnomalyKind::InconsistentOffset,
        AnomalyKind::Duplicate,
        AnomalyKind::LostWrite,
        AnomalyKind::FailedVisible,
        AnomalyKind::NonMonotonic,
        AnomalyKind::Skip,
        AnomalyKind::LostCommit,
        AnomalyKind::CommitBeyondLog,
        AnomalyKind::LostDelivery,
        AnomalyKind::ReplicaDivergence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::InconsistentOffset => "inconsistent-offset",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::FailedVisible => "failed-visible",
            AnomalyKind::NonMonotonic => "nonmonotonic",
            AnomalyKind::Skip => "skip",
            AnomalyKind::LostCommit => "lost-commit",
            AnomalyKind::CommitBeyondLog => "commit-beyond-log",
            AnomalyKind::LostDelivery => "lost-delivery",
            AnomalyKind::ReplicaDivergence => "replica-divergence",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation found in a history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    /// One offset was seen holding different messages.
    InconsistentOffset {
        topic: String,
        partition: u32,
        offset: u64,
        /// One sighting per distinct message id (the first one seen).
        values: Vec<Sighting>,
    },
    /// One message id was seen at several positions of a topic.
    Duplicate {
        topic: String,
        message_id: String,
        /// One placement per distinct position (the first one seen).
        positions: Vec<Placement>,
    },
    /// An acknowledged message is missing from a read that covered its offset,
    /// or (`unseen`) from every replica's final read.
    LostWrite {
        topic: String,
        partition: u32,
        offset: u64,
        message_id: String,
        acked_at_ms: u64,
        /// Absent from the union of the partition's final reads.
        unseen: bool,
        /// The first read whose range covered the offset but lacked the message.
        missing_from: Option<Source>,
    },
    /// A publish that definitely failed (and was never retried with another
    /// outcome) is visible.
    FailedVisible { topic: String, message_id: String, failed_at_ms: u64, reason: String, seen_at: Placement },
    /// A subscription was given an offset at or below one it already had,
    /// without the redelivery flag.
    NonMonotonic {
        subscription: u64,
        topic: String,
        partition: u32,
        /// The highest offset delivered to the subscription before.
        previous: u64,
        offset: u64,
        at_ms: u64,
    },
    /// A subscription jumped over offsets that exist.
    Skip {
        subscription: u64,
        topic: String,
        partition: u32,
        /// The highest offset delivered before; `None` for the first delivery.
        previous: Option<u64>,
        offset: u64,
        first_skipped: u64,
        /// How many existing offsets were jumped over.
        skipped: u64,
        at_ms: u64,
    },
    /// A committed offset was read back lower than one acknowledged earlier.
    LostCommit {
        group: String,
        topic: String,
        partition: u32,
        acked: u64,
        acked_at_ms: u64,
        read: u64,
        read_at_ms: u64,
    },
    /// A committed offset points past the end of the partition's log.
    CommitBeyondLog {
        group: String,
        topic: String,
        partition: u32,
        committed_offset: u64,
        log_end: u64,
        source: CommitSource,
        at_ms: u64,
    },
    /// An existing offset the group should have consumed was never delivered.
    LostDelivery { group: String, topic: String, partition: u32, offset: u64, drained_end: u64, drained_at_ms: u64 },
    /// A replica's final read disagrees with the acks or the other replicas.
    ReplicaDivergence {
        topic: String,
        partition: u32,
        replica: String,
        offset: u64,
        expected: String,
        /// `None`: the replica holds nothing at this offset.
        found: Option<String>,
    },
}

impl Anomaly {
    pub fn kind(&self) -> AnomalyKind {
        match self {
            Anomaly::InconsistentOffset { .. } => AnomalyKind::InconsistentOffset,
            Anomaly::Duplicate { .. } => AnomalyKind::Duplicate,
            Anomaly::LostWrite { .. } => AnomalyKind::LostWrite,
            Anomaly::FailedVisible { .. } => AnomalyKind::FailedVisible,
            Anomaly::NonMonotonic { .. } => AnomalyKind::NonMonotonic,
            Anomaly::Skip { .. } => AnomalyKind::Skip,
            Anomaly::LostCommit { .. } => AnomalyKind::LostCommit,
            Anomaly::CommitBeyondLog { .. } => AnomalyKind::CommitBeyondLog,
            Anomaly::LostDelivery { .. } => AnomalyKind::LostDelivery,
            Anomaly::ReplicaDivergence { .. } => AnomalyKind::ReplicaDivergence,
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::InconsistentOffset {
                topic,
                partition,
                offset,
                values,
            } => write!(f, "{topic}/{partition}@{offset} holds {}", join(values)),
            Anomaly::Duplicate {
                topic,
                message_id,
                positions,
            } => write!(f, "{topic}: {message_id} at {}", join(positions)),
            Anomaly::LostWrite {
                topic,
                partition,
                offset,
                message_id,
                acked_at_ms,
                unseen,
                missing_from,
            } => {
                write!(
                    f,
                    "{topic}/{partition}@{offset}: {message_id} acknowledged at {acked_at_ms}ms"
                )?;
                if let Some(source) = missing_from {
                    write!(f, ", missing from {source}")?;
                }
                if *unseen {
                    write!(f, ", absent from every final read")?;
                }
                Ok(())
            }
            Anomaly::FailedVisible {
                topic,
                message_id,
                failed_at_ms,
                reason,
                seen_at,
            } => write!(
                f,
                "{topic}: {message_id} failed at {failed_at_ms}ms ({reason}) but seen at {seen_at}"
            ),
            Anomaly::NonMonotonic {
                subscription,
                topic,
                partition,
                previous,
                offset,
                at_ms,
            } => write!(
                f,
                "subscription {subscription} on {topic}/{partition}: offset {offset} after {previous} at {at_ms}ms"
            ),
            Anomaly::Skip {
                subscription,
                topic,
                partition,
                previous,
                offset,
                first_skipped,
                skipped,
                at_ms,
            } => {
                let previous = previous.map_or_else(|| "its start".to_owned(), |p| p.to_string());
                write!(
                    f,
                    "subscription {subscription} on {topic}/{partition}: offset {offset} after {previous} at {at_ms}ms skips {skipped} offset(s) from {first_skipped}"
                )
            }
            Anomaly::LostCommit {
                group,
                topic,
                partition,
                acked,
                acked_at_ms,
                read,
                read_at_ms,
            } => write!(
                f,
                "group {group} on {topic}/{partition}: read {read} at {read_at_ms}ms after {acked} was acknowledged at {acked_at_ms}ms"
            ),
            Anomaly::CommitBeyondLog {
                group,
                topic,
                partition,
                committed_offset,
                log_end,
                source,
                at_ms,
            } => write!(
                f,
                "group {group} on {topic}/{partition}: {source} offset {committed_offset} at {at_ms}ms, log ends at {log_end}"
            ),
            Anomaly::LostDelivery {
                group,
                topic,
                partition,
                offset,
                drained_end,
                drained_at_ms,
            } => write!(
                f,
                "group {group} on {topic}/{partition}: offset {offset} never delivered (drained to {drained_end} at {drained_at_ms}ms)"
            ),
            Anomaly::ReplicaDivergence {
                topic,
                partition,
                replica,
                offset,
                expected,
                found,
            } => write!(
                f,
                "{topic}/{partition}@{offset} on replica {replica}: expected {expected}, found {}",
                found.as_deref().unwrap_or("nothing")
            ),
        }
    }
}
