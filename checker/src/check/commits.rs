//! Committed consumer offsets: they never go backwards and never point past
//! the log.
//!
//! A commit read back must be at least every commit acknowledged before the
//! read completed. "Before" is by timestamp; within one millisecond only an
//! ack of the same client (recorded earlier) counts, since acks and reads of
//! different clients in one millisecond may have been concurrent.

use std::collections::BTreeMap;

use crate::anomaly::Anomaly;
use crate::check::index::{Index, Tp};
use crate::evidence::CommitSource;
use crate::history::Event;
use crate::op::Op;

/// The acknowledged commits of one `(group, topic, partition)` seen so far.
#[derive(Default)]
struct Acked<'h> {
    /// The timestamp of `same_ms`.
    bucket_ms: u64,
    /// The highest ack with a timestamp below `bucket_ms`.
    before: Option<(u64, &'h Event)>,
    /// Acks at exactly `bucket_ms`, in timeline order.
    same_ms: Vec<(u64, &'h Event)>,
}

impl<'h> Acked<'h> {
    fn advance_to(&mut self, at_ms: u64) {
        if at_ms > self.bucket_ms {
            for ack in self.same_ms.drain(..) {
                if self.before.is_none_or(|(best, _)| ack.0 > best) {
                    self.before = Some(ack);
                }
            }
            self.bucket_ms = at_ms;
        }
    }

    /// The highest ack that completed before `read`.
    fn highest_before(&self, read: &Event) -> Option<(u64, &'h Event)> {
        self.same_ms
            .iter()
            .filter(|(_, ack)| ack.process == read.process)
            .copied()
            .chain(self.before)
            .max_by_key(|(offset, _)| *offset)
    }
}

/// `(group, topic, partition, committed_offset, source)` of a commit event.
fn commit_of(event: &Event) -> Option<(&str, Tp<'_>, u64, CommitSource)> {
    match &event.op {
        Op::CommitAck { group, topic, partition, committed_offset } => {
            Some((group.as_str(), (topic.as_str(), *partition), *committed_offset, CommitSource::Ack))
        }
        Op::CommitRead { group, topic, partition, committed_offset } => {
            Some((group.as_str(), (topic.as_str(), *partition), *committed_offset, CommitSource::Read))
        }
        _ => None,
    }
}

pub(crate) fn check(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    let mut acked: BTreeMap<(&str, Tp<'_>), Acked<'_>> = BTreeMap::new();
    for &event in &index.timeline {
        let Some((group, tp, offset, source)) = commit_of(event) else {
            continue;
        };
        let log_end = index.partitions.get(&tp).map_or(0, |view| view.log_end());
        if offset > log_end {
            out.push(Anomaly::CommitBeyondLog {
                group: group.to_owned(),
                topic: tp.0.to_owned(),
                partition: tp.1,
                committed_offset: offset,
                log_end,
                source,
                at_ms: event.at_ms,
            });
        }
        let state = acked.entry((group, tp)).or_default();
        state.advance_to(event.at_ms);
        match source {
            CommitSource::Ack => state.same_ms.push((offset, event)),
            CommitSource::Read => {
                if let Some((best, ack)) = state.highest_before(event) {
                    if best > offset {
                        out.push(Anomaly::LostCommit {
                            group: group.to_owned(),
                            topic: tp.0.to_owned(),
                            partition: tp.1,
                            acked: best,
                            acked_at_ms: ack.at_ms,
                            read: offset,
                            read_at_ms: event.at_ms,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::check::testkit::{assert_clean, assert_only, Script};

    const LOG: [(u64, &str); 4] = [(0, "a"), (1, "b"), (2, "c"), (3, "d")];

    fn published() -> Script {
        let mut s = Script::new();
        for (offset, id) in LOG {
            s.publish_ok(id, 0, offset);
        }
        s.final_read(0, "n1", &LOG);
        s
    }

    #[test]
    fn commits_that_only_grow_are_clean() {
        let mut s = published();
        s.commit_ack("g", 0, 1)
            .commit_read("g", 0, 1)
            .commit_ack("g", 0, 4)
            .by(2)
            .commit_read("g", 0, 4)
            // Another group's lower offset is its own business.
            .commit_ack("h", 0, 0)
            .commit_read("h", 0, 0);
        let report = s.check();
        assert_clean(&report);
        assert_eq!(report.totals.commit_acks, 3);
        assert_eq!(report.totals.commit_reads, 3);
    }

    #[test]
    fn reading_back_a_lower_offset_is_a_lost_commit() {
        let mut s = published();
        s.commit_ack("g", 0, 3).by(2).commit_read("g", 0, 1);
        let report = s.check();
        assert_only(&report, AnomalyKind::LostCommit);
        match &report.examples(AnomalyKind::LostCommit)[0] {
            Anomaly::LostCommit { acked, read, .. } => assert_eq!((*acked, *read), (3, 1)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_highest_earlier_ack_is_the_reference() {
        let mut s = published();
        s.commit_ack("g", 0, 3).commit_ack("g", 0, 2).commit_read("g", 0, 2);
        assert_only(&s.check(), AnomalyKind::LostCommit);
    }

    #[test]
    fn same_millisecond_counts_only_for_the_same_client() {
        let mut s = published();
        s.at(1000).commit_ack("g", 0, 3);
        s.at(1000).by(2).commit_read("g", 0, 1);
        assert_clean(&s.check());
        s.at(1000).by(1).commit_read("g", 0, 1);
        assert_only(&s.check(), AnomalyKind::LostCommit);
    }

    #[test]
    fn a_read_before_the_ack_is_not_compared() {
        let mut s = published();
        s.commit_read("g", 0, 0).commit_ack("g", 0, 2);
        assert_clean(&s.check());
    }

    #[test]
    fn committing_past_the_log_end_is_commit_beyond_log() {
        let mut s = published();
        s.commit_ack("g", 0, 4).commit_ack("g", 0, 9);
        let report = s.check();
        assert_only(&report, AnomalyKind::CommitBeyondLog);
        match &report.examples(AnomalyKind::CommitBeyondLog)[0] {
            Anomaly::CommitBeyondLog { committed_offset, log_end, .. } => {
                assert_eq!((*committed_offset, *log_end), (9, 4))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn without_final_reads_the_log_end_comes_from_observations() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).publish_ok("b", 0, 1).commit_ack("g", 0, 2).commit_read("g", 0, 3);
        assert_only(&s.check(), AnomalyKind::CommitBeyondLog);
    }
}
