//! A short road for the commonest frame: a `Publish` of one message.
//!
//! Why: the general parser reads every frame into a `serde_json::Value`
//! first, allocating a map and a string per key and value. Under pipelined
//! publishing over WebSocket that was 17 % of the gateway's CPU (a `perf`
//! profile of a 128 B run). Here the frame is read into a struct of
//! borrowed strings, and only the fields a [`Publish`] keeps are copied.
//!
//! The road only takes frames it reads exactly as the general parser would.
//! Anything else goes the general way, which gives the answer for valid
//! frames and the precise error for invalid ones:
//! - another kind, or a batch (`messages` present);
//! - a field of the wrong type, a duplicate key (serde refuses it; the
//!   general parser keeps the last one);
//! - a value any check refuses.
//!
//! A test checks that both roads agree on every frame this one takes.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::publish::{Messages, NewMessage, Publish};
use super::{Request, RequestBody, RequestMeta};
use crate::protocol::limits::MAX_TIMEOUT_MS;
use crate::protocol::text::{check_id, check_key, check_label, RequestId};
use crate::protocol::timestamp::Timestamp;
use crate::protocol::topic::{Scope, TopicName};

#[derive(Deserialize)]
struct PublishOne<'a> {
    #[serde(rename = "kind")]
    _kind: PublishKind,
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(borrow, default)]
    scope: Option<Cow<'a, str>>,
    #[serde(rename = "messageId", borrow)]
    message_id: Cow<'a, str>,
    #[serde(rename = "messagePayload", borrow, default)]
    payload: Option<Cow<'a, str>>,
    #[serde(rename = "messaggePayload", borrow, default)]
    payload_alias: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(rename = "timeoutMs", default)]
    timeout_ms: Option<u64>,
    #[serde(rename = "transactionId", borrow, default)]
    transaction_id: Option<Cow<'a, str>>,
    #[serde(rename = "messages", default)]
    _messages: Option<NotABatch>,
    #[serde(rename = "userName", borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    device: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// The only `kind` this road takes. Any other stops the read at that field
/// (usually the first), so the general road is not preceded by a whole read
/// of, say, every `Commit`.
#[derive(Deserialize)]
enum PublishKind {
    Publish,
}

/// `messages` is taken only absent or `null`. A batch stops the read at
/// that field instead of being skipped over to the end first.
struct NotABatch;

impl<'de> Deserialize<'de> for NotABatch {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(D::Error::custom("a batch takes the general road"))
    }
}

/// The request, when `text` is a valid one-message `Publish` this road
/// takes; `None` sends the frame the general way.
pub(super) fn publish_one(text: &str) -> Option<Request> {
    let f: PublishOne<'_> = serde_json::from_str(text).ok()?;
    let request_id = match f.request_id {
        None => None,
        Some(id) => Some(RequestId::new(id.into_owned()).ok()?),
    };
    let payload = match (f.payload, f.payload_alias) {
        (Some(a), Some(b)) if a != b => return None,
        (Some(p), _) | (None, Some(p)) => p.into_owned(),
        (None, None) => return None,
    };
    check_id(&f.message_id).ok()?;
    let message = NewMessage { message_id: f.message_id.into_owned(), payload, key: checked(f.key, check_key)? };
    let publish = Publish {
        topic: TopicName::new(f.topic.into_owned()).ok()?,
        scope: match f.scope {
            None => Scope::Global,
            Some(s) => Scope::from_wire(&s)?,
        },
        messages: Messages::One(message),
        timeout_ms: match f.timeout_ms {
            Some(t) if !(1..=MAX_TIMEOUT_MS).contains(&t) => return None,
            t => t,
        },
        transaction_id: checked(f.transaction_id, check_id)?,
    };
    let meta = RequestMeta {
        request_id,
        user_name: checked(f.user_name, check_label)?,
        device: checked(f.device, check_label)?,
        timestamp: match f.timestamp {
            None => None,
            Some(t) => Some(Timestamp::parse(t.into_owned()).ok()?),
        },
    };
    Some(Request { meta, body: RequestBody::Publish(publish) })
}

/// `Some(None)` when absent, `Some(Some(..))` when it passes `check`, `None`
/// (the general road) when it does not.
fn checked(
    value: Option<Cow<'_, str>>,
    check: fn(&str) -> Result<(), crate::protocol::text::TextError>,
) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(v) => check(&v).ok().map(|()| Some(v.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::parse_general;

    /// Frames this road takes must parse exactly as the general road does;
    /// the others must be left to it.
    #[test]
    fn both_roads_agree() {
        let taken = [
            r#"{"kind":"Publish","topic":"orders","messageId":"m1","messagePayload":"hi"}"#,
            r#"{"kind":"Publish","requestId":"r1","topic":"orders","messageId":"m1","messagePayload":"h\"i\u00e9",
                "key":"k","timeoutMs":5000,"scope":"local","userName":"alice","device":"laptop",
                "timestamp":"2024-05-01T12:00:00Z","surprise":{"deep":[1,2,{"x":null}]}}"#,
            r#"{"timeoutMs":1,"messaggePayload":"p","messageId":"m\u0031","topic":"t.x-y_z","kind":"Publish"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","messaggePayload":"p"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","messages":null,"key":null}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"","transactionId":"tx1"}"#,
        ];
        for text in taken {
            let fast = publish_one(text).unwrap_or_else(|| panic!("the short road refused {text}"));
            assert_eq!(Ok(fast), parse_general(text), "{text}");
        }
        let left = [
            r#"{"kind":"Topics"}"#,
            r#"{"kind":"Publish","topic":"t","messages":[{"messageId":"m","messagePayload":"p"}]}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","messageId":"n"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":5}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"a","messaggePayload":"b"}"#,
            r#"{"kind":"Publish","topic":"","messageId":"m","messagePayload":"p"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"","messagePayload":"p"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","scope":"GLOBAL"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","timeoutMs":0}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","timeoutMs":1.5}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","timestamp":"yesterday"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p"} trailing"#,
            r#"[1,2]"#,
        ];
        for text in left {
            assert_eq!(publish_one(text), None, "the short road took {text}");
        }
    }

    /// Every frame one edit away from a valid one (a character dropped or
    /// replaced): where the short road takes it, the general road agrees.
    #[test]
    fn both_roads_agree_on_near_misses() {
        let base = r#"{"kind":"Publish","requestId":"r1","topic":"t","scope":"global","messageId":"m1","messagePayload":"p\n","key":"k","timeoutMs":50,"device":"d","timestamp":"2024-05-01T12:00:00Z"}"#;
        let chars: Vec<char> = base.chars().collect();
        let replacements = ['"', ',', ':', '{', '}', '[', 'n', '0', ' ', '\\', 'é', '\u{1}'];
        let (mut taken, mut tried) = (0, 0);
        for i in 0..chars.len() {
            let mut variants = vec![chars.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, c)| *c).collect()];
            for r in replacements {
                let mut v = chars.clone();
                v[i] = r;
                variants.push(v.into_iter().collect::<String>());
            }
            for text in variants {
                tried += 1;
                if let Some(fast) = publish_one(&text) {
                    taken += 1;
                    assert_eq!(Ok(fast), parse_general(&text), "{text}");
                }
            }
        }
        assert!(taken > tried / 10, "the short road took only {taken} of {tried} frames");
    }
}
