//! `Publish`: one message, or a batch written atomically per partition.
//!
//! Both forms parse to one [`Publish`] whose [`Messages`] remembers which
//! form was sent, because the `Published` reply differs (scalars for one
//! message, arrays aligned with `messages` for a batch). The seed's spelling
//! `messaggePayload` is accepted wherever `messagePayload` is.

use super::fields::Fields;
use crate::protocol::error::FrameError;
use crate::protocol::limits::{MAX_PUBLISH_BATCH, MAX_TIMEOUT_MS};
use crate::protocol::text::{check_id, check_key};
use crate::protocol::topic::{Scope, TopicName};

/// The canonical payload field and the seed's alias for it.
const PAYLOAD: &str = "messagePayload";
const PAYLOAD_ALIAS: &str = "messaggePayload";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: TopicName,
    pub scope: Scope,
    pub messages: Messages,
    /// 1 to [`MAX_TIMEOUT_MS`]; `None`: the server's default.
    pub timeout_ms: Option<u64>,
    /// Stage the writes in this transaction instead of committing them.
    pub transaction_id: Option<String>,
}

/// The message(s) of a `Publish`, in the form they were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Messages {
    /// `messageId` / `messagePayload` / `key` at the top level.
    One(NewMessage),
    /// `messages: [...]`, 1 to [`MAX_PUBLISH_BATCH`] entries.
    Batch(Vec<NewMessage>),
}

