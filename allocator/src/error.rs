//! Errors of the catalogue service, and how callers see them: a gRPC status
//! whose details hold a `CatalogueErrorDetail` with a stable code.

use prost::Message;
use zya_proto::catalogue::catalogue_error_detail::Code;
use zya_proto::catalogue::CatalogueErrorDetail;

use crate::catalogue::command::Rejection;
use crate::placement::PlacementError;

#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error("not the catalogue leader")]
    NotLeader { leader_addr: Option<String> },
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Placement(#[from] PlacementError),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("raft: {0}")]
    Raft(String),
}

impl From<AllocError> for tonic::Status {
    fn from(e: AllocError) -> Self {
        let (code, grpc) = match &e {
            AllocError::NotLeader { .. } => (Code::NotLeader, tonic::Code::FailedPrecondition),
            AllocError::Rejected(r) => match r {
                Rejection::TopicExists { .. } => (Code::TopicExists, tonic::Code::AlreadyExists),
                Rejection::TopicNotFound { .. } => (Code::TopicNotFound, tonic::Code::NotFound),
                Rejection::NotAuthorized { .. } => (Code::NotAuthorized, tonic::Code::PermissionDenied),
                _ => (Code::BadRequest, tonic::Code::InvalidArgument),
            },
            AllocError::Placement(PlacementError::NotEnoughNodes { .. }) => {
                (Code::NotEnoughNodes, tonic::Code::ResourceExhausted)
            }
            AllocError::Placement(_) | AllocError::BadRequest(_) => (Code::BadRequest, tonic::Code::InvalidArgument),
            AllocError::Unavailable(_) => (Code::Unavailable, tonic::Code::Unavailable),
            AllocError::Raft(_) => (Code::Internal, tonic::Code::Internal),
        };
        if code == Code::Internal {
            tracing::error!(error = %e, "internal error answered to a caller");
        }
        let leader_addr = match &e {
            AllocError::NotLeader { leader_addr } => leader_addr.clone(),
            _ => None,
        };
        let message = e.to_string();
        let detail = CatalogueErrorDetail { code: code as i32, message: message.clone(), leader_addr };
        tonic::Status::with_details(grpc, message, detail.encode_to_vec().into())
    }
}
