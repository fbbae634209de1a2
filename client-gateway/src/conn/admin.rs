//! Requests answered from the catalogue: the service map, topic creation
//! and deletion, topic listings, and a user's durable subscriptions with
//! their positions.

use std::time::Duration;

use futures::future::join_all;
use zya_client::catalogue_pb as cpb;

use super::Ctx;
use crate::backend::{wire_scope, Failure, TopicKey};
use crate::protocol::{
    BackupMap, CreateTopic, ErrorCode, PartitionOffsets, PartitionPlacement, Response, Scope, ServiceMap, Services,
    SubscriptionInfo, SubscriptionList, TopicCreated, TopicDeleted, TopicInfo, TopicList, TopicName, TopicRef,
};
use crate::server::Shared;

pub async fn handshake(shared: &Shared) -> Result<Response, Failure> {
    let reply = shared
        .backend
        .catalogue
        .call(shared.config.request_timeout, |mut s| async move { s.service_map(cpb::ServiceMapRequest {}).await })
        .await?
        .into_inner();
    let mut gateways = reply.gateways;
    if !gateways.contains(&shared.config.public_url) {
        // Registered a moment ago, or the catalogue missed a heartbeat:
        // this gateway is certainly up, it is answering.
        gateways.push(shared.config.public_url.clone());
    }
    gateways.sort();
    let recommended = pick(&gateways).unwrap_or_else(|| shared.config.public_url.clone());
    Ok(Response::ServiceMap(ServiceMap {
        services: Services { gateway: gateways, allocator: reply.allocators, node: reply.nodes },
        recommended,
    }))
}

/// Spreads clients over the live gateways.
fn pick(gateways: &[String]) -> Option<String> {
    if gateways.is_empty() {
        return None;
    }
    Some(gateways[rand::random::<usize>() % gateways.len()].clone())
}

pub async fn create_topic(ctx: &Ctx, req: CreateTopic) -> Result<Response, Failure> {
    let session = &ctx.session;
    let wire = cpb::CreateTopicRequest {
        caller: Some(session.caller.clone()),
        topic: req.topic.to_string(),
        scope: wire_scope(req.scope) as i32,
        partitions: req.partitions,
        replication_factor: req.replication_factor.unwrap_or(0),
        page_size: req.page_size,
        audited: req.audited,
        retention_ms: 0,
        retention_bytes: 0,
    };
    // Placing replicas waits for nodes (and may fall back once), so this
    // deadline is longer than a write's.
    let deadline = ctx.shared.config.request_timeout.max(Duration::from_secs(15));
    let info = ctx
        .shared
        .backend
        .catalogue
        .call(deadline, |mut s| {
            let r = wire.clone();
            async move { s.create_topic(r).await }
        })
        .await?
        .into_inner()
        .topic
        .ok_or_else(|| Failure::new(ErrorCode::Internal, "catalogue answered without a topic"))?;
    let partitions = placements(&info);
    ctx.shared.backend.remember_topic(TopicKey::new(req.topic.clone(), req.scope, session.user()), info);
    Ok(Response::TopicCreated(TopicCreated { topic: req.topic, scope: req.scope, partitions }))
}

pub async fn delete_topic(ctx: &Ctx, req: TopicRef) -> Result<Response, Failure> {
    let session = &ctx.session;
    let wire = cpb::DeleteTopicRequest {
        caller: Some(session.caller.clone()),
        topic: req.topic.to_string(),
        scope: wire_scope(req.scope) as i32,
    };
    let result = ctx
        .shared
        .backend
        .catalogue
        .call(ctx.shared.config.request_timeout, |mut s| {
            let r = wire.clone();
            async move { s.delete_topic(r).await }
        })
        .await;
    ctx.shared.backend.forget_topic(&TopicKey::new(req.topic.clone(), req.scope, session.user()));
    result?;
    Ok(Response::TopicDeleted(TopicDeleted { topic: req.topic, scope: req.scope }))
}

