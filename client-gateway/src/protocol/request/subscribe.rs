//! `Subscribe` (where to start reading, flow control, isolation, group) and
//! `Unsubscribe`.
//!
//! `reader` is the seed's `OffsetHint`. Its canonical form is an object with
//! `from`; the nullary readers are also accepted as a bare string
//! (`"reader":"Latest"`), the form Haskell's aeson gives such constructors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Fields;
use crate::protocol::error::FrameError;
use crate::protocol::limits::{DEFAULT_COMMIT_RATIO, MAX_BATCH_SIZE};
use crate::protocol::text::{check_id, check_label};
use crate::protocol::topic::{Scope, TopicName};

#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    pub topic: TopicName,
    pub scope: Scope,
    pub reader: Reader,
    /// 1 to [`MAX_BATCH_SIZE`] in-flight messages; `None`: the topic's `pageSize`.
    pub batch_size: Option<u32>,
    /// In (0, 1]; default [`DEFAULT_COMMIT_RATIO`].
    pub commit_ratio: f64,
    pub isolation: Isolation,
    /// `None`: the session's device name.
    pub group: Option<String>,
}

/// Where a subscription starts reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reader {
    Beginning,
    /// Only messages published after the subscription.
    Latest,
    /// After this group's committed offset (the default).
    #[default]
    Committed,
    /// Offsets `start ≤ offset < end` of one partition, then `SubscriptionEnd`.
    MessageRange {
        partition: u32,
        start: u64,
        end: u64,
    },
    /// The last `count` messages of each partition, then live.
    LastN {
        count: u64,
    },
}

const READERS: &str = "\"Beginning\", \"Latest\", \"Committed\", \"MessageRange\", \"LastN\"";

impl Reader {
    fn from_fields(r: &Fields<'_>, outer: &Fields<'_>) -> Result<Self, FrameError> {
        let from = r.str("from")?;
        Ok(match from {
            "MessageRange" => {
                let (start, end) = (r.u64("start")?, r.u64("end")?);
                if end < start {
                    return Err(FrameError::OutOfRange {
                        field: r.path("end"),
                        expected: format!("at least `start` ({start})"),
                    });
                }
                // Canonical inside `reader`; a top-level `partition` is accepted too.
                let partition =
                    match (r.opt_u32_in("partition", 0, u32::MAX)?, outer.opt_u32_in("partition", 0, u32::MAX)?) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(FrameError::Shape("`reader.partition` and `partition` differ"))
                        }
                        (Some(p), _) | (None, Some(p)) => p,
                        (None, None) => 0,
                    };
                Reader::MessageRange { partition, start, end }
            }
            "LastN" => Reader::LastN { count: r.u64("count")? },
            other => Self::nullary(other).ok_or_else(|| r.not_one_of("from", READERS, other))?,
        })
    }

    fn nullary(name: &str) -> Option<Self> {
        match name {
            "Beginning" => Some(Reader::Beginning),
            "Latest" => Some(Reader::Latest),
            "Committed" => Some(Reader::Committed),
            _ => None,
        }
    }
}

/// Whether a subscriber sees messages of open transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Only committed transactions' messages (the default).
    #[default]
    Committed,
    /// Pending ones too, marked `"pending":true`.
    Uncommitted,
}

impl Subscribe {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        let reader = match f.get("reader") {
            None => Reader::default(),
            Some(Value::String(s)) => Reader::nullary(s).ok_or_else(|| f.not_one_of("reader", READERS, s))?,
            Some(_) => match f.object("reader")? {
                Some(r) => Reader::from_fields(&r, f)?,
                None => Reader::default(),
            },
        };
        let commit_ratio = match f.opt_f64("commitRatio")? {
            None => DEFAULT_COMMIT_RATIO,
            Some(r) if r > 0.0 && r <= 1.0 => r,
            Some(_) => {
                return Err(FrameError::OutOfRange {
                    field: f.path("commitRatio"),
                    expected: "a number in (0, 1]".into(),
                })
            }
        };
        let isolation = match f.opt_str("isolation")? {
            None | Some("committed") => Isolation::Committed,
            Some("uncommitted") => Isolation::Uncommitted,
            Some(other) => return Err(f.not_one_of("isolation", "\"committed\", \"uncommitted\"", other)),
        };
        Ok(Self {
            topic: f.topic()?,
            scope: f.scope()?,
            reader,
            batch_size: f.opt_u32_in("batchSize", 1, MAX_BATCH_SIZE)?,
            commit_ratio,
            isolation,
            group: f.opt_checked("group", check_label)?,
        })
    }
}

