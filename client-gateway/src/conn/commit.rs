//! `Commit`: move a group's position in one partition, durably, then tell
//! this connection's subscriptions of that group so flow control opens.

use std::time::Duration;

use futures::future::join_all;
use zya_client::pb::commit_offset_request::Position;

use super::session::CommitEvent;
use super::Ctx;
use crate::backend::{partition_for, Failure, TopicKey};
use crate::protocol::{Commit, CommitTarget, Committed, ErrorCode, Response};

pub async fn commit(ctx: &Ctx, req: Commit) -> Result<Response, Failure> {
    if req.transaction_id.is_some() {
        return Err(super::no_transactions());
    }
    let session = &ctx.session;
    let deadline = ctx.shared.config.request_timeout;
    let key = TopicKey::new(req.topic.clone(), req.scope, session.user());
    let group = req.group.clone().or_else(|| session.subscribed_group(&key)).unwrap_or_else(|| session.device.clone());
    let (partition, position, message_id) = match &req.target {
        CommitTarget::Offset { partition, offset } => (*partition, Position::One(*offset), None),
        CommitTarget::UpTo { partition, up_to } => (*partition, Position::UpTo(*up_to), None),
        CommitTarget::MessageId { message_id, partition } => {
            let (p, o) = match find_delivered(ctx, &key, &group, message_id, *partition) {
                Some(found) => found,
                None => find_stored(ctx, &key, message_id, *partition, deadline).await?,
            };
            (p, Position::One(o), Some(message_id.clone()))
        }
    };
    let topic = ctx.shared.backend.topic(&session.caller, &key, deadline).await?;
    let client = topic.partition(partition).ok_or_else(|| {
        Failure::new(
            ErrorCode::BadRequest,
            format!("partition {partition} does not exist; the topic has {}", topic.partitions.len()),
        )
    })?;
    let committed_offset = client.commit(&session.consumer(&group), position, deadline).await.map_err(|e| {
        let f = Failure::from(e);
        if f.code == ErrorCode::Unavailable {
            ctx.shared.backend.forget_topic(&key);
        }
        f
    })?;
    let one = match position {
        Position::One(o) => Some(o),
        Position::UpTo(_) => None,
    };
    for sub in session.subscriptions_to(&key, &group) {
        let _ = sub.commits.send(CommitEvent { partition, one, committed_offset }).await;
    }
    Ok(Response::Committed(Committed {
        topic: req.topic,
        scope: req.scope,
        group,
        partition,
        committed_offset,
        message_id,
        transaction_id: None,
    }))
}

/// The position of a message this connection delivered to the group and
/// that is not committed yet: known without asking a node.
fn find_delivered(
    ctx: &Ctx,
    key: &TopicKey,
    group: &str,
    message_id: &str,
    partition: Option<u32>,
) -> Option<(u32, u64)> {
    ctx.session.subscriptions_to(key, group).iter().find_map(|sub| {
        let found = sub.delivered.lock().expect("lock is never poisoned").get(message_id).copied();
        found.filter(|(p, _)| partition.is_none_or(|want| want == *p))
    })
}

/// The position of a message by id, asked of the partitions' leaders: the
/// hinted partition, else the one the id hashes to (where a publish without
/// a key put it), else every other one (it was published with a key).
async fn find_stored(
    ctx: &Ctx,
    key: &TopicKey,
    message_id: &str,
    hint: Option<u32>,
    deadline: Duration,
) -> Result<(u32, u64), Failure> {
    let topic = ctx.shared.backend.topic(&ctx.session.caller, key, deadline).await?;
    let count = topic.partitions.len() as u32;
    let first = hint.unwrap_or_else(|| partition_for(message_id, None, count));
    let client = topic.partition(first).ok_or_else(|| {
        Failure::new(ErrorCode::BadRequest, format!("partition {first} does not exist; the topic has {count}"))
    })?;
    if let Some(o) = client.find_message(message_id, deadline).await? {
        return Ok((first, o));
    }
    if hint.is_none() {
        let others: Vec<u32> = (0..count).filter(|&p| p != first).collect();
        let found = join_all(others.iter().map(|&p| {
            let client = topic.partitions[p as usize].clone();
            async move { client.find_message(message_id, deadline).await }
        }))
        .await;
        for (&p, r) in others.iter().zip(found) {
            if let Some(o) = r? {
                return Ok((p, o));
            }
        }
    }
    Err(Failure::new(ErrorCode::BadRequest, format!("no message {message_id} in the topic")))
}
