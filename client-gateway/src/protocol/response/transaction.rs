//! Replies of the two-phase-commit transactions.

use serde::{Deserialize, Serialize};

use crate::protocol::timestamp::Timestamp;

/// `TransactionBegun`: use `transactionId` in `Publish` and `Commit`, then
/// `CommitTransaction` before `expiresAt` or it is rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionBegun {
    pub transaction_id: String,
    pub expires_at: Timestamp,
}

/// `TransactionCommitted`: every write and commit of the transaction is
/// durable and visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionCommitted {
    pub transaction_id: String,
}

/// `TransactionRolledBack`: none of the transaction's effects remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRolledBack {
    pub transaction_id: String,
}