pub async fn all_topics(ctx: &Ctx) -> Result<Response, Failure> {
    let wire = cpb::ListTopicsRequest { caller: Some(ctx.session.caller.clone()) };
    let reply = ctx
        .shared
        .backend
        .catalogue
        .call(ctx.shared.config.request_timeout, |mut s| {
            let r = wire.clone();
            async move { s.list_topics(r).await }
        })
        .await?
        .into_inner();
    let topics = reply
        .topics
        .into_iter()
        .filter_map(|t| {
            Some(TopicInfo {
                topic: TopicName::new(t.topic.clone()).ok()?,
                scope: scope_of(t.scope),
                owner: t.owner.clone(),
                partitions: t.partitions.len() as u32,
                replication_factor: t.replication_factor,
                message_count: t.message_count,
                page_size: t.page_size,
                audited: t.audited,
            })
        })
        .collect();
    Ok(Response::AllTopics(TopicList { topics }))
}

pub async fn backup_map(ctx: &Ctx, req: TopicRef) -> Result<Response, Failure> {
    let key = TopicKey::new(req.topic.clone(), req.scope, ctx.session.user());
    let topic = ctx.shared.backend.refresh_topic(&ctx.session.caller, &key, ctx.shared.config.request_timeout).await?;
    Ok(Response::ServiceBackupMap(BackupMap {
        topic: req.topic,
        scope: req.scope,
        partitions: placements(&topic.info),
    }))
}

/// `Topics`: every subscription of the user, every group.
pub async fn topics(ctx: &Ctx) -> Result<Response, Failure> {
    Ok(Response::Topics(SubscriptionList { topics: subscriptions(ctx, None).await? }))
}

/// The user's durable subscriptions (of one group, or all) with each
/// partition's committed offset and end.
pub async fn subscriptions(ctx: &Ctx, group: Option<&str>) -> Result<Vec<SubscriptionInfo>, Failure> {
    let deadline = ctx.shared.config.request_timeout;
    let wire = cpb::ListSubscriptionsRequest { caller: Some(ctx.session.caller.clone()) };
    let records = ctx
        .shared
        .backend
        .catalogue
        .call(deadline, |mut s| {
            let r = wire.clone();
            async move { s.list_subscriptions(r).await }
        })
        .await?
        .into_inner()
        .subscriptions;
    let records: Vec<cpb::SubscriptionRecord> =
        records.into_iter().filter(|r| group.is_none_or(|g| g == r.group)).collect();
    let lookups = records.iter().map(|r| async move {
        let name = TopicName::new(r.topic.clone()).ok()?;
        let scope = scope_of(r.scope);
        let info = r.info.clone()?;
        let key = TopicKey::new(name.clone(), scope, ctx.session.user());
        let topic = ctx.shared.backend.remember_topic(key, info);
        let consumer = ctx.session.consumer(&r.group);
        let offsets = join_all(topic.partitions.iter().map(|c| {
            let consumer = consumer.clone();
            async move { c.offsets(&consumer, deadline).await }
        }))
        .await;
        let partitions = offsets
            .into_iter()
            .enumerate()
            .map(|(p, o)| {
                let o = o.map_err(Failure::from)?;
                let committed = o.consumers.first().map(|c| c.committed_offset).unwrap_or(0).max(o.first_offset);
                Ok(PartitionOffsets::new(p as u32, committed, o.next_offset))
            })
            .collect::<Result<Vec<_>, Failure>>();
        Some(partitions.map(|partitions| SubscriptionInfo { topic: name, scope, group: r.group.clone(), partitions }))
    });
    join_all(lookups).await.into_iter().flatten().collect()
}

fn scope_of(wire: i32) -> Scope {
    match cpb::Scope::try_from(wire) {
        Ok(cpb::Scope::Local) => Scope::Local,
        _ => Scope::Global,
    }
}

/// Partition placements as clients see them: node addresses, the same
/// strings as the service map's `node` entries.
fn placements(info: &cpb::TopicInfo) -> Vec<PartitionPlacement> {
    let mut parts: Vec<PartitionPlacement> = info
        .partitions
        .iter()
        .map(|p| {
            let leader = p.leader_addr.clone().filter(|l| !l.is_empty());
            let backups = p.replica_addrs.iter().filter(|a| Some(*a) != leader.as_ref()).cloned().collect();
            PartitionPlacement { partition: p.partition, leader, backups }
        })
        .collect();
    parts.sort_by_key(|p| p.partition);
    parts
}
