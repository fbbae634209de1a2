//! The body of an `Error` frame.
//!
//! Clients branch on `code` (stable, see [`ErrorCode`]); `message` is for
//! people and may change wording at any time.

use serde::{Deserialize, Serialize};

use crate::protocol::code::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: ErrorCode,
    /// Human-readable reason.
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
