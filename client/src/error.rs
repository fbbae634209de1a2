//! Errors a caller of the storage nodes sees.

use prost::Message;
use zya_proto::node::error_detail::Code;
use zya_proto::node::ErrorDetail;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// No replica could serve the request before the deadline (no leader, no
    /// quorum, or every replica unreachable). Nothing was acknowledged.
    #[error("partition unavailable: {last}")]
    Unavailable { last: String },
    /// A write was sent but not acknowledged in time: it may or may not be
    /// applied. Retrying with the same message ids is safe.
    #[error("timed out; outcome unknown: {last}")]
    Timeout { last: String },
    #[error("rejected: {message}")]
    Rejected { code: RejectCode, message: String },
    #[error("bad node address {addr}: {reason}")]
    BadAddress { addr: String, reason: String },
}

/// Definite refusals: retrying the same request cannot succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    BadRequest,
    GroupNotFound,
    GroupExists,
    OffsetOutOfRange,
    Internal,
}

/// What to do after a failed call to one replica.
pub(crate) enum Next {
    /// Try this leader next.
    Leader(Option<String>),
    /// Try another replica after a pause.
    Retry(String),
    /// The request was sent and may have been applied: keep retrying but
    /// remember the outcome is unknown.
    RetryUnknown(String),
    Fail(ClientError),
}

pub(crate) fn classify(status: &tonic::Status) -> Next {
    let detail = error_detail(status);
    let text = format!("{}: {}", status.code(), status.message());
    let Some(d) = detail else {
        return match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => Next::Retry(text),
            tonic::Code::DeadlineExceeded => Next::RetryUnknown(text),
            _ => Next::RetryUnknown(text),
        };
    };
    match Code::try_from(d.code).unwrap_or(Code::Internal) {
        Code::NotLeader => Next::Leader(d.leader_addr),
        Code::Unavailable | Code::ShuttingDown | Code::GroupNotFound => Next::Retry(d.message),
        Code::Timeout => Next::RetryUnknown(d.message),
        Code::BadRequest => Next::Fail(ClientError::Rejected { code: RejectCode::BadRequest, message: d.message }),
        Code::GroupExists => Next::Fail(ClientError::Rejected { code: RejectCode::GroupExists, message: d.message }),
        Code::OffsetOutOfRange => {
            Next::Fail(ClientError::Rejected { code: RejectCode::OffsetOutOfRange, message: d.message })
        }
        Code::Internal | Code::Unspecified => {
            Next::Fail(ClientError::Rejected { code: RejectCode::Internal, message: d.message })
        }
    }
}

/// Decodes the `ErrorDetail` of a status returned by a node, if it has one.
pub fn error_detail(status: &tonic::Status) -> Option<ErrorDetail> {
    ErrorDetail::decode(status.details()).ok().filter(|d| d.code != 0)
}
