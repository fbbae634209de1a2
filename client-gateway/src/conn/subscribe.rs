//! `Subscribe` and `Unsubscribe`: work out where each partition starts for
//! the chosen reader, record the durable subscription in the catalogue,
//! answer `Subscribed`, then start the delivery task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::mpsc;
use zya_client::catalogue_pb as cpb;

use super::reader::GoneCheck;
use super::session::SubscriptionHandle;
use super::subscription::{self, PartStart, Spec};
use super::Ctx;
use crate::backend::{Failure, Topic, TopicKey};
use crate::protocol::{
    ErrorCode, PartitionRange, Reader, RequestMeta, Response, Subscribe, Subscribed, Unsubscribe, Unsubscribed,
};
use crate::session::flow::Flow;

/// Live subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 256;
/// Messages asked of a node per read batch.
const MAX_CHUNK: u32 = 256;

pub async fn subscribe(ctx: &Ctx, meta: &RequestMeta, req: Subscribe) -> Result<(), Failure> {
    let session = &ctx.session;
    let deadline = ctx.shared.config.request_timeout;
    if session.subscriptions.lock().expect("lock is never poisoned").len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
        return Err(Failure::new(
            ErrorCode::BadRequest,
            format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection"),
        ));
    }
    let key = TopicKey::new(req.topic.clone(), req.scope, session.user());
    let topic = ctx.shared.backend.refresh_topic(&session.caller, &key, deadline).await?;
    let group = req.group.clone().unwrap_or_else(|| session.device.clone());
    let batch = req.batch_size.unwrap_or_else(|| topic.page_size());
    let flow = Flow::new(u64::from(batch), req.commit_ratio)
        .map_err(|e| Failure::new(ErrorCode::BadRequest, e.to_string()))?;
    record(ctx, &key, &group, deadline).await?;

    let selected: Vec<u32> = match req.reader {
        Reader::MessageRange { partition, .. } => {
            if partition as usize >= topic.partitions.len() {
                return Err(Failure::new(
                    ErrorCode::BadRequest,
                    format!("partition {partition} does not exist; the topic has {}", topic.partitions.len()),
                ));
            }
            vec![partition]
        }
        _ => (0..topic.partitions.len() as u32).collect(),
    };
    let consumer = session.consumer(&group);
    let offsets = join_all(selected.iter().map(|&p| {
        let client = topic.partitions[p as usize].clone();
        let consumer = consumer.clone();
        async move { client.offsets(&consumer, deadline).await }
    }))
    .await;
    let mut parts = Vec::with_capacity(selected.len());
    let mut ranges = Vec::with_capacity(selected.len());
    for (&p, o) in selected.iter().zip(offsets) {
        let o = o.map_err(Failure::from)?;
        let start = start_of(&req.reader, &o);
        ranges.push(PartitionRange {
            partition: p,
            start_offset: start.from,
            end_offset: start.end.unwrap_or(o.next_offset),
        });
        parts.push(PartStart {
            partition: p,
            client: topic.partitions[p as usize].clone(),
            from: start.from,
            end: start.end,
            skip: start.skip,
        });
    }

    let id = session.next_subscription_id();
    let (commits_tx, commits_rx) = mpsc::channel(1024);
    let delivered = Arc::new(Mutex::new(HashMap::new()));
    let cancel = ctx.cancel.child_token();
    let handle = Arc::new(SubscriptionHandle {
        id: id.clone(),
        key: key.clone(),
        group: group.clone(),
        commits: commits_tx,
        delivered: delivered.clone(),
        cancel: cancel.clone(),
    });
    session.subscriptions.lock().expect("lock is never poisoned").insert(id.clone(), handle);
    let reply = Response::Subscribed(Subscribed {
        subscription_id: id.clone(),
        topic: req.topic.clone(),
        scope: req.scope,
        group,
        partitions: ranges,
        batch_size: batch,
        commit_ratio: req.commit_ratio,
        isolation: req.isolation,
    });
    ctx.outbox.reply(reply.reply_to(meta.request_id.clone())).await.map_err(|_| closing())?;
    let spec = Spec {
        id,
        topic: req.topic,
        scope: req.scope,
        consumer,
        flow,
        parts,
        range: matches!(req.reader, Reader::MessageRange { .. }),
        chunk: batch.clamp(1, MAX_CHUNK),
    };
    tokio::spawn(subscription::run(ctx.clone(), spec, commits_rx, delivered, gone_check(ctx, &topic), cancel));
    Ok(())
}

struct Start {
    from: u64,
    end: Option<u64>,
    skip: std::collections::BTreeSet<u64>,
}

