//! Why a frame was refused, and which `Error` reply that earns.
//!
//! [`parse_request`](super::parse_request) never panics: every way a frame
//! can be wrong is a [`FrameError`] variant, each mapped to a stable
//! [`ErrorCode`]. The [`ProtocolError`] also carries the frame's `requestId`
//! when it could be read, so the `Error` reply is correlated even when the
//! rest of the frame is bad. The connection stays open after either.

use super::code::ErrorCode;
use super::limits::MAX_QUOTED_CHARS;
use super::response::{ErrorReply, Reply, Response};
use super::text::{RequestId, TextError};
use super::timestamp::TimestampError;

/// A frame that could not be turned into a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct ProtocolError {
    /// The frame's `requestId`, if it was present and valid.
    pub request_id: Option<RequestId>,
    pub reason: FrameError,
}

impl ProtocolError {
    pub fn new(request_id: Option<RequestId>, reason: FrameError) -> Self {
        Self { request_id, reason }
    }

    /// The code the `Error` reply carries.
    pub fn code(&self) -> ErrorCode {
        self.reason.code()
    }

    /// The `Error` frame to send back (echoing `requestId`).
    pub fn to_reply(&self) -> Reply {
        let error = ErrorReply { code: self.code(), message: self.reason.to_string() };
        Response::Error(error).reply_to(self.request_id.clone())
    }
}

/// Everything that can be wrong with a request frame. Field names in the
/// variants are JSON paths such as `messages[2].messageId`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not valid JSON: {0}")]
    Json(String),
    #[error("frame must be a JSON object, got {found}")]
    NotAnObject { found: &'static str },
    #[error("unknown kind {0:?}")]
    UnknownKind(String),
    #[error("missing field `{field}`")]
    MissingField { field: String },
    #[error("field `{field}` must be {expected}")]
    WrongType { field: String, expected: &'static str },
    #[error("field `{field}` must be {expected}")]
    OutOfRange { field: String, expected: String },
    #[error("field `{field}` {source}")]
    Text {
        field: String,
        #[source]
        source: TextError,
    },
    #[error("field `{field}` {source}")]
    Timestamp {
        field: String,
        #[source]
        source: TimestampError,
    },
    #[error("field `{field}` must be one of {allowed}, got {got:?}")]
    NotOneOf { field: String, allowed: &'static str, got: String },
    /// Fields present together that exclude each other, or none of a set
    /// of which one is needed.
    #[error("{0}")]
    Shape(&'static str),
    #[error("Login needs a `token`")]
    MissingToken,
    #[error("field `token` must be a string")]
    TokenNotAString,
}

impl FrameError {
    /// The stable code of the `Error` reply.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::MissingToken | FrameError::TokenNotAString => ErrorCode::InvalidAuthorization,
            _ => ErrorCode::BadRequest,
        }
    }
}

/// Client input shortened for quoting in an error message.
pub(crate) fn quote(s: &str) -> String {
    let mut shown: String = s.chars().take(MAX_QUOTED_CHARS).collect();
    if shown.len() < s.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_problems_are_authorization_errors() {
        assert_eq!(FrameError::MissingToken.code(), ErrorCode::InvalidAuthorization);
        assert_eq!(FrameError::TokenNotAString.code(), ErrorCode::InvalidAuthorization);
        assert_eq!(FrameError::UnknownKind("x".into()).code(), ErrorCode::BadRequest);
        assert_eq!(FrameError::Json("eof".into()).code(), ErrorCode::BadRequest);
    }

    #[test]
    fn the_reply_echoes_the_request_id_and_explains() {
        let id = RequestId::new("r-1").expect("valid");
        let err = ProtocolError::new(Some(id), FrameError::MissingField { field: "topic".into() });
        let frame: serde_json::Value = serde_json::from_str(&err.to_reply().to_frame()).expect("json");
        assert_eq!(
            frame,
            serde_json::json!({"kind":"Error","requestId":"r-1","code":"BadRequest","message":"missing field `topic`"})
        );
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("abc"), "abc");
        let long = "é".repeat(1000);
        assert_eq!(quote(&long).chars().count(), MAX_QUOTED_CHARS + 1);
    }
}
