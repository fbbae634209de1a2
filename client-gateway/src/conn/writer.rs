//! The one task that writes to a connection's socket.

use futures::{Sink, SinkExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::outbox::Outgoing;

/// Sends queued frames until a close is queued, every producer is gone, or
/// the socket fails. Each frame's budget is returned once it is written.
pub async fn run<S>(mut sink: S, mut rx: mpsc::Receiver<Outgoing>)
where
    S: Sink<WsMessage, Error = WsError> + Unpin,
{
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Text(text, permit) => {
                let sent = sink.send(WsMessage::Text(text.into())).await;
                drop(permit);
                if sent.is_err() {
                    return;
                }
            }
            Outgoing::Close(code, reason) => {
                let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                let _ = sink.send(WsMessage::Close(Some(frame))).await;
                let _ = sink.close().await;
                return;
            }
        }
    }
    let _ = sink.close().await;
}
