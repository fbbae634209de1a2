//! The TopicAllocator's placement decisions, as plain functions.
//!
//! Choosing where a topic's partitions go is kept apart from asking nodes
//! and writing the catalogue so it can be tested exhaustively and is the same
//! on every run for the same input:
//!
//! ```text
//!  catalogue + node metrics ──► [Candidate] ──► by_load ──► ask replicas[0] of each partition
//!                                                             │ timeout / error from node X
//!                               [Candidate] without X ◄───────┘
//!                                     └──► round_robin ──► ask again ──► CreateTopic command
//! ```
//!
//! [`by_load`] is the normal path; [`round_robin`] is the fallback the roadmap
//! asks for once some node did not acknowledge (the caller drops the failed
//! nodes from the candidates); [`replacement`] picks a node to re-replicate
//! onto. Every result lists, per partition, distinct nodes with the preferred
//! leader first.

use std::collections::BTreeSet;

use crate::catalogue::model::{NodeId, MAX_PARTITIONS};

/// A live storage node the allocator may place replicas on, with its load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: NodeId,
    /// Partition replicas it hosts.
    pub partitions: u32,
    /// Partitions it is the (preferred) leader of.
    pub leaders: u32,
    /// Bytes stored, as last reported; breaks ties between equal counts.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Fewer distinct live nodes than replicas per partition.
    #[error("{live} live storage nodes, {needed} needed for the replication factor")]
    NotEnoughNodes { live: usize, needed: u32 },
    #[error("bad placement request: {reason}")]
    BadRequest { reason: String },
}

/// A plan: for each partition in order, its replicas, preferred leader first.
pub type Plan = Vec<Vec<NodeId>>;

/// Places `partitions` partitions of `rf` replicas each on the least-loaded
/// candidates.
///
/// Each partition takes the `rf` nodes hosting the fewest replicas, counting
/// those this plan already put there (ties: fewer bytes, then lower id), so
/// replicas spread evenly. Among them the one leading the fewest partitions
/// (existing and planned; ties: fewer replicas, fewer bytes, lower id) goes
/// first and becomes the leader, so leaders spread too.
pub fn by_load(cands: &[Candidate], partitions: u32, rf: u32) -> Result<Plan, PlacementError> {
    check_request(cands, partitions, rf)?;
    // (candidate, replicas incl. planned, leaders incl. planned)
    let mut load: Vec<(Candidate, u64, u64)> =
        cands.iter().map(|c| (*c, u64::from(c.partitions), u64::from(c.leaders))).collect();
    let mut plan = Vec::with_capacity(partitions as usize);
    for _ in 0..partitions {
        load.sort_by_key(|(c, replicas, _)| (*replicas, c.bytes, c.id));
        let chosen = &mut load[..rf as usize];
        let leader_at = chosen
            .iter()
            .enumerate()
            .min_by_key(|(_, (c, replicas, leaders))| (*leaders, *replicas, c.bytes, c.id))
            .map(|(i, _)| i)
            .expect("rf >= 1 was checked, so at least one node is chosen");
        chosen[..=leader_at].rotate_right(1);
        chosen[0].2 += 1;
        for entry in chosen.iter_mut() {
            entry.1 += 1;
        }
        plan.push(chosen.iter().map(|(c, _, _)| c.id).collect());
    }
    Ok(plan)
}

/// The fallback: with the candidates sorted by id and `n` of them, partition
/// `p` gets nodes `(start + p + i) % n` for `i` in `0..rf`, the first leading.
/// `start` lets the caller rotate where it begins (e.g. by a counter) so
/// fallbacks do not all pile onto the lowest ids.
pub fn round_robin(cands: &[Candidate], partitions: u32, rf: u32, start: usize) -> Result<Plan, PlacementError> {
    check_request(cands, partitions, rf)?;
    let mut ids: Vec<NodeId> = cands.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    let n = ids.len();
    let plan = (0..partitions as usize)
        .map(|p| (0..rf as usize).map(|i| ids[(start % n + p % n + i) % n]).collect())
        .collect();
    Ok(plan)
}

