//! The node's link to the catalogue: register once, then report load every
//! interval to the catalogue leader (which judges liveness from these
//! reports, places new partitions by them, and learns each partition's
//! current leader and message count from them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zya_client::catalogue_pb as pb;
use zya_client::CatalogueClient;

use crate::group::Registry;

pub async fn run(
    registry: Arc<Registry>,
    addr: String,
    allocators: Vec<String>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let client = CatalogueClient::new(allocators);
    let node_id = registry.node_id;
    let member =
        pb::RegisterMemberRequest { id: node_id, kind: pb::MemberKind::StorageNode as i32, addr: addr.clone() };
    let mut last: Option<(Instant, u64)> = None;
    client.keep_registered(member, interval, cancel, || load_report(&registry, node_id, &addr, &mut last)).await;
}

fn load_report(
    registry: &Registry,
    node_id: u64,
    addr: &str,
    last: &mut Option<(Instant, u64)>,
) -> pb::HeartbeatRequest {
    let groups = registry.all();
    let mut report = pb::HeartbeatRequest {
        id: node_id,
        kind: pb::MemberKind::StorageNode as i32,
        addr: addr.to_string(),
        partitions: groups.len() as u32,
        ..Default::default()
    };
    let mut led_offsets = 0u64;
    for g in &groups {
        let meta = g.reader.meta();
        let leader = g.is_leader();
        report.bytes += meta.bytes;
        if leader {
            report.leaders += 1;
            led_offsets += meta.next_offset;
        }
        report.groups.push(pb::GroupLoad {
            group_id: g.id,
            leader,
            message_count: meta.message_count(),
            bytes: meta.bytes,
            next_offset: meta.next_offset,
        });
    }
    let now = Instant::now();
    if let Some((at, offsets)) = *last {
        let secs = now.duration_since(at).as_secs_f64();
        if secs > 0.0 && led_offsets >= offsets {
            report.append_rate = (led_offsets - offsets) as f64 / secs;
        }
    }
    *last = Some((now, led_offsets));
    report
}