fn start_of(reader: &Reader, o: &zya_client::pb::GetOffsetsReply) -> Start {
    let (first, next) = (o.first_offset, o.next_offset);
    let plain = |from: u64| Start { from, end: None, skip: Default::default() };
    match *reader {
        Reader::Beginning => plain(first),
        Reader::Latest => plain(next),
        Reader::LastN { count } => plain(next.saturating_sub(count).max(first)),
        Reader::MessageRange { start, end, .. } => {
            Start { from: start.max(first), end: Some(end), skip: Default::default() }
        }
        Reader::Committed => {
            let (committed, above) = o
                .consumers
                .first()
                .map(|c| (c.committed_offset, c.committed_above.iter().copied().collect()))
                .unwrap_or_default();
            Start { from: committed.max(first), end: None, skip: above }
        }
    }
}

/// Records (once per connection) that this user subscribes to the topic
/// with this group, so `Login` and `Topics` can list it later.
async fn record(ctx: &Ctx, key: &TopicKey, group: &str, deadline: Duration) -> Result<(), Failure> {
    let session = &ctx.session;
    let pair = (key.clone(), group.to_string());
    if session.recorded.lock().expect("lock is never poisoned").contains(&pair) {
        return Ok(());
    }
    let req = cpb::RecordSubscriptionRequest {
        caller: Some(session.caller.clone()),
        topic: key.name.to_string(),
        scope: crate::backend::wire_scope(key.scope) as i32,
        group: group.to_string(),
    };
    ctx.shared
        .backend
        .catalogue
        .call(deadline, |mut s| {
            let r = req.clone();
            async move { s.record_subscription(r).await }
        })
        .await?;
    session.recorded.lock().expect("lock is never poisoned").insert(pair);
    Ok(())
}

/// How a reader finds out that its partition's topic was deleted: the
/// catalogue no longer knows the topic, or knows it with other groups
/// (deleted and created again).
fn gone_check(ctx: &Ctx, topic: &Topic) -> GoneCheck {
    let backend = ctx.shared.backend.clone();
    let caller = ctx.session.caller.clone();
    let key = topic.key.clone();
    Arc::new(move |group: u64| {
        let (backend, caller, key) = (backend.clone(), caller.clone(), key.clone());
        Box::pin(async move {
            match backend.refresh_topic(&caller, &key, Duration::from_secs(5)).await {
                Ok(t) => !t.partitions.iter().any(|p| p.group == group),
                Err(f) => f.code == ErrorCode::TopicNotFound,
            }
        })
    })
}

pub async fn unsubscribe(ctx: &Ctx, req: Unsubscribe) -> Result<Response, Failure> {
    let removed = ctx.session.subscriptions.lock().expect("lock is never poisoned").remove(&req.subscription_id);
    match removed {
        Some(s) => {
            s.cancel.cancel();
            Ok(Response::Unsubscribed(Unsubscribed { subscription_id: req.subscription_id }))
        }
        None => Err(Failure::new(
            ErrorCode::BadRequest,
            format!("no subscription {} on this connection", req.subscription_id),
        )),
    }
}

fn closing() -> Failure {
    Failure::new(ErrorCode::Unavailable, "the connection is closing")
}

#[cfg(test)]
mod tests {
    use zya_client::pb;

    use super::*;

    fn offsets(first: u64, next: u64, committed: Option<(u64, Vec<u64>)>) -> pb::GetOffsetsReply {
        pb::GetOffsetsReply {
            first_offset: first,
            next_offset: next,
            consumers: committed
                .map(|(c, above)| pb::ConsumerOffsets {
                    consumer: "alice/laptop".into(),
                    committed_offset: c,
                    committed_above: above,
                    deliveries: vec![],
                })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn each_reader_starts_where_the_contract_says() {
        let o = offsets(10, 50, Some((20, vec![22, 25])));
        assert_eq!(start_of(&Reader::Beginning, &o).from, 10, "first retained, not 0");
        assert_eq!(start_of(&Reader::Latest, &o).from, 50);
        assert_eq!(start_of(&Reader::LastN { count: 5 }, &o).from, 45);
        assert_eq!(start_of(&Reader::LastN { count: 500 }, &o).from, 10, "never before the first retained");
        let c = start_of(&Reader::Committed, &o);
        assert_eq!((c.from, c.end), (20, None));
        assert_eq!(c.skip.into_iter().collect::<Vec<_>>(), vec![22, 25], "singly committed offsets are skipped");
        let r = start_of(&Reader::MessageRange { partition: 0, start: 5, end: 30 }, &o);
        assert_eq!((r.from, r.end), (10, Some(30)));
    }

    #[test]
    fn a_group_without_commits_starts_at_the_first_retained_offset() {
        let o = offsets(7, 9, None);
        assert_eq!(start_of(&Reader::Committed, &o).from, 7);
        let behind = offsets(7, 9, Some((3, vec![])));
        assert_eq!(start_of(&Reader::Committed, &behind).from, 7, "a position below retention moves up");
    }
}