impl Messages {
    pub fn as_slice(&self) -> &[NewMessage] {
        match self {
            Messages::One(m) => std::slice::from_ref(m),
            Messages::Batch(ms) => ms,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [NewMessage] {
        match self {
            Messages::One(m) => std::slice::from_mut(m),
            Messages::Batch(ms) => ms,
        }
    }

    pub fn is_batch(&self) -> bool {
        matches!(self, Messages::Batch(_))
    }
}

/// One message to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Unique per topic: a retry with the same id appends nothing.
    pub message_id: String,
    pub payload: String,
    /// Partition key; without it the partition is chosen from `message_id`.
    pub key: Option<String>,
}

impl NewMessage {
    /// Reads one message; `default_key` applies when it has no `key`.
    fn from_fields(f: &Fields<'_>, default_key: Option<&String>) -> Result<Self, FrameError> {
        let message_id = f.checked("messageId", check_id)?;
        let payload = match (f.opt_str(PAYLOAD)?, f.opt_str(PAYLOAD_ALIAS)?) {
            (Some(a), Some(b)) if a != b => {
                return Err(FrameError::Shape("`messagePayload` and its alias `messaggePayload` differ"))
            }
            (Some(p), _) | (None, Some(p)) => p.to_owned(),
            (None, None) => return Err(FrameError::MissingField { field: f.path(PAYLOAD) }),
        };
        let key = f.opt_checked("key", check_key)?.or_else(|| default_key.cloned());
        Ok(Self { message_id, payload, key })
    }
}

impl Publish {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        let topic = f.topic()?;
        let scope = f.scope()?;
        let messages = match f.opt_array("messages")? {
            None => Messages::One(NewMessage::from_fields(f, None)?),
            Some(list) => {
                if [PAYLOAD, PAYLOAD_ALIAS, "messageId"].iter().any(|k| f.has(k)) {
                    return Err(FrameError::Shape(
                        "Publish carries either `messages` or one `messageId`/`messagePayload`, not both",
                    ));
                }
                if list.is_empty() || list.len() > MAX_PUBLISH_BATCH {
                    return Err(FrameError::OutOfRange {
                        field: f.path("messages"),
                        expected: format!("1 to {MAX_PUBLISH_BATCH} messages, got {}", list.len()),
                    });
                }
                // A top-level `key` is the default key of the batch's messages.
                let default_key = f.opt_checked("key", check_key)?;
                let batch = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| NewMessage::from_fields(&f.element("messages", i, v)?, default_key.as_ref()))
                    .collect::<Result<Vec<_>, _>>()?;
                Messages::Batch(batch)
            }
        };
        Ok(Self {
            topic,
            scope,
            messages,
            timeout_ms: f.opt_u64_in("timeoutMs", 1, MAX_TIMEOUT_MS)?,
            transaction_id: f.opt_checked("transactionId", check_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::{parse_request, RequestBody};

    fn publish(text: &str) -> Publish {
        match parse_request(text).map(|r| r.body) {
            Ok(RequestBody::Publish(p)) => p,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn msg(id: &str, payload: &str, key: Option<&str>) -> NewMessage {
        NewMessage { message_id: id.into(), payload: payload.into(), key: key.map(Into::into) }
    }

    #[test]
    fn single_message_with_every_field() {
        let p = publish(
            r#"{"kind":"Publish","userName":"alice","device":"laptop","timestamp":"2024-05-01T12:00:00Z",
                "topic":"orders","scope":"global","messageId":"m-1","messagePayload":"hello",
                "key":"customer-9","timeoutMs":5000,"transactionId":"tx-1"}"#,
        );
        assert_eq!(p.topic.as_str(), "orders");
        assert_eq!(p.messages, Messages::One(msg("m-1", "hello", Some("customer-9"))));
        assert_eq!((p.timeout_ms, p.transaction_id.as_deref()), (Some(5000), Some("tx-1")));
        assert!(!p.messages.is_batch());
    }

    #[test]
    fn the_seeds_misspelling_is_an_alias() {
        let p = publish(r#"{"kind":"Publish","topic":"t","messageId":"m","messaggePayload":"seed"}"#);
        assert_eq!(p.messages.as_slice(), [msg("m", "seed", None)]);
        let p = publish(r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"x","messaggePayload":"x"}"#);
        assert_eq!(p.messages.as_slice()[0].payload, "x");
        let e = parse_request(
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"x","messaggePayload":"y"}"#,
        );
        assert!(matches!(e.map_err(|e| e.reason), Err(FrameError::Shape(_))));
    }

    #[test]
    fn a_batch_keeps_order_and_inherits_the_top_level_key() {
        let p = publish(
            r#"{"kind":"Publish","topic":"orders","key":"k0","messages":[
                {"messageId":"a","messagePayload":"1"},
                {"messageId":"b","messaggePayload":"2","key":"k1"},
                {"messageId":"c","messagePayload":""}]}"#,
        );
        assert!(p.messages.is_batch());
        assert_eq!(
            p.messages.as_slice(),
            [msg("a", "1", Some("k0")), msg("b", "2", Some("k1")), msg("c", "", Some("k0"))]
        );
    }

    #[test]
    fn batch_shape_errors() {
        let e = |t: &str| parse_request(t).map(|_| ()).map_err(|e| e.reason);
        assert!(matches!(e(r#"{"kind":"Publish","topic":"t","messages":[]}"#), Err(FrameError::OutOfRange { .. })));
        assert!(matches!(
            e(r#"{"kind":"Publish","topic":"t","messageId":"x","messages":[{"messageId":"a","messagePayload":"1"}]}"#),
            Err(FrameError::Shape(_))
        ));
        assert_eq!(
            e(
                r#"{"kind":"Publish","topic":"t","messages":[{"messageId":"a","messagePayload":"1"},{"messageId":"b"}]}"#
            ),
            Err(FrameError::MissingField { field: "messages[1].messagePayload".into() })
        );
        assert!(matches!(e(r#"{"kind":"Publish","topic":"t","messages":["a"]}"#), Err(FrameError::WrongType { .. })));
        assert!(matches!(e(r#"{"kind":"Publish","topic":"t","messages":{"a":1}}"#), Err(FrameError::WrongType { .. })));
        let too_many: Vec<String> =
            (0..=MAX_PUBLISH_BATCH).map(|i| format!(r#"{{"messageId":"{i}","messagePayload":"p"}}"#)).collect();
        let text = format!(r#"{{"kind":"Publish","topic":"t","messages":[{}]}}"#, too_many.join(","));
        assert!(matches!(e(&text), Err(FrameError::OutOfRange { .. })));
    }

    #[test]
    fn single_message_errors() {
        for text in [
            r#"{"kind":"Publish","topic":"t","messagePayload":"p"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"","messagePayload":"p"}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":{"json":"object"}}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","timeoutMs":0}"#,
            r#"{"kind":"Publish","topic":"t","messageId":"m","messagePayload":"p","key":5}"#,
            r#"{"kind":"Publish","messageId":"m","messagePayload":"p"}"#,
        ] {
            assert!(parse_request(text).is_err(), "{text}");
        }
    }
}
