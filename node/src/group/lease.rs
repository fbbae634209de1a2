//! Keeping a quiescent leader's lease before it writes.
//!
//! openraft 0.10's leader refuses a write unless a quorum acknowledged it
//! within its lease (`election_timeout_max`, see `crate::raft::RaftTiming`):
//! "forward to leader, lease expired", naming no leader. Elsewhere leaders
//! heartbeat all the time and the lease never lapses while they are healthy.
//! Our groups are quiescent (`crate::liveness`): an idle group sends
//! nothing, so after an idle pause its leader's lease has lapsed and the
//! next write would be refused, though the leader is fine (a chaos-free
//! integration test stalled this way).
//!
//! So before a write, a leader whose last quorum acknowledgment is older
//! than half the lease heartbeats its followers and waits for a quorum to
//! answer. Under load, replication keeps the lease fresh and this costs one
//! read of the metrics. A leader cut off from its quorum gets no answers,
//! and its write is then refused, as it should be.

use std::time::Duration;

use openraft::async_runtime::watch::WatchReceiver;
use openraft::{Instant, RaftMetrics, ServerState};

use crate::error::NodeError;
use crate::raft::{Raft, TypeConfig};

/// Makes sure that a leader's lease holds for a write about to be made.
/// Returns at once when this replica does not lead (the write is then
/// refused with the leader's name as usual) or its lease is fresh; else
/// waits at most one lease for the quorum's answers (a quorum that does not
/// answer within a lease would not keep it anyway).
pub async fn ensure(raft: &Raft) -> Result<(), NodeError> {
    let lease = Duration::from_millis(raft.config().election_timeout_max);
    let refresh_after = lease / 2;
    let mut metrics = raft.metrics();
    if fresh(&metrics.borrow_watched(), refresh_after) {
        return Ok(());
    }
    raft.trigger().heartbeat().await.map_err(|e| NodeError::Raft(e.to_string()))?;
    let renewed = tokio::time::timeout(lease, async {
        loop {
            if fresh(&metrics.borrow_watched(), refresh_after) {
                return;
            }
            // Metrics are published on every change the core reports; the
            // short sleep only bounds the wait should one be coalesced.
            tokio::select! {
                r = metrics.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
    })
    .await;
    if renewed.is_err() {
        tracing::debug!("leader lease not renewed in time; the write may be refused");
    }
    Ok(())
}

fn fresh(m: &RaftMetrics<TypeConfig>, refresh_after: Duration) -> bool {
    if m.state != ServerState::Leader {
        return true;
    }
    if m.membership_config.membership().voter_ids().count() <= 1 {
        return true;
    }
    m.last_quorum_acked.as_ref().is_some_and(|t| t.elapsed() < refresh_after)
}
