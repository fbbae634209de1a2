//! A request's failure as the client will see it: a protocol error code and
//! a message for people. Every backend error is mapped here, in one place,
//! so the codes clients branch on stay consistent across request kinds.

use zya_client::catalogue_pb::catalogue_error_detail::Code as CatCode;
use zya_client::{CatalogueError, ClientError, RejectCode};

use crate::protocol::{ErrorCode, ErrorReply, Response};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn into_response(self) -> Response {
        Response::Error(ErrorReply { code: self.code, message: self.message })
    }
}

impl From<CatalogueError> for Failure {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::Unavailable { last } => {
                Failure::new(ErrorCode::Unavailable, format!("catalogue unavailable: {last}"))
            }
            CatalogueError::Refused { code, message } => {
                let code = match code {
                    CatCode::TopicExists => ErrorCode::TopicExists,
                    CatCode::TopicNotFound => ErrorCode::TopicNotFound,
                    CatCode::NotAuthorized => ErrorCode::NotAuthorized,
                    CatCode::BadRequest => ErrorCode::BadRequest,
                    CatCode::Timeout => ErrorCode::Timeout,
                    CatCode::Unavailable | CatCode::NotEnoughNodes | CatCode::NotLeader => ErrorCode::Unavailable,
                    CatCode::Internal | CatCode::Unspecified => ErrorCode::Internal,
                };
                Failure::new(code, message)
            }
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        let code = match e {
            ClientError::Unavailable { .. } | ClientError::BadAddress { .. } => ErrorCode::Unavailable,
            ClientError::Timeout { .. } => ErrorCode::Timeout,
            ClientError::Rejected { code, .. } => match code {
                RejectCode::BadRequest | RejectCode::OffsetOutOfRange => ErrorCode::BadRequest,
                RejectCode::GroupNotFound => ErrorCode::TopicNotFound,
                RejectCode::GroupExists | RejectCode::Internal => ErrorCode::Internal,
            },
        };
        Failure::new(code, message)
    }
}
