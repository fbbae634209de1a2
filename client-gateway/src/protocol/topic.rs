//! Topic identity on the wire: a checked name and its namespace.
//!
//! Names are checked here, before any request reaches the catalogue, with
//! the same rule the catalogue applies again: `[A-Za-z0-9._-]{1,200}`, and
//! never `.` or `..`, so a name can never act as a path or smuggle a
//! separator into a key of another format.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::limits::MAX_TOPIC_NAME_CHARS;
use super::text::TextError;

/// A valid topic name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

impl TopicName {
    pub fn new(s: impl Into<String>) -> Result<Self, TextError> {
        let s = s.into();
        if s.is_empty() {
            return Err(TextError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_TOPIC_NAME_CHARS {
            return Err(TextError::TooLong { len, max: MAX_TOPIC_NAME_CHARS });
        }
        let bad = s.chars().enumerate().find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
        if let Some((at, found)) = bad {
            return Err(TextError::BadChar { found, at, allowed: "A-Z, a-z, 0-9, '.', '_' and '-'" });
        }
        if s == "." || s == ".." {
            return Err(TextError::DotName);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TopicName {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, TextError> {
        Self::new(s)
    }
}

impl From<TopicName> for String {
    fn from(name: TopicName) -> String {
        name.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The namespace of a topic: `"global"` (the default) or the user's own
/// `"local"` one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Global,
    Local,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Local => "local",
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "global" => Some(Scope::Global),
            "local" => Some(Scope::Local),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contracts_alphabet_up_to_200() {
        for ok in ["orders", "a", "A.b_c-9", "...", "-", &"x".repeat(200)] {
            assert!(TopicName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_paths_empty_long_dots_and_foreign_characters() {
        assert!(matches!(TopicName::new("../x"), Err(TextError::BadChar { found: '/', at: 2, .. })));
        assert!(matches!(TopicName::new("a\\b"), Err(TextError::BadChar { found: '\\', .. })));
        assert_eq!(TopicName::new(""), Err(TextError::Empty));
        assert_eq!(TopicName::new("x".repeat(201)), Err(TextError::TooLong { len: 201, max: 200 }));
        assert_eq!(TopicName::new("."), Err(TextError::DotName));
        assert_eq!(TopicName::new(".."), Err(TextError::DotName));
        for bad in ["a b", "ordérs", "a:b", "a\u{0}", "%2e%2e"] {
            assert!(TopicName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_is_lowercase_on_the_wire() {
        assert_eq!(serde_json::to_string(&Scope::Local).expect("serialize"), "\"local\"");
        assert_eq!(Scope::default(), Scope::Global);
        assert_eq!(Scope::from_wire("Global"), None);
        for s in [Scope::Global, Scope::Local] {
            assert_eq!(Scope::from_wire(s.as_str()), Some(s));
        }
    }

    #[test]
    fn deserializing_checks_the_name() {
        assert!(serde_json::from_str::<TopicName>("\"../x\"").is_err());
        assert_eq!(serde_json::from_str::<TopicName>("\"orders\"").expect("valid").as_str(), "orders");
    }
}
