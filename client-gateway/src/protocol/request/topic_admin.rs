//! Requests about topics rather than their messages: `CreateTopic`,
//! `DeleteTopic` and `ServiceBackupMap` (a [`TopicRef`]), and `AuditProof`.
//!
//! Sizes are checked here against the protocol's limits so a typo is a
//! `BadRequest` at once instead of a placement failure later.

use super::fields::Fields;
use crate::protocol::error::FrameError;
use crate::protocol::limits::{DEFAULT_PAGE_SIZE, MAX_BATCH_SIZE, MAX_PARTITIONS, MAX_REPLICATION_FACTOR};
use crate::protocol::topic::{Scope, TopicName};

/// A topic in a namespace: the body of `DeleteTopic` and `ServiceBackupMap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRef {
    pub topic: TopicName,
    pub scope: Scope,
}

impl TopicRef {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        Ok(Self { topic: f.topic()?, scope: f.scope()? })
    }
}

/// `CreateTopic`, with the protocol's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopic {
    pub topic: TopicName,
    pub scope: Scope,
    /// 1 to [`MAX_PARTITIONS`]; default 1.
    pub partitions: u32,
    /// 1 to [`MAX_REPLICATION_FACTOR`]; `None`: the cluster's default.
    pub replication_factor: Option<u32>,
    /// 1 to [`MAX_BATCH_SIZE`]; default [`DEFAULT_PAGE_SIZE`].
    pub page_size: u32,
    /// Keep a hash chain (tamper evidence); default false.
    pub audited: bool,
}

impl CreateTopic {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        Ok(Self {
            topic: f.topic()?,
            scope: f.scope()?,
            partitions: f.opt_u32_in("partitions", 1, MAX_PARTITIONS)?.unwrap_or(1),
            replication_factor: f.opt_u32_in("replicationFactor", 1, MAX_REPLICATION_FACTOR)?,
            page_size: f.opt_u32_in("pageSize", 1, MAX_BATCH_SIZE)?.unwrap_or(DEFAULT_PAGE_SIZE),
            audited: f.opt_bool("audited")?.unwrap_or(false),
        })
    }
}

/// `AuditProof`: the offsets `from ≤ offset < to` of one partition of an
/// audited topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRange {
    pub topic: TopicName,
    pub scope: Scope,
    pub partition: u32,
    pub from: u64,
    pub to: u64,
}

impl AuditRange {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        let (from, to) = (f.u64("from")?, f.u64("to")?);
        if to < from {
            return Err(FrameError::OutOfRange { field: f.path("to"), expected: format!("at least `from` ({from})") });
        }
        Ok(Self { topic: f.topic()?, scope: f.scope()?, partition: f.partition("partition")?, from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::{parse_request, RequestBody};

    fn body(text: &str) -> RequestBody {
        parse_request(text).map(|r| r.body).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn create_topic_reads_every_field() {
        let RequestBody::CreateTopic(c) = body(
            r#"{"kind":"CreateTopic","topic":"orders","scope":"global","partitions":1,
                "replicationFactor":3,"pageSize":100,"audited":false}"#,
        ) else {
            panic!("CreateTopic expected")
        };
        assert_eq!(c.topic.as_str(), "orders");
        assert_eq!(
            (c.scope, c.partitions, c.replication_factor, c.page_size, c.audited),
            (Scope::Global, 1, Some(3), 100, false)
        );
    }

    #[test]
    fn create_topic_defaults() {
        let RequestBody::CreateTopic(c) = body(r#"{"kind":"CreateTopic","topic":"notes","scope":"local"}"#) else {
            panic!("CreateTopic expected")
        };
        assert_eq!(
            (c.scope, c.partitions, c.replication_factor, c.page_size, c.audited),
            (Scope::Local, 1, None, 100, false)
        );
    }

    #[test]
    fn create_topic_refuses_bad_sizes_and_names() {
        for text in [
            r#"{"kind":"CreateTopic","topic":"t","partitions":0}"#,
            r#"{"kind":"CreateTopic","topic":"t","partitions":10001}"#,
            r#"{"kind":"CreateTopic","topic":"t","replicationFactor":0}"#,
            r#"{"kind":"CreateTopic","topic":"t","pageSize":0}"#,
            r#"{"kind":"CreateTopic","topic":"t","pageSize":10001}"#,
            r#"{"kind":"CreateTopic","topic":"t","audited":"yes"}"#,
            r#"{"kind":"CreateTopic","topic":"t","scope":"universe"}"#,
            r#"{"kind":"CreateTopic","topic":"../x"}"#,
            r#"{"kind":"CreateTopic","topic":""}"#,
            r#"{"kind":"CreateTopic","topic":".."}"#,
            r#"{"kind":"CreateTopic","topic":["orders"]}"#,
            r#"{"kind":"CreateTopic"}"#,
        ] {
            assert!(parse_request(text).is_err(), "{text}");
        }
        let long = format!(r#"{{"kind":"CreateTopic","topic":"{}"}}"#, "x".repeat(201));
        assert!(parse_request(&long).is_err());
        let max = format!(r#"{{"kind":"CreateTopic","topic":"{}"}}"#, "x".repeat(200));
        assert!(parse_request(&max).is_ok());
    }

    #[test]
    fn delete_and_backup_map_take_a_topic_ref() {
        for kind in ["DeleteTopic", "ServiceBackupMap"] {
            let b = body(&format!(r#"{{"kind":"{kind}","topic":"orders","scope":"global"}}"#));
            let want = TopicRef { topic: TopicName::new("orders").expect("valid"), scope: Scope::Global };
            match b {
                RequestBody::DeleteTopic(r) | RequestBody::ServiceBackupMap(r) => assert_eq!(r, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn audit_proof_range() {
        let RequestBody::AuditProof(a) =
            body(r#"{"kind":"AuditProof","topic":"ledger","partition":2,"from":10,"to":20}"#)
        else {
            panic!("AuditProof expected")
        };
        assert_eq!((a.partition, a.from, a.to, a.scope), (2, 10, 20, Scope::Global));
        assert!(parse_request(r#"{"kind":"AuditProof","topic":"l","partition":0,"from":5,"to":4}"#).is_err());
        assert!(parse_request(r#"{"kind":"AuditProof","topic":"l","from":0,"to":4}"#).is_err());
    }
}
