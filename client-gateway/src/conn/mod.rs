//! One WebSocket connection: read frames, check them, answer them.
//!
//! The read loop parses every frame (never trusting it), enforces the
//! session rules (`Login` first, `userName` must be the token's subject),
//! and hands each request to its own task so that slow requests (a topic
//! creation, a publish waiting for fsync) never hold up the next frame.
//! Tasks answer through the connection's [`Outbox`], and a request-count
//! cap turns a flood into `RateLimited` answers instead of a pile of tasks.
//!
//! ```text
//! socket ─read─> parse ─> login / session checks ─> task per request ─┐
//!   ^                                    subscriptions ───────────────┤
//!   └──────── writer task <──── outbox (bounded in bytes) <───────────┘
//! ```

pub mod admin;
mod commit;
mod outbox;
mod publish;
mod publisher;
mod rate;
mod reader;
mod sequencer;
mod session;
mod subscribe;
mod subscription;
mod writer;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

pub use outbox::Outbox;
use rate::TokenBucket;
use session::Session;

use crate::backend::Failure;
use crate::protocol::{
    parse_request, ErrorCode, LoggedOut, Login, Request, RequestBody, RequestId, RequestMeta, Response, Timestamp,
};
use crate::server::Shared;

/// What a request handler needs: the gateway, the session, the way out.
#[derive(Clone)]
pub struct Ctx {
    pub shared: Arc<Shared>,
    pub session: Arc<Session>,
    pub outbox: Outbox,
    /// Cancelled when the connection ends.
    pub cancel: CancellationToken,
}

/// The answer to transaction requests until transactions are built.
pub fn no_transactions() -> Failure {
    Failure::new(ErrorCode::BadRequest, "transactions are not available on this gateway yet")
}

/// How long the writer may take to flush after the read loop ends.
const WRITER_GRACE: Duration = Duration::from_secs(5);

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;

enum Next {
    Continue,
    Stop,
}

struct Conn {
    shared: Arc<Shared>,
    outbox: Outbox,
    cancel: CancellationToken,
    session: Option<Arc<Session>>,
    in_flight: Arc<Semaphore>,
}

