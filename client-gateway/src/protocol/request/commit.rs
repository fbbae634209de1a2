//! `Commit`: acknowledge delivered messages for a consumer group.
//!
//! Three forms, exactly one per frame: by `messageId` (the seed's form), by
//! `partition` + `offset` (one message), or by `partition` + `upTo` (every
//! offset ≤ `upTo`). Mixing them is refused rather than guessed at, since a
//! wrong guess would silently commit — and so skip — messages.

use super::fields::Fields;
use crate::protocol::error::FrameError;
use crate::protocol::text::{check_id, check_label};
use crate::protocol::topic::{Scope, TopicName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub topic: TopicName,
    pub scope: Scope,
    pub target: CommitTarget,
    /// Another of the user's groups; `None`: the group of this connection's
    /// subscription to the topic.
    pub group: Option<String>,
    /// Make the commit part of this transaction.
    pub transaction_id: Option<String>,
}

/// What is being committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitTarget {
    /// One message by id; `partition`, when sent, narrows the lookup.
    MessageId { message_id: String, partition: Option<u32> },
    /// One message by position.
    Offset { partition: u32, offset: u64 },
    /// Every offset ≤ `up_to` of the partition.
    UpTo { partition: u32, up_to: u64 },
}

impl Commit {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        let target = match (f.has("messageId"), f.has("offset"), f.has("upTo")) {
            (true, false, false) => CommitTarget::MessageId {
                message_id: f.checked("messageId", check_id)?,
                partition: f.opt_u32_in("partition", 0, u32::MAX)?,
            },
            (false, true, false) => {
                CommitTarget::Offset { partition: f.partition("partition")?, offset: f.u64("offset")? }
            }
            (false, false, true) => CommitTarget::UpTo { partition: f.partition("partition")?, up_to: f.u64("upTo")? },
            _ => return Err(FrameError::Shape("Commit needs exactly one of `messageId`, `offset` or `upTo`")),
        };
        Ok(Self {
            topic: f.topic()?,
            scope: f.scope()?,
            target,
            group: f.opt_checked("group", check_label)?,
            transaction_id: f.opt_checked("transactionId", check_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::{parse_request, RequestBody};

    fn commit(text: &str) -> Commit {
        match parse_request(text).map(|r| r.body) {
            Ok(RequestBody::Commit(c)) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn the_seeds_form_by_message_id() {
        let c = commit(
            r#"{"kind":"Commit","userName":"alice","device":"laptop","topic":"orders","scope":"global",
                "messageId":"m-1","timestamp":"2024-05-01T12:00:00Z"}"#,
        );
        assert_eq!(c.target, CommitTarget::MessageId { message_id: "m-1".into(), partition: None });
        assert_eq!((c.group, c.transaction_id), (None, None));
    }

    #[test]
    fn by_offset_and_up_to() {
        let c = commit(r#"{"kind":"Commit","topic":"orders","partition":0,"offset":41}"#);
        assert_eq!(c.target, CommitTarget::Offset { partition: 0, offset: 41 });
        let c = commit(
            r#"{"kind":"Commit","topic":"orders","partition":3,"upTo":41,"group":"shared","transactionId":"tx"}"#,
        );
        assert_eq!(c.target, CommitTarget::UpTo { partition: 3, up_to: 41 });
        assert_eq!((c.group.as_deref(), c.transaction_id.as_deref()), (Some("shared"), Some("tx")));
    }

    #[test]
    fn ambiguous_or_incomplete_commits_are_refused() {
        for text in [
            r#"{"kind":"Commit","topic":"orders"}"#,
            r#"{"kind":"Commit","topic":"orders","partition":0}"#,
            r#"{"kind":"Commit","topic":"orders","offset":41}"#,
            r#"{"kind":"Commit","topic":"orders","partition":0,"offset":41,"upTo":41}"#,
            r#"{"kind":"Commit","topic":"orders","messageId":"m","offset":41,"partition":0}"#,
            r#"{"kind":"Commit","topic":"orders","partition":0,"offset":"41"}"#,
            r#"{"kind":"Commit","topic":"orders","partition":-1,"upTo":1}"#,
            r#"{"kind":"Commit","partition":0,"upTo":1}"#,
        ] {
            assert!(parse_request(text).is_err(), "{text}");
        }
    }
}
