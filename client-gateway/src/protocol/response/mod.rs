//! Server→client frames, serialized with the contract's exact names.
//!
//! [`Response`] is one variant per response kind, tagged by `kind`. A
//! direct reply to a request is sent as a [`Reply`], which adds the
//! request's `requestId` (omitted when the request had none); subscription
//! pushes (`Message`, `SubscriptionEnd`) are sent with
//! [`Response::to_frame`]. The types also deserialize, so Rust clients and
//! tests read frames with the same definitions the gateway writes them with.

mod audit;
mod delivery;
mod error_reply;
mod session;
mod topics;
mod transaction;

use serde::{Deserialize, Serialize};

use crate::protocol::kind::ResponseKind;
use crate::protocol::text::RequestId;

pub use audit::{AuditEntry, AuditProof, Checkpoint, AUDIT_HASH_VERSION};
pub use delivery::{
    Committed, EndReason, Message, PartitionRange, PublishOutcome, Published, Subscribed, SubscriptionEnd, Unsubscribed,
};
pub use error_reply::ErrorReply;
pub use session::{LoggedOut, ServiceMap, Services, Session};
pub use topics::{
    BackupMap, PartitionOffsets, PartitionPlacement, SubscriptionInfo, SubscriptionList, TopicCreated, TopicDeleted,
    TopicInfo, TopicList,
};
pub use transaction::{TransactionBegun, TransactionCommitted, TransactionRolledBack};

/// One server→client frame; the variant name is the wire `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Response {
    ServiceMap(ServiceMap),
    Session(Session),
    Logout(LoggedOut),
    TopicCreated(TopicCreated),
    TopicDeleted(TopicDeleted),
    AllTopics(TopicList),
    Topics(SubscriptionList),
    ServiceBackupMap(BackupMap),
    Published(Published),
    Subscribed(Subscribed),
    Message(Message),
    SubscriptionEnd(SubscriptionEnd),
    Committed(Committed),
    Unsubscribed(Unsubscribed),
    TransactionBegun(TransactionBegun),
    TransactionCommitted(TransactionCommitted),
    TransactionRolledBack(TransactionRolledBack),
    AuditProof(AuditProof),
    Error(ErrorReply),
}

impl Response {
    pub fn kind(&self) -> ResponseKind {
        match self {
            Response::ServiceMap(_) => ResponseKind::ServiceMap,
            Response::Session(_) => ResponseKind::Session,
            Response::Logout(_) => ResponseKind::Logout,
            Response::TopicCreated(_) => ResponseKind::TopicCreated,
            Response::TopicDeleted(_) => ResponseKind::TopicDeleted,
            Response::AllTopics(_) => ResponseKind::AllTopics,
            Response::Topics(_) => ResponseKind::Topics,
            Response::ServiceBackupMap(_) => ResponseKind::ServiceBackupMap,
            Response::Published(_) => ResponseKind::Published,
            Response::Subscribed(_) => ResponseKind::Subscribed,
            Response::Message(_) => ResponseKind::Message,
            Response::SubscriptionEnd(_) => ResponseKind::SubscriptionEnd,
            Response::Committed(_) => ResponseKind::Committed,
            Response::Unsubscribed(_) => ResponseKind::Unsubscribed,
            Response::TransactionBegun(_) => ResponseKind::TransactionBegun,
            Response::TransactionCommitted(_) => ResponseKind::TransactionCommitted,
            Response::TransactionRolledBack(_) => ResponseKind::TransactionRolledBack,
            Response::AuditProof(_) => ResponseKind::AuditProof,
            Response::Error(_) => ResponseKind::Error,
        }
    }

    /// This response as the direct reply to a request with `request_id`.
    pub fn reply_to(self, request_id: Option<RequestId>) -> Reply {
        Reply { response: self, request_id }
    }

    /// The text frame, without `requestId` (for pushes).
    pub fn to_frame(&self) -> String {
        serde_json::to_string(self)
            .expect("response types serialize infallibly: string keys, no custom serializers fail")
    }
}

/// A direct reply: a response and the `requestId` it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(flatten)]
    pub response: Response,
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
}

impl Reply {
    /// The text frame, with `requestId` when the request had one.
    ///
    /// The same bytes as serializing `self` (`requestId` last, where
    /// `#[serde(flatten)]` puts it), written without going through serde's
    /// flattening, which buffers nothing but reroutes every field through
    /// a map serializer: that was 7 % of the gateway's CPU under pipelined
    /// publishing, one reply per message.
    pub fn to_frame(&self) -> String {
        const INFALLIBLE: &str = "response types serialize infallibly: string keys, no custom serializers fail";
        let mut frame = serde_json::to_vec(&self.response).expect(INFALLIBLE);
        if let Some(id) = &self.request_id {
            // A response is a JSON object with at least `kind`: its last
            // byte is the closing brace.
            frame.pop();
            frame.extend_from_slice(b",\"requestId\":");
            serde_json::to_writer(&mut frame, id.as_str()).expect(INFALLIBLE);
            frame.push(b'}');
        }
        String::from_utf8(frame).expect("serde_json writes UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::protocol::code::ErrorCode;

    fn error() -> Response {
        Response::Error(ErrorReply { code: ErrorCode::TopicExists, message: "topic \"orders\" exists".into() })
    }

    /// The hand-joined frame is byte for byte what serde's flattening
    /// writes, for every kind of response, with and without a `requestId`.
    #[test]
    fn a_reply_frame_is_the_flattened_serialization() {
        for &kind in crate::protocol::kind::ResponseKind::ALL {
            let response = crate::protocol::samples::sample(kind);
            for id in [None, Some(RequestId::new("r-1 \"quoted\" é").expect("valid"))] {
                let reply = response.clone().reply_to(id);
                assert_eq!(reply.to_frame(), serde_json::to_string(&reply).expect("serializes"), "{kind:?}");
            }
        }
    }

    #[test]
    fn a_reply_echoes_the_request_id_only_when_there_was_one() {
        let id = RequestId::new("abc").expect("valid");
        let with: Value = serde_json::from_str(&error().reply_to(Some(id)).to_frame()).expect("json");
        assert_eq!(
            with,
            json!({"kind":"Error","requestId":"abc","code":"TopicExists","message":"topic \"orders\" exists"})
        );
        let without: Value = serde_json::from_str(&error().reply_to(None).to_frame()).expect("json");
        assert_eq!(without, json!({"kind":"Error","code":"TopicExists","message":"topic \"orders\" exists"}));
        assert_eq!(error().to_frame(), error().reply_to(None).to_frame());
    }

    #[test]
    fn kind_comes_first_on_the_wire() {
        assert!(error().reply_to(RequestId::new("x").ok()).to_frame().starts_with(r#"{"kind":"Error","#));
    }

    #[test]
    fn replies_read_back() {
        let reply = error().reply_to(RequestId::new("r").ok());
        let back: Reply = serde_json::from_str(&reply.to_frame()).expect("parse reply");
        assert_eq!(back, reply);
        let bare: Reply = serde_json::from_str(&error().to_frame()).expect("parse frame");
        assert_eq!(bare.request_id, None);
    }
}
