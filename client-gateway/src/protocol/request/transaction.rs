//! Transaction requests: `BeginTransaction`, and `CommitTransaction` /
//! `RollbackTransaction` naming one by id.
//!
//! A transaction holds pending writes until it ends, so its timeout is
//! bounded by [`MAX_TIMEOUT_MS`]; past `expiresAt` the server rolls it back.

use super::fields::Fields;
use crate::protocol::error::FrameError;
use crate::protocol::limits::MAX_TIMEOUT_MS;
use crate::protocol::text::check_id;

/// `BeginTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginTransaction {
    /// 1 to [`MAX_TIMEOUT_MS`]; `None`: the server's default.
    pub timeout_ms: Option<u64>,
}

impl BeginTransaction {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        Ok(Self { timeout_ms: f.opt_u64_in("timeoutMs", 1, MAX_TIMEOUT_MS)? })
    }
}

/// The body of `CommitTransaction` and `RollbackTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRef {
    pub transaction_id: String,
}

impl TransactionRef {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        Ok(Self { transaction_id: f.checked("transactionId", check_id)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::{parse_request, RequestBody};

    #[test]
    fn transactions_parse() {
        let b = parse_request(r#"{"kind":"BeginTransaction","timeoutMs":10000}"#).expect("valid").body;
        assert_eq!(b, RequestBody::BeginTransaction(BeginTransaction { timeout_ms: Some(10_000) }));
        let b = parse_request(r#"{"kind":"BeginTransaction"}"#).expect("valid").body;
        assert_eq!(b, RequestBody::BeginTransaction(BeginTransaction { timeout_ms: None }));
        let tx = TransactionRef { transaction_id: "tx-1".into() };
        let b = parse_request(r#"{"kind":"CommitTransaction","transactionId":"tx-1"}"#).expect("valid").body;
        assert_eq!(b, RequestBody::CommitTransaction(tx.clone()));
        let b = parse_request(r#"{"kind":"RollbackTransaction","transactionId":"tx-1"}"#).expect("valid").body;
        assert_eq!(b, RequestBody::RollbackTransaction(tx));
    }

    #[test]
    fn transactions_refuse_bad_fields() {
        for text in [
            r#"{"kind":"BeginTransaction","timeoutMs":0}"#,
            r#"{"kind":"BeginTransaction","timeoutMs":600001}"#,
            r#"{"kind":"BeginTransaction","timeoutMs":"10s"}"#,
            r#"{"kind":"CommitTransaction"}"#,
            r#"{"kind":"RollbackTransaction","transactionId":""}"#,
            r#"{"kind":"RollbackTransaction","transactionId":7}"#,
        ] {
            assert!(parse_request(text).is_err(), "{text}");
        }
    }
}
