//! The JSON protocol spoken with browsers and apps over WebSocket: the
//! frames, their validation and their error codes, with no IO.
//!
//! It exists as its own pure module so the contract with clients (written
//! outside this repository, against `/v1/ws`) is defined in one place that
//! can be tested exhaustively without a socket, and so the connection code
//! only ever sees validated, typed requests.
//!
//! ```text
//!  text frame ──parse_request──> Request { meta, body }      ──> session logic
//!                    └─ Err(ProtocolError) ──to_reply──> Error frame (requestId echoed)
//!  session logic ──> Response ──reply_to(requestId)──> Reply ──to_frame──> text frame
//!                            └──────────────── to_frame (pushes) ────────┘
//! ```
//!
//! The reference for humans is `client-gateway/docs/protocol.md`; the one
//! for machines is `client-gateway/schema/protocol.schema.json`. Tests keep
//! both in step with the kinds known here.

mod code;
mod error;
mod kind;
pub mod limits;
mod request;
mod response;
mod text;
mod timestamp;
mod topic;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod samples;
#[cfg(test)]
mod schema_tests;

pub use code::ErrorCode;
pub use error::{FrameError, ProtocolError};
pub use kind::{RequestKind, ResponseKind};
pub use request::{
    parse_request, AuditRange, BeginTransaction, Commit, CommitTarget, CreateTopic, Isolation, Login, Messages,
    NewMessage, Publish, Reader, Request, RequestBody, RequestMeta, Subscribe, TopicRef, TransactionRef, Unsubscribe,
};
pub use response::{
    AuditEntry, AuditProof, BackupMap, Checkpoint, Committed, EndReason, ErrorReply, LoggedOut, Message,
    PartitionOffsets, PartitionPlacement, PartitionRange, PublishOutcome, Published, Reply, Response, ServiceMap,
    Services, Session, Subscribed, SubscriptionEnd, SubscriptionInfo, SubscriptionList, TopicCreated, TopicDeleted,
    TopicInfo, TopicList, TransactionBegun, TransactionCommitted, TransactionRolledBack, Unsubscribed,
    AUDIT_HASH_VERSION,
};
pub use text::{RequestId, TextError, Token};
pub use timestamp::{Timestamp, TimestampError};
pub use topic::{Scope, TopicName};
