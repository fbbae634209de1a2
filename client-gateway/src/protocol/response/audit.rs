//! `AuditProof`: everything a client needs to verify a range of an audited
//! partition by itself, without trusting the gateway.
//!
//! Hash encoding, version [`AUDIT_HASH_VERSION`] (also in
//! `docs/protocol.md`): for each message,
//!
//! ```text
//! hash = SHA-256( prev_hash[32 bytes]
//!               ‖ u32be(partition) ‖ u64be(offset)
//!               ‖ str(qtopic) ‖ str(messageId) ‖ str(userName) ‖ str(device)
//!               ‖ str(timestamp) ‖ str(appendedAt)
//!               ‖ key: 0x00 if absent, else 0x01 ‖ str(key)
//!               ‖ str(messagePayload) )
//! str(s)    = u32be(byte length of s) ‖ UTF-8 bytes of s
//! prev_hash = the hash of offset − 1, or 32 zero bytes at offset 0
//! qtopic    = "global:" ‖ topic, or "local:" ‖ owner ‖ ":" ‖ topic
//! ```
//!
//! Lengths make the encoding unambiguous; every field a reader sees is
//! covered, so changing any stored byte changes the hash. The chain's head
//! is signed in periodic checkpoints.

use serde::{Deserialize, Serialize};

use crate::protocol::timestamp::Timestamp;
use crate::protocol::topic::{Scope, TopicName};

/// The hash encoding the proof follows (see the module docs).
pub const AUDIT_HASH_VERSION: u32 = 1;

/// `AuditProof`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditProof {
    pub topic: TopicName,
    pub scope: Scope,
    pub partition: u32,
    pub from: u64,
    pub to: u64,
    /// The encoding version ([`AUDIT_HASH_VERSION`]).
    pub hash_version: u32,
    /// Hex hash of offset `from − 1` (64 zeros when `from` is 0).
    pub previous_hash: String,
    /// The messages from `from` through the checkpoint's offset, in order
    /// (so possibly past `to`, to reach a signed hash).
    pub entries: Vec<AuditEntry>,
    /// The signed checkpoint the entries lead to; `null` when none covers
    /// the range yet.
    pub checkpoint: Option<Checkpoint>,
}

/// One message as hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub offset: u64,
    pub message_id: String,
    pub user_name: String,
    pub device: String,
    pub timestamp: Timestamp,
    pub appended_at: Timestamp,
    /// `null` when the publisher gave none.
    pub key: Option<String>,
    pub message_payload: String,
    /// Hex SHA-256, as in the message's `hash`.
    pub hash: String,
}

/// A signed statement "the chain of this partition had `hash` at `offset`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub offset: u64,
    pub hash: String,
    pub signed_at: Timestamp,
    /// The key id of the signer, published with the cluster's keys.
    pub signer: String,
    /// The signature algorithm, e.g. `ed25519`.
    pub algorithm: String,
    /// Hex signature over the UTF-8 of
    /// `"zya-audit-v1\n{qtopic}\n{partition}\n{offset}\n{hash}"` (`qtopic`
    /// as in the module docs).
    pub signature: String,
}
