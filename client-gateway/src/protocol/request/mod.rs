//! A client→server frame: its common fields, its kind-specific body, and
//! [`parse_request`], the only way in.
//!
//! ```text
//! text ──a one-message Publish──> fast::publish_one ─────────────────────────> Request
//!   └──otherwise──serde_json──> Value ──object?──> requestId ──> kind ──> body ──> meta ──> Request
//!   any failure ───────────────────────────────┴──> ProtocolError { requestId if read, reason }
//! ```
//!
//! `requestId` is read before anything else so that every refusal after it
//! can be echoed. Unknown fields are ignored; `null` is the same as absent.

mod commit;
mod fast;
pub(crate) mod fields;
mod publish;
mod subscribe;
mod topic_admin;
mod transaction;

use serde_json::Value;

use crate::protocol::error::{quote, FrameError, ProtocolError};
use crate::protocol::kind::RequestKind;
use crate::protocol::text::{check_label, RequestId, Token};
use crate::protocol::timestamp::Timestamp;
use fields::{json_type, Fields};

pub use commit::{Commit, CommitTarget};
pub use publish::{Messages, NewMessage, Publish};
pub use subscribe::{Isolation, Reader, Subscribe, Unsubscribe};
pub use topic_admin::{AuditRange, CreateTopic, TopicRef};
pub use transaction::{BeginTransaction, TransactionRef};

/// One parsed and validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub meta: RequestMeta,
    pub body: RequestBody,
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        self.body.kind()
    }
}

/// The fields every request may carry. `userName`, `device` and `timestamp`
/// default to the session's; a `userName` that differs from the session's is
/// the session's business (`NotAuthorized`), not the parser's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<RequestId>,
    pub user_name: Option<String>,
    pub device: Option<String>,
    /// Informational only: ordering comes from offsets.
    pub timestamp: Option<Timestamp>,
}

/// What the request asks for, one variant per request kind.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    Handshake,
    Login(Login),
    Logout,
    CreateTopic(CreateTopic),
    DeleteTopic(TopicRef),
    AllTopics,
    Topics,
    ServiceBackupMap(TopicRef),
    Publish(Publish),
    Subscribe(Subscribe),
    Commit(Commit),
    Unsubscribe(Unsubscribe),
    BeginTransaction(BeginTransaction),
    CommitTransaction(TransactionRef),
    RollbackTransaction(TransactionRef),
    AuditProof(AuditRange),
}

impl RequestBody {
    pub fn kind(&self) -> RequestKind {
        match self {
            RequestBody::Handshake => RequestKind::Handshake,
            RequestBody::Login(_) => RequestKind::Login,
            RequestBody::Logout => RequestKind::Logout,
            RequestBody::CreateTopic(_) => RequestKind::CreateTopic,
            RequestBody::DeleteTopic(_) => RequestKind::DeleteTopic,
            RequestBody::AllTopics => RequestKind::AllTopics,
            RequestBody::Topics => RequestKind::Topics,
            RequestBody::ServiceBackupMap(_) => RequestKind::ServiceBackupMap,
            RequestBody::Publish(_) => RequestKind::Publish,
            RequestBody::Subscribe(_) => RequestKind::Subscribe,
            RequestBody::Commit(_) => RequestKind::Commit,
            RequestBody::Unsubscribe(_) => RequestKind::Unsubscribe,
            RequestBody::BeginTransaction(_) => RequestKind::BeginTransaction,
            RequestBody::CommitTransaction(_) => RequestKind::CommitTransaction,
            RequestBody::RollbackTransaction(_) => RequestKind::RollbackTransaction,
            RequestBody::AuditProof(_) => RequestKind::AuditProof,
        }
    }
}

/// `Login`: the bearer token. Who the user is comes from the token's
/// subject, never from `userName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub token: Token,
}

impl Login {
    fn from_fields(f: &Fields<'_>) -> Result<Self, FrameError> {
        match f.get("token") {
            None => Err(FrameError::MissingToken),
            Some(Value::String(s)) => {
                Token::new(s.as_str()).map(|token| Login { token }).ok_or(FrameError::MissingToken)
            }
            Some(_) => Err(FrameError::TokenNotAString),
        }
    }
}

/// Parses one text frame. Never panics, whatever `text` is; nesting deeper
/// than serde_json's recursion limit (128) is refused as bad JSON. A
/// one-message `Publish` takes a shorter road ([`fast`]) to the same result.
pub fn parse_request(text: &str) -> Result<Request, ProtocolError> {
    match fast::publish_one(text) {
        Some(request) => Ok(request),
        None => parse_general(text),
    }
}