/// `Unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub subscription_id: String,
}

impl Unsubscribe {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        Ok(Self { subscription_id: f.checked("subscriptionId", check_id)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::{parse_request, RequestBody};

    fn subscribe(text: &str) -> Subscribe {
        match parse_request(text).map(|r| r.body) {
            Ok(RequestBody::Subscribe(s)) => s,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn reader(json: &str) -> Reader {
        subscribe(&format!(r#"{{"kind":"Subscribe","topic":"t","reader":{json}}}"#)).reader
    }

    #[test]
    fn the_contracts_example_with_every_field() {
        let s = subscribe(
            r#"{"kind":"Subscribe","topic":"orders","scope":"global","reader":{"from":"Committed"},
                "batchSize":100,"commitRatio":0.5,"isolation":"committed","group":"optional"}"#,
        );
        assert_eq!((s.reader, s.batch_size, s.commit_ratio), (Reader::Committed, Some(100), 0.5));
        assert_eq!((s.isolation, s.group.as_deref()), (Isolation::Committed, Some("optional")));
    }

    #[test]
    fn defaults() {
        let s = subscribe(r#"{"kind":"Subscribe","topic":"orders"}"#);
        assert_eq!(s.scope, Scope::Global);
        assert_eq!(s.reader, Reader::Committed);
        assert_eq!((s.batch_size, s.commit_ratio, s.isolation, s.group), (None, 0.5, Isolation::Committed, None));
    }

    #[test]
    fn every_reader() {
        assert_eq!(reader(r#"{"from":"Beginning"}"#), Reader::Beginning);
        assert_eq!(reader(r#"{"from":"Latest"}"#), Reader::Latest);
        assert_eq!(reader(r#"{"from":"Committed"}"#), Reader::Committed);
        assert_eq!(
            reader(r#"{"from":"MessageRange","start":5,"end":9}"#),
            Reader::MessageRange { partition: 0, start: 5, end: 9 }
        );
        assert_eq!(
            reader(r#"{"from":"MessageRange","start":5,"end":5,"partition":2}"#),
            Reader::MessageRange { partition: 2, start: 5, end: 5 }
        );
        assert_eq!(reader(r#"{"from":"LastN","count":10}"#), Reader::LastN { count: 10 });
        assert_eq!(reader(r#""Latest""#), Reader::Latest);
        assert_eq!(reader("null"), Reader::Committed);
        let s = subscribe(
            r#"{"kind":"Subscribe","topic":"t","partition":4,"reader":{"from":"MessageRange","start":0,"end":1}}"#,
        );
        assert_eq!(s.reader, Reader::MessageRange { partition: 4, start: 0, end: 1 });
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        for text in [
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"Yesterday"}}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{}}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":"MessageRange"}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":7}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"MessageRange","start":9,"end":5}}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"MessageRange","start":0}}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"MessageRange","start":0,"end":1,"partition":1},"partition":2}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"LastN"}}"#,
            r#"{"kind":"Subscribe","topic":"t","reader":{"from":"LastN","count":-1}}"#,
            r#"{"kind":"Subscribe","topic":"t","commitRatio":0}"#,
            r#"{"kind":"Subscribe","topic":"t","commitRatio":1.01}"#,
            r#"{"kind":"Subscribe","topic":"t","commitRatio":"half"}"#,
            r#"{"kind":"Subscribe","topic":"t","batchSize":0}"#,
            r#"{"kind":"Subscribe","topic":"t","batchSize":10001}"#,
            r#"{"kind":"Subscribe","topic":"t","isolation":"serializable"}"#,
            r#"{"kind":"Subscribe","topic":"t","group":""}"#,
        ] {
            assert!(parse_request(text).is_err(), "{text}");
        }
        let s = subscribe(r#"{"kind":"Subscribe","topic":"t","commitRatio":1,"isolation":"uncommitted"}"#);
        assert_eq!((s.commit_ratio, s.isolation), (1.0, Isolation::Uncommitted));
    }

    #[test]
    fn unsubscribe_needs_an_id() {
        let b = parse_request(r#"{"kind":"Unsubscribe","subscriptionId":"s-1"}"#).expect("valid").body;
        assert_eq!(b, RequestBody::Unsubscribe(Unsubscribe { subscription_id: "s-1".into() }));
        assert!(parse_request(r#"{"kind":"Unsubscribe"}"#).is_err());
    }
}
