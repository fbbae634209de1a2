//! JetStream publishes over the NATS WebSocket listener, the path a browser
//! takes with nats.ws: a minimal NATS protocol client (CONNECT, SUB to a
//! reply inbox, `HPUB subject inbox header_size size` with a message id,
//! MSG parsing) over tokio-tungstenite, one binary frame per publish, frames
//! of a window written before one flush. Every PubAck's JSON is checked for
//! an error and for a duplicate (ids are unique, so one would mean the
//! message was not stored).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::super::figures::{Case, Figure, Load};
use super::super::stats::Latencies;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const INBOX: &str = "_INBOX.zyabench";
const WAIT: Duration = Duration::from_secs(10);

struct Raw {
    ws: Socket,
    /// Bytes received and not parsed yet (a protocol line may span frames).
    buf: Vec<u8>,
}

/// One parsed server message.
enum Incoming {
    /// A message on our inbox: the publish id and the PubAck JSON.
    Reply(u64, Vec<u8>),
    Ping,
    Other,
}

impl Raw {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .context("connect timed out")?
            .with_context(|| format!("connect to {url}"))?;
        let mut raw = Self { ws, buf: Vec::new() };
        let connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n";
        raw.send(format!("{connect}SUB {INBOX}.* 1\r\nPING\r\n").into_bytes()).await?;
        raw.ws.flush().await?;
        // The server's INFO comes first; PONG answers our PING once CONNECT
        // and SUB are processed.
        loop {
            let line = raw.next_line().await?;
            if line.starts_with(b"PONG") {
                return Ok(raw);
            }
            if line.starts_with(b"-ERR") {
                bail!("nats: {}", String::from_utf8_lossy(&line));
            }
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws.feed(WsMessage::Binary(bytes.into())).await.context("websocket send")
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .context("nothing received within 10 s")?
                .context("the server closed the websocket")??;
            match frame {
                WsMessage::Binary(b) => self.buf.extend_from_slice(&b),
                WsMessage::Text(t) => self.buf.extend_from_slice(t.as_bytes()),
                WsMessage::Close(_) => bail!("the server closed the websocket"),
                _ => continue,
            }
            return Ok(());
        }
    }

    /// The next protocol line without its CRLF.
    async fn next_line(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..pos].to_vec();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn next_message(&mut self) -> anyhow::Result<Incoming> {
        let line = self.next_line().await?;
        if line.starts_with(b"PING") {
            return Ok(Incoming::Ping);
        }
        if line.starts_with(b"-ERR") {
            bail!("nats: {}", String::from_utf8_lossy(&line));
        }
        if !line.starts_with(b"MSG ") {
            return Ok(Incoming::Other);
        }
        // MSG <subject> <sid> [reply-to] <#bytes>
        let text = String::from_utf8_lossy(&line).to_string();
        let fields: Vec<&str> = text.split_whitespace().collect();
        let size: usize = fields.last().and_then(|f| f.parse().ok()).context("MSG without a size")?;
        while self.buf.len() < size + 2 {
            self.fill().await?;
        }
        let payload = self.buf[..size].to_vec();
        self.buf.drain(..size + 2);
        let id = fields.get(1).and_then(|s| s.rsplit('.').next()).and_then(|s| s.parse().ok());
        Ok(match id {
            Some(id) => Incoming::Reply(id, payload),
            None => Incoming::Other,
        })
    }
}

/// `window` publishes awaiting their PubAck at once, until `count` or
/// `max_time`. Each carries the message id `{prefix}-{i}` in a
/// `Nats-Msg-Id` header (`HPUB`), as the native path does (see
/// `native::with_id` for why).
async fn publish(
    url: &str,
    prefix: &str,
    size: usize,
    window: usize,
    count: usize,
    max_time: Duration,
) -> anyhow::Result<(u64, Duration, Latencies)> {
    let mut raw = Raw::connect(url).await?;
    let payload = vec![b'w'; size];
    let start = Instant::now();
    let deadline = start + max_time;
    let mut lat = Latencies::new();
    let mut in_flight: HashMap<u64, Instant> = HashMap::new();
    let mut sent = 0u64;
    loop {
        let mut wrote = false;
        while in_flight.len() < window && (sent as usize) < count && Instant::now() < deadline {
            let headers = format!("NATS/1.0\r\nNats-Msg-Id: {prefix}-{sent}\r\n\r\n");
            let total = headers.len() + size;
            let mut frame = format!("HPUB bench.x {INBOX}.{sent} {} {total}\r\n{headers}", headers.len()).into_bytes();
            frame.extend_from_slice(&payload);
            frame.extend_from_slice(b"\r\n");
            in_flight.insert(sent, Instant::now());
            raw.send(frame).await?;
            sent += 1;
            wrote = true;
        }
        if wrote {
            raw.ws.flush().await?;
        }
        if in_flight.is_empty() {
            break;
        }
        match raw.next_message().await? {
            Incoming::Reply(id, ack) => {
                if ack.windows(7).any(|w| w == b"\"error\"") {
                    bail!("PubAck error: {}", String::from_utf8_lossy(&ack));
                }
                if ack.windows(16).any(|w| w == b"\"duplicate\":true") {
                    bail!("PubAck of a duplicate for a unique id: {}", String::from_utf8_lossy(&ack));
                }
                if let Some(t) = in_flight.remove(&id) {
                    lat.record(t.elapsed());
                }
            }
            Incoming::Ping => {
                raw.send(b"PONG\r\n".to_vec()).await?;
                raw.ws.flush().await?;
            }
            Incoming::Other => {}
        }
    }
    let _ = raw.ws.close(None).await;
    Ok((lat.len(), start.elapsed(), lat))
}

pub async fn publish_one_in_flight(url: &str, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(url, "ws-one", case.size, 1, load.one_in_flight, load.max_time).await?;
    Ok(case.publish_figures("publish_one_in_flight", n, elapsed, &lat))
}

pub async fn publish_pipelined(url: &str, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(url, "ws-pipe", case.size, load.window, load.pipelined, load.max_time).await?;
    Ok(case.publish_figures("publish_pipelined", n, elapsed, &lat))
}
