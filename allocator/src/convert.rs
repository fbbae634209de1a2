//! Catalogue types ⇄ wire types, with the live view (leaders, counts) from
//! the member table.

use std::time::{Duration, Instant};

use zya_proto::catalogue as pb;

use crate::catalogue::model::{Scope, Topic, TopicKey};
use crate::catalogue::state::Catalogue;
use crate::error::AllocError;
use crate::members::MemberTable;

/// The topic key a caller means: local topics live in the caller's space.
pub fn key(caller: &pb::Caller, name: &str, scope: i32) -> Result<TopicKey, AllocError> {
    match pb::Scope::try_from(scope).unwrap_or(pb::Scope::Unspecified) {
        pb::Scope::Global | pb::Scope::Unspecified => Ok(TopicKey::global(name)),
        pb::Scope::Local => {
            if caller.user.is_empty() {
                return Err(AllocError::BadRequest("a local topic needs a user".into()));
            }
            Ok(TopicKey::local(caller.user.clone(), name))
        }
    }
}

pub fn wire_scope(scope: &Scope) -> i32 {
    match scope {
        Scope::Global => pb::Scope::Global as i32,
        Scope::Local { .. } => pb::Scope::Local as i32,
    }
}

pub fn caller(c: Option<pb::Caller>) -> Result<pb::Caller, AllocError> {
    let c = c.ok_or_else(|| AllocError::BadRequest("missing caller".into()))?;
    if c.user.is_empty() {
        return Err(AllocError::BadRequest("missing caller user".into()));
    }
    Ok(c)
}

pub fn topic_info(t: &Topic, catalogue: &Catalogue, members: &MemberTable, down_after: Duration) -> pb::TopicInfo {
    let now = Instant::now();
    let addr = |id: u64| catalogue.members.get(&id).map(|m| m.addr.clone()).unwrap_or_default();
    let partitions: Vec<pb::PartitionInfo> = t
        .partitions
        .iter()
        .map(|p| {
            let live = members.group_leader(p.group_id, now, down_after);
            pb::PartitionInfo {
                partition: p.partition,
                group_id: p.group_id,
                leader_id: live.map(|(n, _)| n),
                leader_addr: live.map(|(n, _)| addr(n)),
                replicas: p.replicas.clone(),
                replica_addrs: p.replicas.iter().map(|&r| addr(r)).collect(),
                message_count: live.map_or(0, |(_, g)| g.message_count),
                next_offset: live.map_or(0, |(_, g)| g.next_offset),
            }
        })
        .collect();
    pb::TopicInfo {
        topic: t.key.name.clone(),
        scope: wire_scope(&t.key.scope),
        owner: t.owner.clone(),
        message_count: partitions.iter().map(|p| p.message_count).sum(),
        partitions,
        replication_factor: t.replication_factor,
        page_size: t.page_size,
        audited: t.audited,
        admins: t.admins.iter().cloned().collect(),
        retention_ms: t.retention_ms,
        retention_bytes: t.retention_bytes,
    }
}
