//! JetStream over its TCP client protocol with the `async-nats` crate (path
//! `grpc` in the figures: each system's native client protocol).
//!
//! Publishes go to a connection to the stream leader's server (as the
//! anchor's Python suite did), and each waits for its PubAck: the same
//! promise as Zya's acknowledgment, except that JetStream 2.9 acknowledges
//! from the page cache. Catch-up reads use a durable pull consumer with
//! `AckPolicy::All`, acknowledging every half batch: the fair equivalent of
//! committing a consumer group's offset.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::StreamExt;

use super::super::figures::{Case, Figure, Load};
use super::super::stats::{windowed, Latencies};
use super::cluster;

pub const STREAM: &str = "BENCH";
const SUBJECT: &str = "bench.x";
const ACK_WITHIN: Duration = Duration::from_secs(10);
/// Messages per pull and per acknowledgment pair in catch-up reads.
const BATCH: usize = 1000;

/// Deletes and recreates the stream with `replicas`; returns a JetStream
/// context on a connection to the stream leader's server, the stream, and
/// the leader's node index.
pub async fn fresh_stream(replicas: u32) -> anyhow::Result<(jetstream::Context, stream::Stream, usize)> {
    let any = async_nats::connect(cluster::client_url(0)).await.context("connect to nats-server n1")?;
    let js = jetstream::new(any);
    let _ = js.delete_stream(STREAM).await;
    let config = stream::Config {
        name: STREAM.into(),
        subjects: vec!["bench.>".into()],
        storage: stream::StorageType::File,
        num_replicas: replicas as usize,
        ..Default::default()
    };
    let mut s = js.create_stream(config).await.context("create the stream")?;
    let until = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let info = s.info().await.context("stream info")?;
        if let Some(l) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
            break l;
        }
        anyhow::ensure!(Instant::now() < until, "the stream has no leader after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let i = cluster::index_of(&leader).with_context(|| format!("unknown stream leader {leader}"))?;
    let client = async_nats::connect(cluster::client_url(i)).await.context("connect to the stream leader")?;
    let js = jetstream::new(client);
    let s = js.get_stream(STREAM).await.context("get the stream")?;
    Ok((js, s, i))
}

/// A publish of `payload` carrying the message id `id`.
///
/// Every Zya message has an id its partition deduplicates (the protocol
/// requires one), so the same workload gives every JetStream message a
/// unique `Nats-Msg-Id`, which JetStream deduplicates within the stream's
/// duplicate window. Measured on one machine, alternated, RF3 pipelined:
/// the ids took JetStream from 28.2k to 21.5k msg/s at 128 B.
pub fn with_id(id: String, payload: Bytes) -> jetstream::context::Publish {
    jetstream::context::Publish::build().payload(payload).message_id(id)
}

/// Fails on a PubAck that reports a duplicate: every id is unique, so one
/// would mean the message was not stored and the run measured less work.
fn stored(ack: jetstream::publish::PublishAck) -> anyhow::Result<()> {
    anyhow::ensure!(!ack.duplicate, "PubAck of a duplicate for a unique id (the message was not stored)");
    Ok(())
}

/// `window` publishes awaiting their PubAck at once, until `count` or
/// `max_time`; message ids are `{prefix}-{i}`.
pub async fn publish(
    js: &jetstream::Context,
    prefix: &str,
    size: usize,
    window: usize,
    count: usize,
    max_time: Duration,
) -> anyhow::Result<(u64, Duration, Latencies)> {
    let payload = Bytes::from(vec![b'n'; size]);
    windowed(window, count, max_time, |i| {
        let publish = with_id(format!("{prefix}-{i}"), payload.clone());
        async move {
            let t = Instant::now();
            let ack = js.send_publish(SUBJECT, publish).await.context("publish")?;
            let ack = tokio::time::timeout(ACK_WITHIN, std::future::IntoFuture::into_future(ack))
                .await
                .context("no PubAck within 10 s")??;
            stored(ack)?;
            Ok(t.elapsed())
        }
    })
    .await
}

pub async fn publish_one_in_flight(js: &jetstream::Context, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(js, "one", case.size, 1, load.one_in_flight, load.max_time).await?;
    Ok(case.publish_figures("publish_one_in_flight", n, elapsed, &lat))
}

pub async fn publish_pipelined(js: &jetstream::Context, case: Case, load: &Load) -> anyhow::Result<Vec<Figure>> {
    let (n, elapsed, lat) = publish(js, "pipe", case.size, load.window, load.pipelined, load.max_time).await?;
    Ok(case.publish_figures("publish_pipelined", n, elapsed, &lat))
}

/// Publish → receipt by a pull consumer (new messages only, each acked),
/// one message at a time.
pub async fn end_to_end(
    js: &jetstream::Context,
    s: &stream::Stream,
    case: Case,
    load: &Load,
) -> anyhow::Result<Vec<Figure>> {
    let c = s
        .create_consumer(consumer::pull::Config {
            durable_name: Some(format!("e2e{}r{}", case.size, case.replicas)),
            deliver_policy: consumer::DeliverPolicy::New,
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .context("create the e2e consumer")?;
    let mut messages = c.messages().await.context("consume")?;
    let payload = Bytes::from(vec![b'e'; case.size]);
    let mut lat = Latencies::new();
    let deadline = Instant::now() + load.max_time;
    for i in 0..load.end_to_end {
        if Instant::now() > deadline {
            break;
        }
        let t = Instant::now();
        let ack = js.send_publish(SUBJECT, with_id(format!("e2e-{i}"), payload.clone())).await?;
        let (acked, got) =
            tokio::join!(std::future::IntoFuture::into_future(ack), tokio::time::timeout(ACK_WITHIN, messages.next()));
        stored(acked.context("PubAck")?)?;
        let m = got.context("no delivery within 10 s")?.context("the consumer stream ended")?;
        let m = m.map_err(|e| anyhow::anyhow!("delivery: {e}"))?;
        lat.record(t.elapsed());
        m.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
    Ok(case.latency_figures("end_to_end", &lat))
}

/// Writes `load.catch_up` messages (not timed), then reads the stream from
/// its start with a durable pull consumer, acknowledging (AckAll) every
/// half batch.
pub async fn catch_up_read(
    js: &jetstream::Context,
    s: &stream::Stream,
    case: Case,
    load: &Load,
) -> anyhow::Result<Vec<Figure>> {
    let (written, _, _) = publish(js, "cu", case.size, load.window, load.catch_up, load.max_time * 3).await?;
    let c = s
        .create_consumer(consumer::pull::Config {
            durable_name: Some(format!("catchup{}r{}", case.size, case.replicas)),
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::All,
            max_ack_pending: (BATCH * 4) as i64,
            ..Default::default()
        })
        .await
        .context("create the catch-up consumer")?;
    let start = Instant::now();
    let deadline = start + load.max_time;
    let mut messages = c.stream().max_messages_per_batch(BATCH).messages().await.context("consume")?;
    let mut read = 0u64;
    while read < written && Instant::now() < deadline {
        let m = match tokio::time::timeout(ACK_WITHIN, messages.next()).await {
            Ok(Some(m)) => m.map_err(|e| anyhow::anyhow!("delivery: {e}"))?,
            Ok(None) => bail!("the consumer stream ended"),
            Err(_) => bail!("no delivery within 10 s"),
        };
        read += 1;
        if read.is_multiple_of(BATCH as u64 / 2) || read == written {
            m.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
    }
    let rate = read as f64 / start.elapsed().as_secs_f64();
    Ok(vec![case.figure("catch_up_read", "msg/s", rate)])
}