/// The least-loaded candidate (fewest replicas, then fewest bytes, then
/// lowest id) that is not already in `current`, to replace a lost or
/// draining replica; `None` if every candidate already holds one.
pub fn replacement(cands: &[Candidate], current: &[NodeId]) -> Option<NodeId> {
    cands.iter().filter(|c| !current.contains(&c.id)).min_by_key(|c| (c.partitions, c.bytes, c.id)).map(|c| c.id)
}

fn check_request(cands: &[Candidate], partitions: u32, rf: u32) -> Result<(), PlacementError> {
    let bad = |reason: String| Err(PlacementError::BadRequest { reason });
    if partitions == 0 {
        return bad("a topic needs at least one partition".into());
    }
    if partitions > MAX_PARTITIONS {
        return bad(format!("{partitions} partitions; at most {MAX_PARTITIONS}"));
    }
    if rf == 0 {
        return bad("replication factor 0".into());
    }
    let distinct: BTreeSet<NodeId> = cands.iter().map(|c| c.id).collect();
    if distinct.len() != cands.len() {
        return bad("a candidate node is listed twice".into());
    }
    if cands.len() < rf as usize {
        return Err(PlacementError::NotEnoughNodes { live: cands.len(), needed: rf });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: NodeId, partitions: u32) -> Candidate {
        Candidate { id, partitions, leaders: 0, bytes: 0 }
    }

    fn nodes(ids: &[NodeId]) -> Vec<Candidate> {
        ids.iter().map(|&id| node(id, 0)).collect()
    }

    fn assert_distinct(plan: &Plan) {
        for replicas in plan {
            let set: BTreeSet<_> = replicas.iter().collect();
            assert_eq!(set.len(), replicas.len(), "replicas not distinct: {replicas:?}");
        }
    }

    #[test]
    fn loaded_node_is_avoided() {
        let cands = [node(1, 0), node(2, 50), node(3, 0), node(4, 1)];
        let plan = by_load(&cands, 1, 3).expect("enough nodes");
        let mut chosen = plan[0].clone();
        chosen.sort_unstable();
        assert_eq!(chosen, vec![1, 3, 4]);
    }

    #[test]
    fn load_ties_break_by_bytes_then_id() {
        let mut cands = nodes(&[5, 3, 9, 1]);
        cands[0].bytes = 10; // node 5 holds more data
        let plan = by_load(&cands, 1, 2).expect("enough nodes");
        assert_eq!(plan, vec![vec![1, 3]]);
        let again = by_load(&cands, 1, 2).expect("enough nodes");
        assert_eq!(plan, again, "same input, same plan");
        let mut reversed = cands.clone();
        reversed.reverse();
        assert_eq!(by_load(&reversed, 1, 2).expect("enough nodes"), plan, "input order does not matter");
    }

    #[test]
    fn replicas_are_distinct_and_spread() {
        let cands = nodes(&[1, 2, 3, 4, 5]);
        let plan = by_load(&cands, 10, 3).expect("enough nodes");
        assert_eq!(plan.len(), 10);
        assert_distinct(&plan);
        for id in 1..=5 {
            let hosted = plan.iter().filter(|r| r.contains(&id)).count();
            assert_eq!(hosted, 6, "30 replicas over 5 nodes: node {id} hosts {hosted}");
            let led = plan.iter().filter(|r| r[0] == id).count();
            assert_eq!(led, 2, "10 leaders over 5 nodes: node {id} leads {led}");
        }
    }

    #[test]
    fn each_of_three_nodes_leads_one_of_three_partitions() {
        let plan = by_load(&nodes(&[1, 2, 3]), 3, 3).expect("enough nodes");
        let mut leaders: Vec<_> = plan.iter().map(|r| r[0]).collect();
        leaders.sort_unstable();
        assert_eq!(leaders, vec![1, 2, 3]);
        assert_distinct(&plan);
    }

    #[test]
    fn existing_leaders_count() {
        let mut cands = nodes(&[1, 2, 3]);
        cands[0].leaders = 4;
        cands[1].leaders = 1;
        let plan = by_load(&cands, 1, 3).expect("enough nodes");
        assert_eq!(plan[0][0], 3, "node 3 leads nothing yet");
    }

    #[test]
    fn a_node_that_is_down_gets_nothing() {
        // Node 2 is down: the caller leaves it out of the candidates.
        let plan = by_load(&nodes(&[1, 3, 4]), 4, 2).expect("enough nodes");
        assert!(plan.iter().all(|r| !r.contains(&2)));
    }

    #[test]
    fn fewer_live_nodes_than_rf() {
        let err = by_load(&nodes(&[1, 2]), 1, 3).expect_err("two nodes cannot hold three replicas");
        assert_eq!(err, PlacementError::NotEnoughNodes { live: 2, needed: 3 });
        let err = round_robin(&nodes(&[1, 2]), 1, 3, 0).expect_err("same for the fallback");
        assert_eq!(err, PlacementError::NotEnoughNodes { live: 2, needed: 3 });
        assert_eq!(by_load(&[], 1, 1), Err(PlacementError::NotEnoughNodes { live: 0, needed: 1 }));
    }

    #[test]
    fn bad_requests() {
        let cands = nodes(&[1, 2, 3]);
        for (partitions, rf) in [(0, 1), (1, 0), (MAX_PARTITIONS + 1, 1)] {
            assert!(matches!(by_load(&cands, partitions, rf), Err(PlacementError::BadRequest { .. })));
            assert!(matches!(round_robin(&cands, partitions, rf, 0), Err(PlacementError::BadRequest { .. })));
        }
        let twice = nodes(&[1, 1, 2]);
        assert!(matches!(by_load(&twice, 1, 2), Err(PlacementError::BadRequest { .. })));
    }

    #[test]
    fn round_robin_shape() {
        let cands = nodes(&[30, 10, 20, 40]); // sorted: 10 20 30 40
        let plan = round_robin(&cands, 5, 3, 1).expect("enough nodes");
        assert_eq!(
            plan,
            vec![vec![20, 30, 40], vec![30, 40, 10], vec![40, 10, 20], vec![10, 20, 30], vec![20, 30, 40]]
        );
        assert_distinct(&plan);
        let huge_start = round_robin(&cands, 2, 2, usize::MAX).expect("start does not overflow");
        assert_eq!(huge_start.len(), 2);
        assert_distinct(&huge_start);
    }

    #[test]
    fn replacement_is_least_loaded_outside_current() {
        let cands = [node(1, 0), node(2, 0), node(3, 7), node(4, 2), node(5, 2)];
        assert_eq!(replacement(&cands, &[1, 2]), Some(4), "4 and 5 tie on load; lower id wins");
        assert_eq!(replacement(&cands, &[1, 2, 4, 5]), Some(3));
        assert_eq!(replacement(&cands, &[1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn node_that_never_answers_is_left_out_of_the_fallback() {
        let mut cands = vec![node(1, 3), node(2, 0), node(3, 1), node(4, 2)];
        let plan = by_load(&cands, 1, 3).expect("enough nodes");
        let silent = plan[0][0];
        assert_eq!(silent, 2, "the least loaded node is asked first");

        // Node 2 times out: the allocator drops it and falls back.
        cands.retain(|c| c.id != silent);
        let fallback = round_robin(&cands, 1, 3, 0).expect("three nodes left");
        assert_eq!(fallback, vec![vec![1, 3, 4]]);
        assert!(fallback.iter().all(|r| !r.contains(&silent)));

        // Another node fails too: no longer enough for rf 3.
        cands.retain(|c| c.id != 4);
        assert_eq!(round_robin(&cands, 1, 3, 0), Err(PlacementError::NotEnoughNodes { live: 2, needed: 3 }));
    }
}
