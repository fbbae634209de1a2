//! Typed access to the fields of one JSON object, with typed errors.
//!
//! Requests are read from a parsed `serde_json::Value` by hand rather than
//! by `#[derive(Deserialize)]`, for three reasons the contract imposes: the
//! `requestId` must be recovered even when another field is bad, a `Login`
//! without `token` is an authorization error rather than a bad request, and
//! every refusal names the exact field (`messages[2].messageId`) in a
//! message clients can show. `null` counts as absent everywhere, because
//! many JSON encoders write absent options as `null`.

use serde_json::{Map, Value};

use crate::protocol::error::FrameError;
use crate::protocol::text::TextError;
use crate::protocol::timestamp::Timestamp;
use crate::protocol::topic::{Scope, TopicName};

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One JSON object and its path in the frame (`""` for the frame itself).
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn top(map: &'a Map<String, Value>) -> Self {
        Self { map, path: String::new() }
    }

    /// The JSON path of a field of this object.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Whether the field is present and not `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn missing(&self, key: &str) -> FrameError {
        FrameError::MissingField { field: self.path(key) }
    }

    fn wrong(&self, key: &str, expected: &'static str) -> FrameError {
        FrameError::WrongType { field: self.path(key), expected }
    }

    pub(crate) fn text_error(&self, key: &str, source: TextError) -> FrameError {
        FrameError::Text { field: self.path(key), source }
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<&'a str, FrameError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional string that must pass `check`.
    pub(crate) fn opt_checked(
        &self,
        key: &str,
        check: fn(&str) -> Result<(), TextError>,
    ) -> Result<Option<String>, FrameError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => check(s).map(|()| Some(s.to_owned())).map_err(|e| self.text_error(key, e)),
        }
    }

    /// A required string that must pass `check`.
    pub(crate) fn checked(&self, key: &str, check: fn(&str) -> Result<(), TextError>) -> Result<String, FrameError> {
        self.opt_checked(key, check)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "a boolean")),
        }
    }

    /// An optional integer in `min..=max`. A number that is negative,
    /// fractional or too big for `u64` is out of range, not a panic.
    pub(crate) fn opt_u64_in(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(FrameError::OutOfRange {
                    field: self.path(key),
                    expected: format!("an integer from {min} to {max}"),
                }),
            },
            Some(_) => Err(self.wrong(key, "an integer")),
        }
    }

    pub(crate) fn u64_in(&self, key: &str, min: u64, max: u64) -> Result<u64, FrameError> {
        self.opt_u64_in(key, min, max)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_u32_in(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, FrameError> {
        match self.opt_u64_in(key, u64::from(min), u64::from(max))? {
            None => Ok(None),
            Some(v) => u32::try_from(v).map(Some).map_err(|_| FrameError::OutOfRange {
                field: self.path(key),
                expected: format!("an integer from {min} to {max}"),
            }),
        }
    }

    pub(crate) fn u32_in(&self, key: &str, min: u32, max: u32) -> Result<u32, FrameError> {
        self.opt_u32_in(key, min, max)?.ok_or_else(|| self.missing(key))
    }

    /// A required offset or count: any non-negative integer.
    pub(crate) fn u64(&self, key: &str) -> Result<u64, FrameError> {
        self.u64_in(key, 0, u64::MAX)
    }

    /// A partition number.
    pub(crate) fn partition(&self, key: &str) -> Result<u32, FrameError> {
        self.u32_in(key, 0, u32::MAX)
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(self.wrong(key, "a number")),
        }
    }

    pub(crate) fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }

    /// The object at `value`, an element of the array field `key` at `index`.
    pub(crate) fn element(&self, key: &str, index: usize, value: &'a Value) -> Result<Fields<'a>, FrameError> {
        let path = format!("{}[{index}]", self.path(key));
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(FrameError::WrongType { field: path, expected: "an object" }),
        }
    }

    /// The nested object of field `key`, as fields.
    pub(crate) fn object(&self, key: &str) -> Result<Option<Fields<'a>>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map, path: self.path(key) })),
            Some(_) => Err(self.wrong(key, "an object")),
        }
    }

    pub(crate) fn topic(&self) -> Result<TopicName, FrameError> {
        TopicName::new(self.str("topic")?).map_err(|e| self.text_error("topic", e))
    }

    /// `scope`, `"global"` when absent.
    pub(crate) fn scope(&self) -> Result<Scope, FrameError> {
        match self.opt_str("scope")? {
            None => Ok(Scope::Global),
            Some(s) => Scope::from_wire(s).ok_or_else(|| self.not_one_of("scope", "\"global\", \"local\"", s)),
        }
    }

    pub(crate) fn opt_timestamp(&self, key: &str) -> Result<Option<Timestamp>, FrameError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => {
                Timestamp::parse(s).map(Some).map_err(|source| FrameError::Timestamp { field: self.path(key), source })
            }
        }
    }

    pub(crate) fn not_one_of(&self, key: &str, allowed: &'static str, got: &str) -> FrameError {
        FrameError::NotOneOf { field: self.path(key), allowed, got: crate::protocol::error::quote(got) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with<T>(v: Value, f: impl FnOnce(&Fields<'_>) -> T) -> T {
        let Value::Object(map) = v else { panic!("test input must be an object") };
        f(&Fields::top(&map))
    }

    #[test]
    fn null_is_absent() {
        with(json!({"a": null}), |f| {
            assert!(!f.has("a"));
            assert_eq!(f.opt_str("a"), Ok(None));
            assert_eq!(f.str("a"), Err(FrameError::MissingField { field: "a".into() }));
        });
    }

    #[test]
    fn numbers_out_of_range_are_errors_not_panics() {
        let v = json!({"neg": -1, "frac": 1.5, "huge": 1e300, "big": u64::MAX, "s": "1"});
        with(v, |f| {
            for key in ["neg", "frac", "huge"] {
                assert!(matches!(f.opt_u64_in(key, 0, u64::MAX), Err(FrameError::OutOfRange { .. })), "{key}");
            }
            assert_eq!(f.opt_u64_in("big", 0, u64::MAX), Ok(Some(u64::MAX)));
            assert!(matches!(f.partition("big"), Err(FrameError::OutOfRange { .. })));
            assert!(matches!(
                f.opt_u64_in("s", 0, u64::MAX),
                Err(FrameError::WrongType { expected: "an integer", .. })
            ));
            assert!(matches!(f.opt_u32_in("big", 1, 10), Err(FrameError::OutOfRange { .. })));
        });
    }

    #[test]
    fn nested_paths_are_reported() {
        with(json!({"messages": [{"messageId": 5}]}), |f| {
            let arr = f.opt_array("messages").expect("array").expect("present");
            let el = f.element("messages", 0, &arr[0]).expect("object");
            assert_eq!(
                el.str("messageId"),
                Err(FrameError::WrongType { field: "messages[0].messageId".into(), expected: "a string" })
            );
        });
    }

    #[test]
    fn scope_defaults_to_global_and_refuses_others() {
        with(json!({}), |f| assert_eq!(f.scope(), Ok(Scope::Global)));
        with(json!({"scope": "local"}), |f| assert_eq!(f.scope(), Ok(Scope::Local)));
        with(json!({"scope": "GLOBAL"}), |f| assert!(matches!(f.scope(), Err(FrameError::NotOneOf { .. }))));
    }
}
