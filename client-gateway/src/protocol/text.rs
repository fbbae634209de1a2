//! Checks for the free-text fields of requests, and the newtypes of the
//! ones whose rules matter beyond this module (`requestId`, `token`).
//!
//! Every string a client sends is bounded and free of control characters
//! before it reaches a log line, a Raft entry or another client's screen.
//! Lengths are counted in characters (Unicode scalar values), as the
//! contract does for `requestId`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::limits::{MAX_ID_CHARS, MAX_KEY_CHARS, MAX_LABEL_CHARS, MAX_REQUEST_ID_CHARS};

/// Why a string field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is empty")]
    Empty,
    #[error("is {len} characters long; at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("contains {found:?} at character {at}; allowed: {allowed}")]
    BadChar { found: char, at: usize, allowed: &'static str },
    #[error("may not be `.` or `..`")]
    DotName,
}

/// Checks length (in characters, `1..=max` or `0..=max`) and that no control
/// character is present.
fn check_printable(s: &str, allow_empty: bool, max: usize) -> Result<(), TextError> {
    if s.is_empty() && !allow_empty {
        return Err(TextError::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Err(TextError::TooLong { len, max });
    }
    match s.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some((at, found)) => Err(TextError::BadChar { found, at, allowed: "no control characters" }),
        None => Ok(()),
    }
}

/// `userName`, `device`, `group`: 1 to [`MAX_LABEL_CHARS`] printable characters.
pub fn check_label(s: &str) -> Result<(), TextError> {
    check_printable(s, false, MAX_LABEL_CHARS)
}

/// `messageId`, `subscriptionId`, `transactionId`: 1 to [`MAX_ID_CHARS`]
/// printable characters.
pub fn check_id(s: &str) -> Result<(), TextError> {
    check_printable(s, false, MAX_ID_CHARS)
}

/// A partition `key`: 0 to [`MAX_KEY_CHARS`] characters of any kind (it is
/// only hashed, never shown).
pub fn check_key(s: &str) -> Result<(), TextError> {
    let len = s.chars().count();
    if len > MAX_KEY_CHARS {
        return Err(TextError::TooLong { len, max: MAX_KEY_CHARS });
    }
    Ok(())
}

/// A client's correlation id: at most [`MAX_REQUEST_ID_CHARS`] printable
/// characters (empty is allowed). Echoed verbatim in every direct reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    pub fn new(s: impl Into<String>) -> Result<Self, TextError> {
        let s = s.into();
        check_printable(&s, true, MAX_REQUEST_ID_CHARS)?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequestId {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, TextError> {
        Self::new(s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bearer token of a `Login`. Its `Debug` never shows the secret, so a
/// logged request cannot leak a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A non-empty token (its content is checked by the auth module).
    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        (!s.is_empty()).then_some(Self(s))
    }

    /// The secret itself, for the verifier only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_allows_64_chars_and_refuses_65() {
        assert!(RequestId::new("x".repeat(64)).is_ok());
        assert!(RequestId::new("é".repeat(64)).is_ok(), "characters, not bytes");
        assert_eq!(RequestId::new("x".repeat(65)), Err(TextError::TooLong { len: 65, max: 64 }));
        assert!(RequestId::new("").is_ok());
        assert!(matches!(RequestId::new("a\nb"), Err(TextError::BadChar { found: '\n', at: 1, .. })));
    }

    #[test]
    fn labels_and_ids_are_bounded_and_printable() {
        assert_eq!(check_label(""), Err(TextError::Empty));
        assert!(check_label("Alice's iPhone ✓").is_ok());
        assert!(check_label(&"a".repeat(MAX_LABEL_CHARS)).is_ok());
        assert!(matches!(check_label(&"a".repeat(MAX_LABEL_CHARS + 1)), Err(TextError::TooLong { .. })));
        assert!(matches!(check_id("id\u{0}"), Err(TextError::BadChar { .. })));
        assert!(check_key("").is_ok());
        assert!(check_key("\n").is_ok());
        assert!(matches!(check_key(&"k".repeat(MAX_KEY_CHARS + 1)), Err(TextError::TooLong { .. })));
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let t = Token::new("eyJhbGciOi.secret.sig").expect("non-empty");
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(t.expose(), "eyJhbGciOi.secret.sig");
        assert!(Token::new("").is_none());
    }
}