pub async fn serve<S>(ws: WebSocketStream<S>, shared: Arc<Shared>, server_cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = ws.split();
    let (outbox, rx) = Outbox::new(shared.config.send_buffer_bytes);
    let writer = tokio::spawn(writer::run(sink, rx));
    let in_flight = Arc::new(Semaphore::new(shared.config.max_in_flight as usize));
    let mut conn = Conn { shared, outbox, cancel: server_cancel.child_token(), session: None, in_flight };
    loop {
        let expiry = conn.expiry();
        let msg = tokio::select! {
            _ = conn.cancel.cancelled() => {
                conn.outbox.close(CLOSE_GOING_AWAY, "gateway shutting down").await;
                break;
            }
            _ = expiry => {
                conn.error(None, Failure::new(ErrorCode::InvalidAuthorization, "the token expired; log in again")).await;
                conn.outbox.close(CLOSE_POLICY, "token expired").await;
                break;
            }
            m = stream.next() => m,
        };
        match msg {
            None | Some(Ok(WsMessage::Close(_))) => break,
            Some(Err(WsError::Capacity(e))) => {
                let limit = conn.shared.config.max_frame_bytes;
                let f = Failure::new(ErrorCode::PayloadTooLarge, format!("frame over the {limit}-byte limit: {e}"));
                conn.error(None, f).await;
                conn.outbox.close(CLOSE_TOO_BIG, "frame too large").await;
                break;
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "connection read failed");
                break;
            }
            Some(Ok(WsMessage::Text(text))) => {
                if let Next::Stop = conn.on_text(text.as_str()).await {
                    break;
                }
            }
            Some(Ok(WsMessage::Binary(_))) => {
                let f =
                    Failure::new(ErrorCode::BadRequest, "binary frames are not part of the protocol; send JSON text");
                conn.error(None, f).await;
            }
            Some(Ok(_)) => {}
        }
    }
    conn.cancel.cancel();
    if let Some(s) = conn.session.take() {
        s.shutdown();
    }
    drop(conn);
    let _ = tokio::time::timeout(WRITER_GRACE, writer).await;
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Conn {
    /// Resolves when the session's token expires (never before Login).
    fn expiry(&self) -> impl Future<Output = ()> + use<> {
        let at = self.session.as_ref().map(|s| s.identity.expires_at);
        async move {
            match at {
                Some(exp) => tokio::time::sleep(Duration::from_secs(exp.saturating_sub(unix_now()))).await,
                None => std::future::pending().await,
            }
        }
    }

    async fn error(&self, request_id: Option<RequestId>, f: Failure) {
        let _ = self.outbox.reply(f.into_response().reply_to(request_id)).await;
    }

    async fn on_text(&mut self, text: &str) -> Next {
        let Request { meta, body } = match parse_request(text) {
            Ok(r) => r,
            Err(e) => {
                let _ = self.outbox.reply(e.to_reply()).await;
                return Next::Continue;
            }
        };
        let rid = meta.request_id.clone();
        match body {
            RequestBody::Handshake => {
                let shared = self.shared.clone();
                self.spawn(rid, async move { admin::handshake(&shared).await });
                Next::Continue
            }
            RequestBody::Login(login) => {
                self.login(meta, login).await;
                Next::Continue
            }
            _ if self.session.is_none() => {
                self.error(rid, Failure::new(ErrorCode::NotLoggedIn, "send Login first")).await;
                Next::Continue
            }
            body => {
                let session = self.session.clone().expect("checked above");
                if let Some(user) = meta.user_name.as_deref().filter(|u| *u != session.user()) {
                    let f =
                        Failure::new(ErrorCode::NotAuthorized, format!("userName {user:?} is not this session's user"));
                    self.error(rid, f).await;
                    return Next::Continue;
                }
                self.dispatch(session, meta, body).await
            }
        }
    }

    async fn dispatch(&mut self, session: Arc<Session>, meta: RequestMeta, body: RequestBody) -> Next {
        let ctx =
            Ctx { shared: self.shared.clone(), session, outbox: self.outbox.clone(), cancel: self.cancel.clone() };
        let rid = meta.request_id.clone();
        match body {
            RequestBody::Logout => {
                let s = &ctx.session;
                let reply = Response::Logout(LoggedOut {
                    user_name: s.user().to_string(),
                    device: s.device.clone(),
                    timestamp: now_timestamp(),
                    session_id: s.session_id.clone(),
                });
                let _ = self.outbox.reply(reply.reply_to(rid)).await;
                self.outbox.close(CLOSE_NORMAL, "logged out").await;
                Next::Stop
            }
            RequestBody::Subscribe(req) => {
                let Some(permit) = self.permit(&rid).await else { return Next::Continue };
                let (outbox, cancel) = (self.outbox.clone(), self.cancel.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    tokio::select! {
                        _ = cancel.cancelled() => {}
                        r = subscribe::subscribe(&ctx, &meta, req) => if let Err(f) = r {
                            let _ = outbox.reply(f.into_response().reply_to(meta.request_id)).await;
                        }
                    }
                });
                Next::Continue
            }
            RequestBody::Unsubscribe(req) => {
                self.spawn(rid, async move { subscribe::unsubscribe(&ctx, req).await });
                Next::Continue
            }
            RequestBody::Publish(req) => {
                let Some(permit) = self.permit(&rid).await else { return Next::Continue };
                if let Err(f) = ctx.session.sequencer(&ctx).submit(sequencer::Queued { meta, req, permit }) {
                    self.error(rid, f).await;
                }
                Next::Continue
            }
            RequestBody::Commit(req) => {
                self.spawn(rid, async move { commit::commit(&ctx, req).await });
                Next::Continue
            }
            RequestBody::CreateTopic(req) => {
                self.spawn(rid, async move { admin::create_topic(&ctx, req).await });
                Next::Continue
            }
            RequestBody::DeleteTopic(req) => {
                self.spawn(rid, async move { admin::delete_topic(&ctx, req).await });
                Next::Continue
            }
            RequestBody::AllTopics => {
                self.spawn(rid, async move { admin::all_topics(&ctx).await });
                Next::Continue
            }
            RequestBody::Topics => {
                self.spawn(rid, async move { admin::topics(&ctx).await });
                Next::Continue
            }
            RequestBody::ServiceBackupMap(req) => {
                self.spawn(rid, async move { admin::backup_map(&ctx, req).await });
                Next::Continue
            }
            RequestBody::BeginTransaction(_) => {
                self.error(rid, no_transactions()).await;
                Next::Continue
            }
            RequestBody::CommitTransaction(t) | RequestBody::RollbackTransaction(t) => {
                let f = Failure::new(ErrorCode::TransactionNotFound, format!("no transaction {}", t.transaction_id));
                self.error(rid, f).await;
                Next::Continue
            }
            RequestBody::AuditProof(_) => {
                self.error(
                    rid,
                    Failure::new(ErrorCode::BadRequest, "audit proofs are not available on this gateway yet"),
                )
                .await;
                Next::Continue
            }
            RequestBody::Handshake | RequestBody::Login(_) => unreachable!("handled before dispatch"),
        }
    }

    /// A slot for one more request in progress, or `RateLimited`.
    async fn permit(&self, rid: &Option<RequestId>) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match self.in_flight.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let max = self.shared.config.max_in_flight;
                let f = Failure::new(ErrorCode::RateLimited, format!("more than {max} requests in progress"));
                self.error(rid.clone(), f).await;
                None
            }
        }
    }

    /// Runs a handler in its own task and sends its answer.
    fn spawn<F>(&self, rid: Option<RequestId>, handler: F)
    where
        F: Future<Output = Result<Response, Failure>> + Send + 'static,
    {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            let outbox = self.outbox.clone();
            let max = self.shared.config.max_in_flight;
            tokio::spawn(async move {
                let f = Failure::new(ErrorCode::RateLimited, format!("more than {max} requests in progress"));
                let _ = outbox.reply(f.into_response().reply_to(rid)).await;
            });
            return;
        };
        let (outbox, cancel) = (self.outbox.clone(), self.cancel.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let answer = tokio::select! {
                _ = cancel.cancelled() => return,
                a = handler => a,
            };
            let response = answer.unwrap_or_else(Failure::into_response);
            let _ = outbox.reply(response.reply_to(rid)).await;
        });
    }

    async fn login(&mut self, meta: RequestMeta, login: Login) {
        let rid = meta.request_id.clone();
        let identity = match self.shared.verifier.verify(login.token.expose(), unix_now()) {
            Ok(i) => i,
            Err(e) => return self.error(rid, Failure::new(ErrorCode::InvalidAuthorization, e.reason())).await,
        };
        if let Some(user) = meta.user_name.as_deref().filter(|u| *u != identity.user) {
            let f = Failure::new(ErrorCode::NotAuthorized, format!("userName {user:?} is not the token's subject"));
            return self.error(rid, f).await;
        }
        if let Some(current) = &self.session {
            if current.user() != identity.user {
                let f = Failure::new(ErrorCode::NotAuthorized, format!("already logged in as {:?}", current.user()));
                return self.error(rid, f).await;
            }
        }
        let device = meta
            .device
            .clone()
            .or_else(|| self.session.as_ref().map(|s| s.device.clone()))
            .unwrap_or_else(|| DEFAULT_DEVICE.to_string());
        let Some(slot) = self.shared.users.try_acquire(&identity.user) else {
            let max = self.shared.config.max_connections_per_user;
            let f = Failure::new(ErrorCode::RateLimited, format!("more than {max} connections for this user"));
            return self.error(rid, f).await;
        };
        let config = &self.shared.config;
        let rate = TokenBucket::new(config.publish_rate, config.publish_burst);
        let timestamp = meta.timestamp.clone().unwrap_or_else(now_timestamp);
        let session = Arc::new(Session::new(identity, device, timestamp, rate, slot));
        let ctx = Ctx {
            shared: self.shared.clone(),
            session: session.clone(),
            outbox: self.outbox.clone(),
            cancel: self.cancel.clone(),
        };
        let topics = match admin::subscriptions(&ctx, Some(&session.device)).await {
            Ok(t) => t,
            Err(f) => return self.error(rid, f).await,
        };
        if let Some(old) = self.session.replace(session.clone()) {
            // A new token for the same user: keep the live subscriptions.
            let subs: Vec<_> = old.subscriptions.lock().expect("lock is never poisoned").drain().collect();
            session.subscriptions.lock().expect("lock is never poisoned").extend(subs);
        }
        let reply = Response::Session(crate::protocol::Session {
            user_name: session.user().to_string(),
            device: session.device.clone(),
            timestamp: session.timestamp.clone(),
            session_id: session.session_id.clone(),
            topics,
        });
        let _ = self.outbox.reply(reply.reply_to(rid)).await;
    }
}

/// The device (hence default group) of a session whose Login names none.
pub const DEFAULT_DEVICE: &str = "default";

fn now_timestamp() -> Timestamp {
    Timestamp::from_unix_millis(publish::now_millis())
}
