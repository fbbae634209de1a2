//! Pre-vote: stand for election only if no reachable voter has a newer log.
//!
//! openraft's own pre-vote (0.10) runs on its per-group election path, which
//! quiescent groups do not use. Without a pre-vote, a replica whose log is behind
//! (it missed the last entries of a leader that then died) can never win,
//! yet each time it stands it raises the term and votes for itself, which
//! makes it refuse the up-to-date replica's next vote request (a stale term,
//! or inside the lease its own candidacy renewed). Two survivors standing in
//! turn stalled a partition's writes for 21 s after its leader's node was
//! killed and wiped in a chaos run. So before standing, a replica asks the
//! group's other live voters for their last log id and stays out while one
//! of them is more up to date: that one stands itself and gets the votes.
//!
//! Safety stays with Raft; this only decides whether to start an election.
//! A voter that does not answer in time does not hold the election back.

use std::time::Duration;

use zya_proto::node::partition_client::PartitionClient;
use zya_proto::node::StatusRequest;
use zya_raftstore::ChannelPool;

use crate::group::Group;
use crate::raft::NodeId;

/// Raft's "more up to date": a later last term, or the same term and a
/// longer log. `None` is an empty log.
pub fn is_ahead(theirs: Option<(u64, u64)>, ours: Option<(u64, u64)>) -> bool {
    theirs > ours
}

/// The address of a voter among `others` (id, address) whose log is more
/// up to date than this replica's, if any answers within `timeout`.
pub async fn voter_ahead(
    group: &Group,
    pool: &ChannelPool,
    others: &[(NodeId, String)],
    timeout: Duration,
) -> Option<String> {
    let ours = match group.last_log() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(group = group.id, error = %e, "pre-vote: own last log id unreadable; standing anyway");
            return None;
        }
    };
    let asks = others.iter().map(|(id, addr)| async move {
        let channel = pool.channel(addr).ok()?;
        let mut client = PartitionClient::new(channel);
        let reply = tokio::time::timeout(timeout, client.status(StatusRequest { group_id: group.id }))
            .await
            .ok()?
            .ok()?
            .into_inner();
        // A wiped node back at the same address is not that voter.
        if reply.node_id != *id {
            return None;
        }
        let theirs = reply.last_log.map(|l| (l.term, l.index));
        is_ahead(theirs, ours).then(|| addr.clone())
    });
    futures::future::join_all(asks).await.into_iter().flatten().next()
}

#[cfg(test)]
mod tests {
    use super::is_ahead;

    #[test]
    fn a_later_term_wins_over_a_longer_log() {
        assert!(is_ahead(Some((5, 10)), Some((4, 99))));
        assert!(!is_ahead(Some((4, 99)), Some((5, 10))));
    }

    #[test]
    fn same_term_longer_log_is_ahead_and_equal_is_not() {
        assert!(is_ahead(Some((5, 11)), Some((5, 10))));
        assert!(!is_ahead(Some((5, 10)), Some((5, 10))), "equal logs: both may stand");
        assert!(is_ahead(Some((1, 1)), None));
        assert!(!is_ahead(None, None));
    }
}
