//! Measurements through the gateway's JSON WebSocket protocol, the path a
//! browser takes: one socket, `Publish` requests answered by `Published`
//! once the message is committed by a majority (fsynced), `Subscribe` with
//! flow control and `Commit`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use zya_client::ws::Conn;

use super::super::figures::{Case, Figure, Load};
use super::super::stats::Latencies;
use super::ws_publisher::Publisher;

const CALL: Duration = Duration::from_secs(10);
/// Messages a subscription may hold uncommitted (the protocol's flow control).
const BATCH: u64 = 1000;

pub async fn connect(url: &str, token: &str, device: &str) -> anyhow::Result<Conn> {
    let (conn, session) = Conn::open(url, token, device, CALL).await.with_context(|| format!("connect to {url}"))?;
    if session["kind"] != "Session" {
        bail!("login refused: {session}");
    }
    Ok(conn)
}

fn publish_frame(topic: &str, id: String, payload: &str) -> Value {
    json!({"kind":"Publish","topic":topic,"messageId":id,"messagePayload":payload,"timeoutMs":10_000})
}

fn expect(reply: Value, kind: &str) -> anyhow::Result<Value> {
    if reply["kind"] != kind {
        bail!("wanted {kind}, got {reply}");
    }
    Ok(reply)
}

/// Publishes `count` messages (at most, within `max_time`) on a socket of
/// their own, `window` at a time: see [`Publisher`] for why not on `Conn`.
async fn publish(
    target: &Target<'_>,
    prefix: &str,
    size: usize,
    window: usize,
    count: usize,
    max_time: Duration,
) -> anyhow::Result<(u64, Duration, Latencies)> {
    let mut publisher = Publisher::connect(target.url, target.token, &format!("bench-{prefix}")).await?;
    let out = publisher.publish(target.topic, prefix, size, window, count, max_time).await;
    publisher.close().await;
    out
}

/// Where the publishing runs send: the gateway, a login token and a topic.
pub struct Target<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub topic: &'a str,
}

pub async fn publish_one_in_flight(target: &Target<'_>, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(target, "ws-one", case.size, 1, load.one_in_flight, load.max_time).await?;
    Ok(case.publish_figures("publish_one_in_flight", n, elapsed, &lat))
}

pub async fn publish_pipelined(target: &Target<'_>, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(target, "ws-pipe", case.size, load.window, load.pipelined, load.max_time).await?;
    Ok(case.publish_figures("publish_pipelined", n, elapsed, &lat))
}

async fn subscribe(conn: &Conn, topic: &str, group: &str, from: &str) -> anyhow::Result<String> {
    let frame = json!({"kind":"Subscribe","topic":topic,"group":group,"reader":{"from":from},
        "batchSize":BATCH,"commitRatio":0.5});
    let reply = expect(conn.request(frame, CALL).await?, "Subscribed")?;
    Ok(reply["subscriptionId"].as_str().unwrap_or_default().to_string())
}

async fn commit(conn: &Conn, topic: &str, group: &str, partition: u64, up_to: u64) -> anyhow::Result<()> {
    let frame = json!({"kind":"Commit","topic":topic,"group":group,"partition":partition,"upTo":up_to});
    expect(conn.request(frame, CALL).await?, "Committed")?;
    Ok(())
}

/// Waits for the next `Message` push of subscription `sub`.
async fn next_message(conn: &mut Conn, sub: &str) -> anyhow::Result<Value> {
    loop {
        let v = tokio::time::timeout(CALL, conn.pushes.recv())
            .await
            .context("no delivery within 10 s")?
            .context("the gateway closed the connection")?;
        if v["kind"] == "Message" && v["subscriptionId"] == sub {
            return Ok(v);
        }
        if v["kind"] == "SubscriptionEnd" {
            bail!("subscription ended: {v}");
        }
    }
}

/// Publish on one connection → delivery on another, one message at a time.
pub async fn end_to_end(
    publisher: &Conn,
    subscriber: &mut Conn,
    topic: &str,
    case: Case,
    load: &Load,
) -> anyhow::Result<Vec<Figure>> {
    let group = format!("e2e-{}-{}", case.size, case.replicas);
    let sub = subscribe(subscriber, topic, &group, "Latest").await?;
    let payload = "z".repeat(case.size);
    let mut lat = Latencies::new();
    let deadline = Instant::now() + load.max_time;
    for i in 0..load.end_to_end {
        if Instant::now() > deadline {
            break;
        }
        let t = Instant::now();
        let id = format!("ws-e2e-{i}");
        let (published, delivered) = tokio::join!(
            publisher.request(publish_frame(topic, id.clone(), &payload), CALL),
            next_message(subscriber, &sub)
        );
        expect(published?, "Published")?;
        let m = delivered?;
        lat.record(t.elapsed());
        if m["messageId"] != id.as_str() {
            bail!("delivered {} while waiting for {id}", m["messageId"]);
        }
        commit(subscriber, topic, &group, m["partition"].as_u64().unwrap_or(0), m["offset"].as_u64().unwrap_or(0))
            .await?;
    }
    Ok(case.latency_figures("end_to_end", &lat))
}

/// Writes `load.catch_up` messages (not timed), then reads the topic from
/// the beginning through a subscription, committing every half batch.
pub async fn catch_up_read(
    conn: &mut Conn,
    target: &Target<'_>,
    case: Case,
    load: &Load,
) -> anyhow::Result<Vec<Figure>> {
    let topic = target.topic;
    publish(target, "ws-fill", case.size, load.window, load.catch_up, load.max_time * 3).await?;
    let group = format!("catch-up-{}-{}", case.size, case.replicas);
    let start = Instant::now();
    let deadline = start + load.max_time;
    let sub = subscribe(conn, topic, &group, "Beginning").await?;
    let mut read = 0u64;
    while read < load.catch_up as u64 && Instant::now() < deadline {
        let m = next_message(conn, &sub).await?;
        read += 1;
        if read.is_multiple_of(BATCH / 2) {
            let (p, o) = (m["partition"].as_u64().unwrap_or(0), m["offset"].as_u64().unwrap_or(0));
            commit(conn, topic, &group, p, o).await?;
        }
    }
    let rate = read as f64 / start.elapsed().as_secs_f64();
    Ok(vec![case.figure("catch_up_read", "msg/s", rate)])
}
