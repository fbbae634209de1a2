//! The WebSocket publisher of the publish figures: one task owning one
//! socket, as lean as the JetStream side's (`jetstream::ws`), so the two
//! systems' figures measure the servers and not the benchmark's clients.
//!
//! Why not [`zya_client::ws::Conn`]: it is a general client (a reader and a
//! writer task, a shared map of waiters, a oneshot and a parsed
//! `serde_json::Value` per reply). On this 2-core machine, which the client
//! shares with the servers, it cost as much CPU per message as a storage
//! node. Here a window of frames is written before one flush, and each
//! reply is decoded into a borrowed struct of the three fields checked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::super::stats::Latencies;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct PublishFrame<'a> {
    kind: &'static str,
    #[serde(rename = "requestId")]
    request_id: &'a str,
    topic: &'a str,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    #[serde(rename = "messagePayload")]
    payload: &'a str,
    #[serde(rename = "timeoutMs")]
    timeout_ms: u64,
}

/// The fields of a reply the publisher checks; the rest is skipped.
#[derive(Deserialize)]
struct ReplyFrame<'a> {
    kind: &'a str,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<&'a str>,
    #[serde(default)]
    duplicate: bool,
}

pub struct Publisher {
    ws: Socket,
}

impl Publisher {
    /// Opens a socket and logs in with `token` as `device`.
    pub async fn connect(url: &str, token: &str, device: &str) -> anyhow::Result<Self> {
        let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .context("connect timed out")?
            .with_context(|| format!("connect to {url}"))?;
        let login = serde_json::json!({"kind":"Login","requestId":"login","token":token,"device":device});
        ws.send(WsMessage::Text(login.to_string().into())).await.context("send Login")?;
        loop {
            let text = next_text(&mut ws).await?;
            let reply: ReplyFrame<'_> = serde_json::from_str(text.as_str()).context("a reply that is not JSON")?;
            if reply.request_id == Some("login") {
                if reply.kind != "Session" {
                    bail!("login refused: {text}");
                }
                return Ok(Self { ws });
            }
        }
    }

    /// `window` publishes of `size` bytes awaiting their `Published` at
    /// once, ids `{prefix}-{i}`, until `count` or `max_time`. A reply other
    /// than `Published`, or a duplicate (ids are unique), fails the run.
    pub async fn publish(
        &mut self,
        topic: &str,
        prefix: &str,
        size: usize,
        window: usize,
        count: usize,
        max_time: Duration,
    ) -> anyhow::Result<(u64, Duration, Latencies)> {
        let payload = "z".repeat(size);
        let start = Instant::now();
        let deadline = start + max_time;
        let mut lat = Latencies::new();
        let mut in_flight: HashMap<String, Instant> = HashMap::with_capacity(window);
        let mut sent = 0usize;
        loop {
            let mut wrote = false;
            while in_flight.len() < window.max(1) && sent < count && Instant::now() < deadline {
                let id = format!("{prefix}-{sent}");
                let frame = PublishFrame {
                    kind: "Publish",
                    request_id: &id,
                    topic,
                    message_id: &id,
                    payload: &payload,
                    timeout_ms: 10_000,
                };
                let text = serde_json::to_string(&frame)?;
                in_flight.insert(id, Instant::now());
                self.ws.feed(WsMessage::Text(text.into())).await.context("websocket send")?;
                sent += 1;
                wrote = true;
            }
            if wrote {
                self.ws.flush().await.context("websocket flush")?;
            }
            if in_flight.is_empty() {
                return Ok((lat.len(), start.elapsed(), lat));
            }
            let text = next_text(&mut self.ws).await?;
            let reply: ReplyFrame<'_> = serde_json::from_str(text.as_str()).context("a reply that is not JSON")?;
            let Some(t) = reply.request_id.and_then(|id| in_flight.remove(id)) else { continue };
            if reply.kind != "Published" {
                bail!("wanted Published, got {text}");
            }
            if reply.duplicate {
                bail!("a unique message id was answered as a duplicate: {text}");
            }
            lat.record(t.elapsed());
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The next text frame, within [`WAIT`].
async fn next_text(ws: &mut Socket) -> anyhow::Result<Utf8Bytes> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .context("nothing received within 10 s")?
            .context("the gateway closed the websocket")??;
        match frame {
            WsMessage::Text(t) => return Ok(t),
            WsMessage::Close(c) => bail!("the gateway closed the websocket: {c:?}"),
            _ => continue,
        }
    }
}
