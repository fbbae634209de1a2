//! The clients of a chaos run: publishers and subscribers speaking the
//! WebSocket protocol through the gateways, recording every outcome.
//!
//! Publishers send uniquely identified messages and retry each one with the
//! same id until it is acknowledged or its budget runs out; an attempt that
//! may have been written (timeout, dropped connection) makes the message's
//! outcome unknown rather than failed. Subscribers consume with a consumer
//! group, commit as they go, and drop their connection now and then to
//! resume (and be redelivered to) from the committed offsets, on a random
//! gateway.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zya_checker::{Op, PublishOutcome, Recorder};

use zya_client::ws::{Conn, WsError};

/// How long one message is retried before its outcome is recorded.
const MESSAGE_BUDGET: Duration = Duration::from_secs(40);
/// Deadline of one request over the socket.
const REQUEST_WITHIN: Duration = Duration::from_secs(8);
const CONNECT_WITHIN: Duration = Duration::from_secs(3);
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Messages a subscriber takes before it commits.
const COMMIT_EVERY: u64 = 16;
const BATCH_SIZE: u32 = 64;

pub struct Workload {
    pub gateways: Vec<String>,
    pub secret: String,
    pub topic: String,
    pub recorder: Recorder,
    /// Publishers stop taking new messages when cancelled.
    pub stop_publishing: CancellationToken,
    /// Everything stops when cancelled (the run is over or gave up).
    pub stop: CancellationToken,
    /// Subscription ids, unique in the run.
    next_subscription: AtomicU64,
    pub acknowledged: AtomicU64,
}

impl Workload {
    pub fn new(gateways: Vec<String>, secret: String, topic: String, recorder: Recorder) -> Arc<Self> {
        Arc::new(Self {
            gateways,
            secret,
            topic,
            recorder,
            stop_publishing: CancellationToken::new(),
            stop: CancellationToken::new(),
            next_subscription: AtomicU64::new(1),
            acknowledged: AtomicU64::new(0),
        })
    }

    fn token(&self, user: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        zya_gateway::auth::mint_dev_token(
            self.secret.as_bytes(),
            zya_gateway::auth::DEFAULT_DEV_ISSUER,
            user,
            false,
            24 * 3600,
            now,
        )
        .expect("the chaos secret and user names are valid")
    }

    async fn connect(&self, rng: &mut StdRng, user: &str, device: &str) -> Option<Conn> {
        let url = &self.gateways[rng.gen_range(0..self.gateways.len())];
        match Conn::open(url, &self.token(user), device, CONNECT_WITHIN).await {
            Ok((c, session)) if session["kind"] == "Session" => Some(c),
            _ => None,
        }
    }
}

/// One publisher: publishes `w<id>-<n>` until told to stop.
pub async fn publisher(work: Arc<Workload>, id: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn: Option<Conn> = None;
    let mut n = 0u64;
    while !work.stop_publishing.is_cancelled() {
        let message_id = format!("w{id}-{n}");
        n += 1;
        let outcome = publish_one(&work, &mut conn, &mut rng, &message_id).await;
        if matches!(outcome, PublishOutcome::Ok { .. }) {
            work.acknowledged.fetch_add(1, Ordering::Relaxed);
        }
        work.recorder.record(id, Op::Publish { topic: work.topic.clone(), message_id, outcome });
        if rng.gen_ratio(1, 300) {
            conn = None; // reconnect, maybe to another gateway
        }
    }
}

