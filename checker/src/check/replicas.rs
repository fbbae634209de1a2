//! Replica divergence: after healing, every replica of a partition must hold
//! the same messages at the same offsets.
//!
//! Each replica's final read is compared offset by offset with a reference:
//! the acknowledged message at that offset if there is one, otherwise the
//! message most replicas hold there. A replica diverges at an offset when it
//! holds a different message, holds nothing below its own end (a hole), or
//! stops short of an acknowledged message another replica holds. A message no
//! replica holds is a lost write (see `offsets.rs`), not a divergence.

use std::collections::{BTreeMap, BTreeSet};

use crate::anomaly::Anomaly;
use crate::check::index::{Index, PartitionView};

/// One replica's log as its final read showed it.
struct ReplicaLog<'h> {
    at: BTreeMap<u64, &'h str>,
    /// One past its last offset.
    end: u64,
}

pub(crate) fn check(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    for ((topic, partition), view) in &index.partitions {
        if view.final_reads.is_empty() {
            continue;
        }
        let replicas = replica_logs(view);
        let acked_at: BTreeMap<u64, &str> = view
            .acks
            .iter()
            .rev() // so the first ack of an offset wins
            .map(|ack| (ack.offset, ack.message_id))
            .collect();
        let offsets: BTreeSet<u64> = replicas.values().flat_map(|log| log.at.keys().copied()).collect();
        for offset in offsets {
            let Some(expected) = acked_at.get(&offset).copied().or_else(|| majority(&replicas, offset)) else {
                continue;
            };
            for (replica, log) in &replicas {
                let found = log.at.get(&offset).copied();
                let diverges = match found {
                    Some(id) => id != expected,
                    None => offset < log.end || index.is_acked(topic, expected),
                };
                if diverges {
                    out.push(Anomaly::ReplicaDivergence {
                        topic: (*topic).to_owned(),
                        partition: *partition,
                        replica: (*replica).to_owned(),
                        offset,
                        expected: expected.to_owned(),
                        found: found.map(str::to_owned),
                    });
                }
            }
        }
    }
}

/// The last final read of each replica (a test may read a replica twice).
fn replica_logs<'h>(view: &PartitionView<'h>) -> BTreeMap<&'h str, ReplicaLog<'h>> {
    let mut logs = BTreeMap::new();
    for (replica, read) in &view.final_reads {
        let mut at = BTreeMap::new();
        for (offset, id) in read.entries {
            // A replica listing one offset twice is an inconsistent offset,
            // reported elsewhere; keep the first.
            at.entry(*offset).or_insert(id.as_str());
        }
        let end = at.keys().next_back().map_or(0, |o: &u64| o.saturating_add(1));
        logs.insert(*replica, ReplicaLog { at, end });
    }
    logs
}

/// The message most replicas hold at `offset`; ties go to the smallest id so
/// reports are stable.
fn majority<'h>(replicas: &BTreeMap<&'h str, ReplicaLog<'h>>, offset: u64) -> Option<&'h str> {
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for log in replicas.values() {
        if let Some(id) = log.at.get(&offset) {
            *votes.entry(id).or_default() += 1;
        }
    }
    let most = votes.values().copied().max()?;
    votes.into_iter().find(|(_, n)| *n == most).map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::check::testkit::{assert_clean, assert_only, Script};

    fn acked_abc() -> Script {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).publish_ok("b", 0, 1).publish_ok("c", 0, 2);
        s
    }

    #[test]
    fn replicas_that_agree_are_clean() {
        let mut s = acked_abc();
        let log = [(0, "a"), (1, "b"), (2, "c")];
        s.healed().final_read(0, "n1", &log).final_read(0, "n2", &log).final_read(0, "n3", &log);
        assert_clean(&s.check());
    }

    #[test]
    fn short_replica_lacking_an_acked_message_diverges() {
        let mut s = acked_abc();
        s.final_read(0, "n1", &[(0, "a"), (1, "b"), (2, "c")])
            .final_read(0, "n2", &[(0, "a"), (1, "b"), (2, "c")])
            .final_read(0, "n3", &[(0, "a"), (1, "b")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::ReplicaDivergence);
        assert_eq!(
            report.examples(AnomalyKind::ReplicaDivergence),
            [Anomaly::ReplicaDivergence {
                topic: "t".into(),
                partition: 0,
                replica: "n3".into(),
                offset: 2,
                expected: "c".into(),
                found: None,
            }]
        );
    }

    #[test]
    fn hole_below_the_replicas_end_diverges() {
        let mut s = acked_abc();
        s.final_read(0, "n1", &[(0, "a"), (1, "b"), (2, "c")]).final_read(0, "n2", &[(0, "a"), (2, "c")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::ReplicaDivergence);
        assert_eq!(report.count(AnomalyKind::ReplicaDivergence), 1);
    }

    #[test]
    fn hole_holding_an_unacked_message_elsewhere_diverges() {
        // "x" was never acknowledged, but one replica has it below the other's end.
        let mut s = Script::new();
        s.publish_ok("a", 0, 0)
            .publish_unknown("x")
            .publish_ok("c", 0, 2)
            .final_read(0, "n1", &[(0, "a"), (1, "x"), (2, "c")])
            .final_read(0, "n2", &[(0, "a"), (2, "c")]);
        assert_only(&s.check(), AnomalyKind::ReplicaDivergence);
    }

    #[test]
    fn different_message_at_an_offset_diverges_and_is_inconsistent() {
        let mut s = acked_abc();
        s.final_read(0, "n1", &[(0, "a"), (1, "b"), (2, "c")]).final_read(0, "n2", &[(0, "a"), (1, "z"), (2, "c")]);
        let report = s.check();
        assert_eq!(report.count(AnomalyKind::ReplicaDivergence), 1);
        assert_eq!(report.count(AnomalyKind::InconsistentOffset), 1);
        assert_eq!(report.total_anomalies(), 2, "{report}");
        match &report.examples(AnomalyKind::ReplicaDivergence)[0] {
            Anomaly::ReplicaDivergence { replica, expected, found, .. } => {
                assert_eq!((replica.as_str(), expected.as_str(), found.as_deref()), ("n2", "b", Some("z")))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn short_replica_lacking_only_an_unacked_tail_is_clean() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).publish_unknown("u").final_read(0, "n1", &[(0, "a"), (1, "u")]).final_read(
            0,
            "n2",
            &[(0, "a")],
        );
        assert_clean(&s.check());
    }
}
