//! The one task that writes to a connection's socket.

use futures::{Sink, SinkExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::outbox::Outgoing;

/// Frames written before one flush at most.
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// Sends queued frames until a close is queued, every producer is gone, or
/// the socket fails. Each frame's budget is returned once it is flushed.
pub async fn run<S>(mut sink: S, mut rx: mpsc::Receiver<Outgoing>)
where
    S: Sink<WsMessage, Error = WsError> + Unpin,
{
    let mut written = Vec::with_capacity(MAX_FRAMES_PER_FLUSH);
    while let Some(first) = rx.recv().await {
        // Feed what is already queued, then flush once: replies to a
        // pipelining client leave in a few socket writes, not one per frame.
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Outgoing::Text(text, permit) => {
                    if sink.feed(WsMessage::Text(text.into())).await.is_err() {
                        return;
                    }
                    written.push(permit);
                }
                Outgoing::Close(code, reason) => {
                    let _ = sink.flush().await;
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                    let _ = sink.close().await;
                    return;
                }
            }
            if written.len() < MAX_FRAMES_PER_FLUSH {
                next = rx.try_recv().ok();
            }
        }
        let flushed = sink.flush().await;
        // The frames' budget returns once they are on the socket.
        written.clear();
        if flushed.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}
