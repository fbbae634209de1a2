//! Replies about the connection itself: service discovery (`ServiceMap`),
//! `Session` after `Login`, and `Logout`.

use serde::{Deserialize, Serialize};

use super::topics::SubscriptionInfo;
use crate::protocol::timestamp::Timestamp;

/// `ServiceMap`, the answer to `Handshake`: where every service runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMap {
    pub services: Services,
    /// The gateway this client should use (a `ws://` or `wss://` URL).
    pub recommended: String,
}

/// Addresses per service; the map is live and changes as processes come
/// and go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Services {
    /// WebSocket URLs of the gateways.
    pub gateway: Vec<String>,
    /// `host:port` of the allocators (the catalogue).
    pub allocator: Vec<String>,
    /// `host:port` of the storage nodes.
    pub node: Vec<String>,
}

/// `Session`, the answer to `Login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The token's subject.
    pub user_name: String,
    pub device: String,
    pub timestamp: Timestamp,
    pub session_id: String,
    /// This (user, group) pair's durable subscriptions with their offsets.
    pub topics: Vec<SubscriptionInfo>,
}

/// `Logout`, the answer to `Logout` (the server then closes with 1000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    pub user_name: String,
    pub device: String,
    pub timestamp: Timestamp,
    /// Extension: the session that ended.
    pub session_id: String,
}
