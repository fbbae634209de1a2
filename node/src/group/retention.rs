//! Retention: deleting a partition's oldest messages by age and by size.
//!
//! The leader decides the cut-off (it alone reads a clock) and proposes a
//! `Trim` through Raft, so every replica deletes exactly the same offsets.
//! After the trim, the deleted range is compacted so the disk is reclaimed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::{Group, Registry};
use crate::error::NodeError;
use crate::partition::Command;
use crate::storage::keys::{self, CF_RECORDS};

/// Records examined per retention round of one group, so a huge backlog is
/// trimmed over several rounds instead of one long scan.
const SCAN_LIMIT: usize = 100_000;
const PAGE: usize = 1000;

/// Runs retention rounds every `interval` until cancelled.
pub async fn run_retention(registry: Arc<Registry>, interval: Duration, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        for group in registry.all() {
            if group.is_leader() && (group.descriptor.retention_ms > 0 || group.descriptor.retention_bytes > 0) {
                if let Err(e) = trim_once(&group).await {
                    tracing::warn!(group = group.id, error = %e, "retention round failed");
                }
            }
        }
    }
}

/// Computes the first offset to keep and proposes the trim.
pub async fn trim_once(group: &Arc<Group>) -> Result<Option<u64>, NodeError> {
    let g = group.clone();
    let cut = tokio::task::spawn_blocking(move || cut_off(&g))
        .await
        .map_err(|e| NodeError::Raft(format!("retention task: {e}")))??;
    let meta = group.reader.meta();
    if cut <= meta.first_offset {
        return Ok(None);
    }
    super::lease::ensure(&group.raft).await?;
    group.raft.client_write(Command::Trim { before_offset: cut }).await.map_err(super::appender::raft_write_error)?;
    let store = group.reader.store().clone();
    let id = group.id;
    tokio::task::spawn_blocking(move || {
        let (from, to) = (keys::record_key(id, 0), keys::record_key(id, cut));
        store.db.compact_range_cf(store.cf(CF_RECORDS), Some(&from[..]), Some(&to[..]));
    });
    tracing::info!(group = group.id, before = cut, "retention trimmed partition");
    Ok(Some(cut))
}

fn cut_off(group: &Group) -> Result<u64, NodeError> {
    let d = &group.descriptor;
    let meta = group.reader.meta();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|t| t.as_millis() as i64).unwrap_or(0);
    let age_cut = if d.retention_ms > 0 { now_ms - d.retention_ms as i64 } else { i64::MIN };
    let mut excess = if d.retention_bytes > 0 { meta.bytes.saturating_sub(d.retention_bytes) } else { 0 };
    let mut cut = meta.first_offset;
    let mut scanned = 0;
    while cut < meta.next_offset && scanned < SCAN_LIMIT {
        let page = group.reader.records(cut, meta.next_offset, PAGE)?;
        if page.is_empty() {
            break;
        }
        for (offset, record) in page {
            scanned += 1;
            if record.appended_at_ms >= age_cut && excess == 0 {
                return Ok(cut);
            }
            excess = excess.saturating_sub(record.stored_size());
            cut = offset + 1;
        }
    }
    Ok(cut)
}
