//! `zya publish` and `zya subscribe`: the JSON WebSocket protocol from the
//! command line, through a gateway like any browser, logged in with a
//! development token minted from the cluster's secret.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::token::{mint, SecretArgs};

/// Attempts of one publish before giving up on retryable errors.
const PUBLISH_ATTEMPTS: usize = 3;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Args, Debug)]
pub struct Connection {
    /// The gateway's WebSocket URL.
    #[arg(long, env = "ZYA_GATEWAY", default_value = "ws://127.0.0.1:8080/v1/ws")]
    gateway: String,
    /// Log in as this user (a development token is minted for it).
    #[arg(long, default_value = "alice")]
    user: String,
    /// The device name (also the default consumer group).
    #[arg(long, default_value = "cli")]
    device: String,
    #[command(flatten)]
    secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    topic: String,
    /// The payload (a string).
    payload: String,
    /// `global` or `local` (the user's own namespace).
    #[arg(long, default_value = "global")]
    scope: String,
    /// Message id; default: a random one. Publishing an id again is a no-op.
    #[arg(long)]
    id: Option<String>,
    /// Partition key.
    #[arg(long)]
    key: Option<String>,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args, Debug)]
pub struct SubscribeArgs {
    topic: String,
    #[arg(long, default_value = "global")]
    scope: String,
    /// Beginning, Latest, Committed, or LastN:<n>.
    #[arg(long, default_value = "Committed")]
    from: String,
    /// Consumer group; default: the device name.
    #[arg(long)]
    group: Option<String>,
    /// Do not commit what is printed (it is delivered again next time).
    #[arg(long)]
    no_commit: bool,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    conn: Connection,
}

/// Connects and logs in; returns the socket.
async fn login(c: &Connection) -> anyhow::Result<Socket> {
    let token = mint(&c.secret, zya_gateway::auth::DEFAULT_DEV_ISSUER, &c.user, false, "1h")?;
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(&c.gateway))
        .await
        .context("connecting to the gateway timed out")?
        .with_context(|| format!("connect to {}", c.gateway))?;
    let reply = request(&mut ws, json!({"kind":"Login","requestId":"login","token":token,"device":c.device})).await?;
    expect(&reply, "Session")?;
    Ok(ws)
}

/// Sends a request and waits for the frame answering it.
async fn request(ws: &mut Socket, frame: Value) -> anyhow::Result<Value> {
    let id = frame["requestId"].clone();
    ws.send(WsMessage::Text(frame.to_string().into())).await?;
    loop {
        let v = next_frame(ws, Duration::from_secs(30)).await?.context("the gateway closed the connection")?;
        if v["requestId"] == id {
            return Ok(v);
        }
    }
}

async fn next_frame(ws: &mut Socket, within: Duration) -> anyhow::Result<Option<Value>> {
    loop {
        let msg = match tokio::time::timeout(within, ws.next()).await {
            Err(_) => bail!("no answer from the gateway within {within:?}"),
            Ok(None) => return Ok(None),
            Ok(Some(m)) => m?,
        };
        match msg {
            WsMessage::Text(t) => return Ok(Some(serde_json::from_str(t.as_str())?)),
            WsMessage::Close(_) => return Ok(None),
            _ => continue,
        }
    }
}

fn expect(v: &Value, kind: &str) -> anyhow::Result<()> {
    if v["kind"] == kind {
        return Ok(());
    }
    bail!("{}: {}", v["code"].as_str().unwrap_or("unexpected answer"), v["message"].as_str().unwrap_or(&v.to_string()))
}

pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    let mut ws = login(&args.conn).await?;
    let id = args.id.unwrap_or_else(|| format!("cli-{:016x}", rand::random::<u64>()));
    let mut frame = json!({"kind":"Publish","requestId":"p","topic":args.topic,"scope":args.scope,
        "messageId":id,"messagePayload":args.payload});
    if let Some(k) = args.key {
        frame["key"] = json!(k);
    }
    // Timeout, Unavailable and RateLimited are retryable, and a retry with
    // the same messageId never appends twice.
    let mut reply = request(&mut ws, frame.clone()).await?;
    for _ in 1..PUBLISH_ATTEMPTS {
        let code = reply["code"].as_str().unwrap_or("");
        if reply["kind"] == "Published" || !matches!(code, "Timeout" | "Unavailable" | "RateLimited") {
            break;
        }
        eprintln!("{code}: {}; retrying with the same id", reply["message"].as_str().unwrap_or(""));
        tokio::time::sleep(Duration::from_millis(200)).await;
        reply = request(&mut ws, frame.clone()).await?;
    }
    expect(&reply, "Published")?;
    println!(
        "published {} at partition {} offset {}{}",
        reply["messageId"].as_str().unwrap_or(""),
        reply["partition"],
        reply["offset"],
        if reply["duplicate"] == true { " (duplicate: already there)" } else { "" }
    );
    let _ = ws.close(None).await;
    Ok(())
}

pub async fn subscribe(args: SubscribeArgs) -> anyhow::Result<()> {
    let mut ws = login(&args.conn).await?;
    let reader = match args.from.split_once(':') {
        Some(("LastN", n)) => json!({"from":"LastN","count":n.parse::<u64>().context("LastN:<count>")?}),
        _ => json!({"from": args.from}),
    };
    let mut frame = json!({"kind":"Subscribe","requestId":"s","topic":args.topic,"scope":args.scope,"reader":reader});
    if let Some(g) = &args.group {
        frame["group"] = json!(g);
    }
    let reply = request(&mut ws, frame).await?;
    expect(&reply, "Subscribed")?;
    eprintln!("subscribed to {} as group {} (Ctrl-C to stop)", args.topic, reply["group"]);
    let mut seen = 0u64;
    while args.count.is_none_or(|c| seen < c) {
        let Some(v) = next_frame(&mut ws, Duration::from_secs(24 * 3600)).await? else { break };
        match v["kind"].as_str() {
            Some("Message") => {
                seen += 1;
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    v["partition"],
                    v["offset"],
                    v["messageId"].as_str().unwrap_or(""),
                    v["userName"].as_str().unwrap_or(""),
                    v["messagePayload"].as_str().unwrap_or("")
                );
                if !args.no_commit {
                    let commit = json!({"kind":"Commit","topic":args.topic,"scope":args.scope,
                        "partition":v["partition"],"offset":v["offset"]});
                    ws.send(WsMessage::Text(commit.to_string().into())).await?;
                }
            }
            Some("SubscriptionEnd") => break,
            Some("Error") => eprintln!("error: {} {}", v["code"], v["message"]),
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}