/// Every frame's road: a `Value`, then its fields one by one.
fn parse_general(text: &str) -> Result<Request, ProtocolError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::new(None, FrameError::Json(e.to_string())))?;
    let Value::Object(map) = &value else {
        return Err(ProtocolError::new(None, FrameError::NotAnObject { found: json_type(&value) }));
    };
    let f = Fields::top(map);
    let request_id = match f.opt_str("requestId") {
        Ok(None) => None,
        Ok(Some(s)) => Some(RequestId::new(s).map_err(|e| ProtocolError::new(None, f.text_error("requestId", e)))?),
        Err(e) => return Err(ProtocolError::new(None, e)),
    };
    parse_fields(&f, request_id.clone()).map_err(|reason| ProtocolError::new(request_id, reason))
}

fn parse_fields(f: &Fields<'_>, request_id: Option<RequestId>) -> Result<Request, FrameError> {
    let kind = f.str("kind")?;
    let kind = RequestKind::from_wire(kind).ok_or_else(|| FrameError::UnknownKind(quote(kind)))?;
    let body = match kind {
        RequestKind::Handshake => RequestBody::Handshake,
        RequestKind::Login => RequestBody::Login(Login::from_fields(f)?),
        RequestKind::Logout => RequestBody::Logout,
        RequestKind::CreateTopic => RequestBody::CreateTopic(CreateTopic::from_fields(f)?),
        RequestKind::DeleteTopic => RequestBody::DeleteTopic(TopicRef::from_fields(f)?),
        RequestKind::AllTopics => RequestBody::AllTopics,
        RequestKind::Topics => RequestBody::Topics,
        RequestKind::ServiceBackupMap => RequestBody::ServiceBackupMap(TopicRef::from_fields(f)?),
        RequestKind::Publish => RequestBody::Publish(Publish::from_fields(f)?),
        RequestKind::Subscribe => RequestBody::Subscribe(Subscribe::from_fields(f)?),
        RequestKind::Commit => RequestBody::Commit(Commit::from_fields(f)?),
        RequestKind::Unsubscribe => RequestBody::Unsubscribe(Unsubscribe::from_fields(f)?),
        RequestKind::BeginTransaction => RequestBody::BeginTransaction(BeginTransaction::from_fields(f)?),
        RequestKind::CommitTransaction => RequestBody::CommitTransaction(TransactionRef::from_fields(f)?),
        RequestKind::RollbackTransaction => RequestBody::RollbackTransaction(TransactionRef::from_fields(f)?),
        RequestKind::AuditProof => RequestBody::AuditProof(AuditRange::from_fields(f)?),
    };
    let meta = RequestMeta {
        request_id,
        user_name: f.opt_checked("userName", check_label)?,
        device: f.opt_checked("device", check_label)?,
        timestamp: f.opt_timestamp("timestamp")?,
    };
    Ok(Request { meta, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::code::ErrorCode;
    use crate::protocol::text::TextError;

    fn refused(text: &str) -> ProtocolError {
        match parse_request(text) {
            Ok(r) => panic!("{text} parsed as {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn common_fields_are_read_for_every_kind() {
        let r = parse_request(
            r#"{"kind":"Topics","requestId":"r1","userName":"alice","device":"laptop",
                "timestamp":"2024-05-01T12:00:00Z","surprise":{"ignored":true}}"#,
        )
        .expect("valid");
        assert_eq!(r.body, RequestBody::Topics);
        assert_eq!(r.meta.request_id.as_ref().map(RequestId::as_str), Some("r1"));
        assert_eq!(r.meta.user_name.as_deref(), Some("alice"));
        assert_eq!(r.meta.device.as_deref(), Some("laptop"));
        assert_eq!(r.meta.timestamp.as_ref().map(Timestamp::as_str), Some("2024-05-01T12:00:00Z"));
    }

    #[test]
    fn bodyless_kinds_need_only_kind() {
        for (text, kind) in [
            (r#"{"kind":"Handshake"}"#, RequestKind::Handshake),
            (r#"{"kind":"Logout"}"#, RequestKind::Logout),
            (r#"{"kind":"AllTopics"}"#, RequestKind::AllTopics),
            (r#"{"kind":"Topics","requestId":null}"#, RequestKind::Topics),
        ] {
            let r = parse_request(text).expect(text);
            assert_eq!(r.kind(), kind);
            assert_eq!(r.meta, RequestMeta::default());
        }
    }

    #[test]
    fn malformed_frames_are_bad_requests_without_an_id() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for text in ["", "{", "{\"kind\":", "not json", "[]", "\"Login\"", "null", "42", "true", "{}}", &deep] {
            let e = refused(text);
            assert_eq!(e.code(), ErrorCode::BadRequest, "{text:.20}");
            assert_eq!(e.request_id, None);
        }
        assert_eq!(refused("[1]").reason, FrameError::NotAnObject { found: "an array" });
        assert_eq!(refused("null").reason, FrameError::NotAnObject { found: "null" });
        assert_eq!(refused("\"x\"").reason, FrameError::NotAnObject { found: "a string" });
    }

    #[test]
    fn kind_must_be_a_known_string() {
        assert_eq!(refused("{}").reason, FrameError::MissingField { field: "kind".into() });
        assert_eq!(refused(r#"{"kind":null}"#).reason, FrameError::MissingField { field: "kind".into() });
        assert!(matches!(refused(r#"{"kind":7}"#).reason, FrameError::WrongType { .. }));
        assert_eq!(refused(r#"{"kind":"Launch"}"#).reason, FrameError::UnknownKind("Launch".into()));
        assert!(matches!(refused(r#"{"kind":"Session"}"#).reason, FrameError::UnknownKind(_)));
        let long = format!(r#"{{"kind":"{}"}}"#, "K".repeat(100_000));
        let FrameError::UnknownKind(shown) = refused(&long).reason else { panic!("unknown kind expected") };
        assert!(shown.len() < 100, "a huge kind is not echoed whole");
    }

    #[test]
    fn request_id_is_echoed_when_the_rest_is_bad() {
        for text in [
            r#"{"requestId":"r-7"}"#,
            r#"{"requestId":"r-7","kind":"Nope"}"#,
            r#"{"requestId":"r-7","kind":"CreateTopic","topic":"../x"}"#,
            r#"{"requestId":"r-7","kind":"Publish","topic":"t","messageId":1,"messagePayload":"p"}"#,
            r#"{"requestId":"r-7","kind":"Topics","timestamp":"yesterday"}"#,
            r#"{"requestId":"r-7","kind":"Topics","userName":""}"#,
        ] {
            let e = refused(text);
            assert_eq!(e.code(), ErrorCode::BadRequest, "{text}");
            assert_eq!(e.request_id.as_ref().map(RequestId::as_str), Some("r-7"), "{text}");
            let reply: Value = serde_json::from_str(&e.to_reply().to_frame()).expect("json");
            assert_eq!(reply["requestId"], "r-7");
            assert_eq!(reply["kind"], "Error");
        }
    }

    #[test]
    fn a_bad_request_id_is_refused_and_not_echoed() {
        let text = format!(r#"{{"kind":"Handshake","requestId":"{}"}}"#, "x".repeat(65));
        let e = refused(&text);
        assert_eq!(
            e.reason,
            FrameError::Text { field: "requestId".into(), source: TextError::TooLong { len: 65, max: 64 } }
        );
        assert_eq!(e.request_id, None);
        assert!(matches!(refused(r#"{"kind":"Handshake","requestId":5}"#).reason, FrameError::WrongType { .. }));
        let ok = format!(r#"{{"kind":"Handshake","requestId":"{}"}}"#, "x".repeat(64));
        assert!(parse_request(&ok).is_ok());
    }

    #[test]
    fn login_needs_a_token_or_is_an_authorization_error() {
        let r = parse_request(r#"{"kind":"Login","userName":"alice","device":"laptop","token":"t0k"}"#).expect("valid");
        let RequestBody::Login(login) = r.body else { panic!("login expected") };
        assert_eq!(login.token.expose(), "t0k");
        for text in [
            r#"{"kind":"Login","requestId":"a","userName":"alice"}"#,
            r#"{"kind":"Login","requestId":"a","token":null}"#,
            r#"{"kind":"Login","requestId":"a","token":""}"#,
            r#"{"kind":"Login","requestId":"a","token":{"jwt":"x"}}"#,
        ] {
            let e = refused(text);
            assert_eq!(e.code(), ErrorCode::InvalidAuthorization, "{text}");
            assert_eq!(e.request_id.as_ref().map(RequestId::as_str), Some("a"));
        }
    }

    #[test]
    fn huge_numbers_are_refused_not_wrapped() {
        for text in [
            r#"{"kind":"Commit","topic":"t","partition":0,"offset":18446744073709551616}"#,
            r#"{"kind":"Commit","topic":"t","partition":4294967296,"offset":1}"#,
            r#"{"kind":"Commit","topic":"t","partition":0,"offset":1e400}"#,
            r#"{"kind":"Commit","topic":"t","partition":0,"offset":-1}"#,
            r#"{"kind":"CreateTopic","topic":"t","partitions":99999999999999999999999999}"#,
        ] {
            assert_eq!(refused(text).code(), ErrorCode::BadRequest, "{text}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix and a few mutations of a
        // rich frame.
        let rich = r#"{"kind":"Publish","requestId":"q","topic":"orders","scope":"local","messages":[{"messageId":"m1","messagePayload":"é\u0000","key":"k"}],"timeoutMs":5000,"transactionId":"t"}"#;
        for end in 0..=rich.len() {
            if let Some(prefix) = rich.get(..end) {
                let _ = parse_request(prefix);
            }
        }
        for (i, _) in rich.char_indices() {
            for patch in ["\"", "{", "]", "null", "-1", "\\u0000"] {
                let mut mutated = rich.to_owned();
                mutated.insert_str(i, patch);
                let _ = parse_request(&mutated);
            }
        }
    }
}