async fn publish_one(work: &Workload, conn: &mut Option<Conn>, rng: &mut StdRng, id: &str) -> PublishOutcome {
    let until = Instant::now() + MESSAGE_BUDGET;
    let mut maybe_written = false;
    let mut last = String::from("not sent");
    while Instant::now() < until && !work.stop.is_cancelled() {
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            *conn = work.connect(rng, "chaos-writer", "writer").await;
            if conn.is_none() {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        }
        let c = conn.as_ref().expect("connected above");
        let frame = json!({"kind":"Publish","topic":work.topic,"messageId":id,"messagePayload":id,"timeoutMs":5000});
        match c.request(frame, REQUEST_WITHIN).await {
            Ok(v) if v["kind"] == "Published" => {
                let (Some(partition), Some(offset)) = (v["partition"].as_u64(), v["offset"].as_u64()) else {
                    return PublishOutcome::Unknown;
                };
                return PublishOutcome::Ok { partition: partition as u32, offset };
            }
            Ok(v) => {
                let code = v["code"].as_str().unwrap_or("").to_string();
                last = format!("{code}: {}", v["message"].as_str().unwrap_or(""));
                match code.as_str() {
                    "Timeout" => maybe_written = true,
                    "Unavailable" | "RateLimited" => {}
                    _ if maybe_written => return PublishOutcome::Unknown,
                    _ => return PublishOutcome::Fail { reason: last },
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => {
                // The request may have been sent and applied.
                maybe_written = true;
                last = e.to_string();
                *conn = None;
            }
        }
    }
    if maybe_written {
        PublishOutcome::Unknown
    } else {
        PublishOutcome::Fail { reason: last }
    }
}

/// End offsets per partition a subscriber must commit before it stops.
pub type DrainTarget = Option<BTreeMap<u32, u64>>;

/// One subscriber (consumer group `g<id>`) until drained or stopped.
pub async fn subscriber(work: Arc<Workload>, id: u64, seed: u64, mut drain: watch::Receiver<DrainTarget>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let group = format!("g{id}");
    let process = 1000 + id;
    // The group's committed offset per partition, as last acknowledged.
    let mut committed: BTreeMap<u32, u64> = BTreeMap::new();
    while !work.stop.is_cancelled() {
        let Some(conn) = work.connect(&mut rng, "chaos-reader", &group).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let done = consume(&work, conn, &group, process, &mut rng, &mut committed, &mut drain).await;
        if done {
            return;
        }
    }
}

/// Consumes on one connection; true once drained.
async fn consume(
    work: &Workload,
    mut conn: Conn,
    group: &str,
    process: u64,
    rng: &mut StdRng,
    committed: &mut BTreeMap<u32, u64>,
    drain: &mut watch::Receiver<DrainTarget>,
) -> bool {
    let frame = json!({"kind":"Subscribe","topic":work.topic,"group":group,"reader":{"from":"Committed"},
        "batchSize":BATCH_SIZE,"commitRatio":0.5});
    let Ok(reply) = conn.request(frame, REQUEST_WITHIN).await else { return false };
    if reply["kind"] != "Subscribed" {
        tokio::time::sleep(RETRY_PAUSE).await;
        return false;
    }
    let sub_id = reply["subscriptionId"].as_str().unwrap_or("").to_string();
    // The checker follows one partition per subscription: one id for each
    // partition of this (multi-partition) subscription.
    let mut ids: BTreeMap<u32, u64> = BTreeMap::new();
    for p in reply["partitions"].as_array().into_iter().flatten() {
        let (partition, start) = (p["partition"].as_u64().unwrap_or(0) as u32, p["startOffset"].as_u64().unwrap_or(0));
        let subscription = work.next_subscription.fetch_add(1, Ordering::Relaxed);
        ids.insert(partition, subscription);
        work.recorder.record(
            process,
            Op::Subscribe {
                subscription,
                group: group.to_string(),
                topic: work.topic.clone(),
                partition,
                start_offset: start,
                from_committed: true,
            },
        );
    }
    // Highest offset delivered per partition on this subscription.
    let mut delivered: BTreeMap<u32, u64> = BTreeMap::new();
    let mut since_commit = 0u64;
    let leave_at = Instant::now() + Duration::from_millis(rng.gen_range(3_000..15_000));
    loop {
        if work.stop.is_cancelled() {
            return true;
        }
        let push = tokio::time::timeout(Duration::from_millis(500), conn.pushes.recv()).await;
        match push {
            Ok(None) => return false,
            Ok(Some(v)) => {
                if v["kind"] == "Message" && v["subscriptionId"] == sub_id.as_str() {
                    let (partition, offset) =
                        (v["partition"].as_u64().unwrap_or(0) as u32, v["offset"].as_u64().unwrap_or(0));
                    let subscription = ids.get(&partition).copied().unwrap_or(0);
                    work.recorder.record(
                        process,
                        Op::Deliver {
                            subscription,
                            topic: work.topic.clone(),
                            partition,
                            offset,
                            message_id: v["messageId"].as_str().unwrap_or("").to_string(),
                            redelivered: v["redelivered"] == true,
                        },
                    );
                    let d = delivered.entry(partition).or_insert(offset);
                    *d = (*d).max(offset);
                    since_commit += 1;
                }
                if since_commit < COMMIT_EVERY {
                    continue;
                }
            }
            Err(_) => {}
        }
        if since_commit > 0 {
            if commit(work, &conn, group, process, &delivered, committed).await.is_err() {
                return false;
            }
            since_commit = 0;
        }
        let target = drain.borrow_and_update().clone();
        if let Some(ends) = target {
            if ends.iter().all(|(p, end)| committed.get(p).copied().unwrap_or(0) >= *end) {
                for (&partition, &end_offset) in &ends {
                    work.recorder.record(
                        process,
                        Op::Drained { group: group.to_string(), topic: work.topic.clone(), partition, end_offset },
                    );
                }
                return true;
            }
        } else if Instant::now() > leave_at {
            return false; // reconnect and resume from the committed offsets
        }
    }
}

/// Commits everything delivered that is not committed yet.
async fn commit(
    work: &Workload,
    conn: &Conn,
    group: &str,
    process: u64,
    delivered: &BTreeMap<u32, u64>,
    committed: &mut BTreeMap<u32, u64>,
) -> Result<(), WsError> {
    for (&partition, &upto) in delivered {
        if committed.get(&partition).is_some_and(|&c| c > upto) {
            continue;
        }
        let frame = json!({"kind":"Commit","topic":work.topic,"group":group,"partition":partition,"upTo":upto});
        let reply: Value = conn.request(frame, REQUEST_WITHIN).await?;
        if reply["kind"] != "Committed" {
            continue; // retried with the next commit
        }
        let committed_offset = reply["committedOffset"].as_u64().unwrap_or(0);
        work.recorder.record(
            process,
            Op::CommitAck { group: group.to_string(), topic: work.topic.clone(), partition, committed_offset },
        );
        let c = committed.entry(partition).or_insert(0);
        *c = (*c).max(committed_offset);
    }
    Ok(())
}
