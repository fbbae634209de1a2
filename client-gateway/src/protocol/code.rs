//! The error codes clients see in `Error` frames.
//!
//! Clients outside this repository branch on these strings, so they are
//! stable: a code is never renamed, removed or reused for another meaning.
//! New codes may be added (a client treats an unknown code like `Internal`).

use serde::{Deserialize, Serialize};

use super::kind::wire_names;

wire_names! {
    /// The `code` of an `Error` frame; the variant name is the wire string.
    #[derive(Serialize, Deserialize)]
    pub enum ErrorCode {
        /// Malformed JSON, a missing or wrong-typed field, an unknown kind,
        /// a value out of range.
        BadRequest,
        /// A request other than `Handshake` or `Login` before `Login`.
        NotLoggedIn,
        /// A bad, expired or missing token.
        InvalidAuthorization,
        /// Authenticated but lacking the right (or `userName` not the session's).
        NotAuthorized,
        TopicExists,
        TopicNotFound,
        /// A frame or a message over its size limit.
        PayloadTooLarge,
        RateLimited,
        /// Not done by the deadline; the outcome is unknown, a retry with the
        /// same ids is safe.
        Timeout,
        /// No quorum or no leader right now; retry.
        Unavailable,
        /// The transaction was rolled back (expired or failed) before it committed.
        TransactionAborted,
        TransactionNotFound,
        Internal,
    }
}

impl ErrorCode {
    /// Whether the same request may succeed if sent again later unchanged.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::RateLimited | ErrorCode::Timeout | ErrorCode::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_exactly_the_contracts() {
        let wire: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            wire,
            [
                "BadRequest",
                "NotLoggedIn",
                "InvalidAuthorization",
                "NotAuthorized",
                "TopicExists",
                "TopicNotFound",
                "PayloadTooLarge",
                "RateLimited",
                "Timeout",
                "Unavailable",
                "TransactionAborted",
                "TransactionNotFound",
                "Internal",
            ]
        );
    }

    #[test]
    fn serde_uses_the_wire_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize a code");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).expect("parse a code");
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn only_transient_codes_are_retryable() {
        let retry: Vec<_> = ErrorCode::ALL.iter().filter(|c| c.is_retryable()).map(|c| c.as_str()).collect();
        assert_eq!(retry, ["RateLimited", "Timeout", "Unavailable"]);
    }
}
