//! Where an anomaly's facts came from, so a report points back at the history.
//!
//! An anomaly is only useful if someone can find the operations behind it in a
//! saved history; these small types name those operations by time and client.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The operation that made an observation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// An acknowledged publish.
    Publish { at_ms: u64, process: u64 },
    /// A range read.
    Read { at_ms: u64, process: u64 },
    /// A delivery to a subscription.
    Deliver { at_ms: u64, subscription: u64 },
    /// One replica's final full read.
    FinalRead { replica: String },
}

/// A message id seen at some position, and who saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sighting {
    pub message_id: String,
    pub source: Source,
}

/// A position a message was seen at, and who saw it there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    pub partition: u32,
    pub offset: u64,
    pub source: Source,
}

/// Which kind of operation reported a committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitSource {
    Ack,
    Read,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Publish { at_ms, process } => {
                write!(f, "publish ack at {at_ms}ms by process {process}")
            }
            Source::Read { at_ms, process } => write!(f, "read at {at_ms}ms by process {process}"),
            Source::Deliver { at_ms, subscription } => {
                write!(f, "delivery at {at_ms}ms to subscription {subscription}")
            }
            Source::FinalRead { replica } => write!(f, "final read of replica {replica}"),
        }
    }
}

impl fmt::Display for Sighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message_id, self.source)
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({})", self.partition, self.offset, self.source)
    }
}

impl fmt::Display for CommitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommitSource::Ack => "acknowledged",
            CommitSource::Read => "read back",
        })
    }
}
