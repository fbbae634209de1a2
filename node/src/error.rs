//! Errors of the node's services, and how callers see them.
//!
//! Every error that leaves the node is a gRPC status whose details hold a
//! `zya.node.v1.ErrorDetail` with a stable code, so gateways can follow a
//! leader change (`NOT_LEADER` names the leader) or retry (`UNAVAILABLE`,
//! `TIMEOUT`) without parsing messages.

use prost::Message;
use zya_proto::node::error_detail::Code;
use zya_proto::node::ErrorDetail;

use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("not the leader of group {group}")]
    NotLeader { group: u64, leader_id: Option<u64>, leader_addr: Option<String> },
    #[error("group {group} is not hosted on this node")]
    GroupNotFound { group: u64 },
    #[error("group {group} already exists with a different configuration")]
    GroupExists { group: u64 },
    #[error("not committed within {timeout_ms} ms; the outcome is unknown")]
    Timeout { timeout_ms: u64 },
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("bad request: {reason}")]
    BadRequest { reason: String },
    #[error("offset out of range: {reason}")]
    OffsetOutOfRange { reason: String },
    #[error("node is shutting down")]
    ShuttingDown,
    #[error("storage")]
    Store(#[from] StoreError),
    #[error("raft: {0}")]
    Raft(String),
}

impl NodeError {
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::BadRequest { reason: reason.into() }
    }

    /// A copy for answering several callers with one error (storage errors
    /// keep their text only).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::NotLeader { group, leader_id, leader_addr } => {
                Self::NotLeader { group: *group, leader_id: *leader_id, leader_addr: leader_addr.clone() }
            }
            Self::GroupNotFound { group } => Self::GroupNotFound { group: *group },
            Self::GroupExists { group } => Self::GroupExists { group: *group },
            Self::Timeout { timeout_ms } => Self::Timeout { timeout_ms: *timeout_ms },
            Self::Unavailable { reason } => Self::Unavailable { reason: reason.clone() },
            Self::BadRequest { reason } => Self::BadRequest { reason: reason.clone() },
            Self::OffsetOutOfRange { reason } => Self::OffsetOutOfRange { reason: reason.clone() },
            Self::ShuttingDown => Self::ShuttingDown,
            Self::Store(e) => Self::Raft(format!("storage: {e}")),
            Self::Raft(r) => Self::Raft(r.clone()),
        }
    }

    fn code(&self) -> (Code, tonic::Code) {
        match self {
            Self::NotLeader { .. } => (Code::NotLeader, tonic::Code::FailedPrecondition),
            Self::GroupNotFound { .. } => (Code::GroupNotFound, tonic::Code::NotFound),
            Self::GroupExists { .. } => (Code::GroupExists, tonic::Code::AlreadyExists),
            Self::Timeout { .. } => (Code::Timeout, tonic::Code::DeadlineExceeded),
            Self::Unavailable { .. } => (Code::Unavailable, tonic::Code::Unavailable),
            Self::BadRequest { .. } => (Code::BadRequest, tonic::Code::InvalidArgument),
            Self::OffsetOutOfRange { .. } => (Code::OffsetOutOfRange, tonic::Code::OutOfRange),
            Self::ShuttingDown => (Code::ShuttingDown, tonic::Code::Unavailable),
            Self::Store(_) | Self::Raft(_) => (Code::Internal, tonic::Code::Internal),
        }
    }
}

impl From<NodeError> for tonic::Status {
    fn from(e: NodeError) -> Self {
        let (code, grpc) = e.code();
        if matches!(code, Code::Internal) {
            tracing::error!(error = ?e, "internal error answered to a caller");
        }
        let (leader_id, leader_addr) = match &e {
            NodeError::NotLeader { leader_id, leader_addr, .. } => (*leader_id, leader_addr.clone()),
            _ => (None, None),
        };
        let message = match &e {
            NodeError::Store(inner) => format!("storage: {inner}"),
            other => other.to_string(),
        };
        let detail = ErrorDetail { code: code as i32, message: message.clone(), leader_id, leader_addr };
        tonic::Status::with_details(grpc, message, detail.encode_to_vec().into())
    }
}
