//! A small client of the JSON WebSocket protocol, as an outside client
//! would use it: one socket, requests matched to replies by `requestId`,
//! pushes (`Message`, `SubscriptionEnd`) handed over in order.
//!
//! A reader task owns the socket's read half and a writer task its write
//! half, so a caller can wait for a reply while messages keep arriving.
//! The push queue is larger than any subscription's batch, so flow control
//! (not this queue) bounds it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

/// Pushes waiting for the caller.
const PUSH_QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("connection closed")]
    Closed,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("connect: {0}")]
    Connect(String),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

pub struct Conn {
    out: mpsc::Sender<String>,
    pending: Pending,
    pub pushes: mpsc::Receiver<Value>,
    next_id: AtomicU64,
    stop: CancellationToken,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Frames written before one flush at most.
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// Writes `first` and whatever else is already queued (up to
/// [`MAX_FRAMES_PER_FLUSH`]), then flushes once: pipelined requests leave
/// in a few socket writes instead of one write per frame.
async fn write_queued<S>(sink: &mut S, first: String, rx: &mut mpsc::Receiver<String>) -> Result<(), ()>
where
    S: futures::Sink<WsMessage> + Unpin,
{
    use futures::SinkExt;
    sink.feed(WsMessage::Text(first.into())).await.map_err(|_| ())?;
    for _ in 1..MAX_FRAMES_PER_FLUSH {
        match rx.try_recv() {
            Ok(text) => sink.feed(WsMessage::Text(text.into())).await.map_err(|_| ())?,
            Err(_) => break,
        }
    }
    sink.flush().await.map_err(|_| ())
}

impl Conn {
    /// Connects and logs in with `token` as `device`; returns the connection
    /// and the `Session` frame.
    pub async fn open(url: &str, token: &str, device: &str, within: Duration) -> Result<(Self, Value), WsError> {
        let (ws, _) = tokio::time::timeout(within, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| WsError::Timeout(within))?
            .map_err(|e| WsError::Connect(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::channel::<String>(256);
        let (push_tx, pushes) = mpsc::channel(PUSH_QUEUE);
        let pending: Pending = Arc::default();
        let stop = CancellationToken::new();
        let writer_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = writer_stop.cancelled() => break,
                    m = out_rx.recv() => match m {
                        Some(text) => if write_queued(&mut sink, text, &mut out_rx).await.is_err() { break },
                        None => break,
                    },
                }
            }
            let _ = sink.close().await;
        });
        let (reader_pending, reader_stop) = (pending.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    _ = reader_stop.cancelled() => break,
                    m = stream.next() => m,
                };
                let text = match msg {
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                let waiter = v["requestId"]
                    .as_str()
                    .and_then(|id| reader_pending.lock().expect("lock is never poisoned").remove(id));
                match waiter {
                    Some(w) => {
                        let _ = w.send(v);
                    }
                    None => {
                        if push_tx.send(v).await.is_err() {
                            break;
                        }
                    }
                }
            }
            reader_stop.cancel();
            reader_pending.lock().expect("lock is never poisoned").clear();
        });
        let conn = Self { out, pending, pushes, next_id: AtomicU64::new(1), stop };
        let session = conn.request(json!({"kind":"Login","token":token,"device":device}), within).await?;
        Ok((conn, session))
    }

    /// Sends a request and waits for its reply (success or `Error`).
    pub async fn request(&self, mut frame: Value, within: Duration) -> Result<Value, WsError> {
        let id = format!("r{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        frame["requestId"] = json!(id);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("lock is never poisoned").insert(id.clone(), tx);
        if self.stop.is_cancelled() || self.out.send(frame.to_string()).await.is_err() {
            self.pending.lock().expect("lock is never poisoned").remove(&id);
            return Err(WsError::Closed);
        }
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(WsError::Closed),
            Err(_) => {
                self.pending.lock().expect("lock is never poisoned").remove(&id);
                Err(WsError::Timeout(within))
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }
}
