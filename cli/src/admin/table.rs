//! Human-readable tables and JSON shapes of catalogue replies.

use serde_json::{json, Value};
use zya_client::catalogue_pb as pb;

fn kind(k: i32) -> &'static str {
    match pb::MemberKind::try_from(k) {
        Ok(pb::MemberKind::StorageNode) => "node",
        Ok(pb::MemberKind::Gateway) => "gateway",
        Ok(pb::MemberKind::Allocator) => "allocator",
        _ => "?",
    }
}

fn scope(s: i32) -> &'static str {
    if s == pb::Scope::Local as i32 {
        "local"
    } else {
        "global"
    }
}

pub fn member_json(m: &pb::NodeStatus) -> Value {
    json!({
        "id": m.id, "kind": kind(m.kind), "addr": m.addr, "live": m.live,
        "decommissioning": m.decommissioning, "partitions": m.partitions, "leaders": m.leaders,
        "bytes": m.bytes, "appendRate": m.append_rate, "lastSeenMs": m.last_seen_ms,
    })
}

pub fn print_members(members: &[pb::NodeStatus]) {
    println!(
        "{:<18} {:<9} {:<22} {:<5} {:>10} {:>8} {:>12} {:>10}",
        "id", "kind", "address", "live", "partitions", "leaders", "bytes", "msg/s"
    );
    for m in members {
        let live = match (m.live, m.decommissioning) {
            (_, true) => "drain",
            (true, false) => "up",
            (false, false) => "DOWN",
        };
        println!(
            "{:<18} {:<9} {:<22} {:<5} {:>10} {:>8} {:>12} {:>10.1}",
            m.id,
            kind(m.kind),
            m.addr,
            live,
            m.partitions,
            m.leaders,
            m.bytes,
            m.append_rate
        );
    }
}

pub fn topic_json(t: &pb::TopicInfo) -> Value {
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            json!({
                "partition": p.partition, "groupId": p.group_id, "leader": p.leader_id,
                "leaderAddr": p.leader_addr, "replicas": p.replicas, "messageCount": p.message_count,
            })
        })
        .collect();
    json!({
        "topic": t.topic, "scope": scope(t.scope), "owner": t.owner, "partitions": partitions,
        "replicationFactor": t.replication_factor, "pageSize": t.page_size, "audited": t.audited,
        "messageCount": t.message_count,
    })
}

pub fn print_topics(topics: &[pb::TopicInfo]) {
    println!(
        "{:<24} {:<7} {:<10} {:>9} {:>3} {:>9} {:>10}  placement (partition: leader / replicas)",
        "topic", "scope", "owner", "messages", "rf", "page size", "partitions"
    );
    for t in topics {
        let placement: Vec<String> = t
            .partitions
            .iter()
            .map(|p| {
                let leader = p.leader_id.map_or("-".to_string(), |l| l.to_string());
                format!("{}: {} / {:?}", p.partition, leader, p.replicas)
            })
            .collect();
        println!(
            "{:<24} {:<7} {:<10} {:>9} {:>3} {:>9} {:>10}  {}",
            t.topic,
            scope(t.scope),
            t.owner,
            t.message_count,
            t.replication_factor,
            t.page_size,
            t.partitions.len(),
            placement.join("; ")
        );
    }
}
