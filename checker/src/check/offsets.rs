//! What the log holds: inconsistent offsets, duplicates, lost writes and
//! failed writes that became visible.
//!
//! These checks compare every observation of a position (acks, range reads,
//! deliveries, final reads) with every other and with the publishes' outcomes.
//! They need no notion of time: a committed log never changes what an offset
//! holds, so any disagreement is a violation whenever it was seen.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::anomaly::Anomaly;
use crate::check::index::{Ack, Index, PartitionView, Seen};
use crate::evidence::{Placement, Sighting};
use crate::op::Op;

pub(crate) fn check(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    inconsistent_offsets(index, out);
    duplicates(index, out);
    lost_writes(index, out);
    failed_visible(index, out);
}

/// One offset seen holding two different messages.
fn inconsistent_offsets(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    for ((topic, partition), view) in &index.partitions {
        for (offset, ids) in &view.cells {
            if ids.len() > 1 {
                out.push(Anomaly::InconsistentOffset {
                    topic: (*topic).to_owned(),
                    partition: *partition,
                    offset: *offset,
                    values: ids
                        .iter()
                        .map(|(id, seen)| Sighting { message_id: (*id).to_owned(), source: seen.source() })
                        .collect(),
                });
            }
        }
    }
}

/// One message seen at two positions of its topic.
fn duplicates(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    for ((topic, message_id), message) in &index.messages {
        if message.positions.len() > 1 {
            out.push(Anomaly::Duplicate {
                topic: (*topic).to_owned(),
                message_id: (*message_id).to_owned(),
                positions: message
                    .positions
                    .iter()
                    .map(|(partition, offset, seen)| Placement {
                        partition: *partition,
                        offset: *offset,
                        source: seen.source(),
                    })
                    .collect(),
            });
        }
    }
}

/// Acknowledged messages missing from a read that covered their offset, or
/// from every final read of their partition.
fn lost_writes(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    for ((topic, partition), view) in &index.partitions {
        if view.acks.is_empty() {
            continue;
        }
        let missing = missing_from_reads(view);
        let in_final_reads: Option<HashSet<&str>> = (!view.final_reads.is_empty()).then(|| {
            view.final_reads.iter().flat_map(|(_, read)| read.entries.iter().map(|(_, id)| id.as_str())).collect()
        });
        let mut reported = HashSet::new();
        for ack in &view.acks {
            if !reported.insert((ack.offset, ack.message_id)) {
                continue;
            }
            let unseen = in_final_reads.as_ref().is_some_and(|ids| !ids.contains(ack.message_id));
            let missing_from = missing.get(&(ack.offset, ack.message_id));
            if unseen || missing_from.is_some() {
                out.push(Anomaly::LostWrite {
                    topic: (*topic).to_owned(),
                    partition: *partition,
                    offset: ack.offset,
                    message_id: ack.message_id.to_owned(),
                    acked_at_ms: ack.event.at_ms,
                    unseen,
                    missing_from: missing_from.map(|seen| seen.source()),
                });
            }
        }
    }
}

/// For each acked `(offset, message)`, the first range read that covered the
/// offset but held the message nowhere. Linear in the reads' sizes: each read
/// only visits the acks inside its range.
fn missing_from_reads<'h>(view: &PartitionView<'h>) -> HashMap<(u64, &'h str), Seen<'h>> {
    let mut by_offset: BTreeMap<u64, Vec<&Ack<'h>>> = BTreeMap::new();
    for ack in &view.acks {
        by_offset.entry(ack.offset).or_default().push(ack);
    }
    let mut missing = HashMap::new();
    for read in &view.reads {
        let Op::Read { from, to, .. } = &read.event.op else {
            continue;
        };
        if from >= to {
            continue;
        }
        let mut held: Option<HashSet<&str>> = None;
        for ack in by_offset.range(*from..*to).flat_map(|(_, acks)| acks) {
            let held = held.get_or_insert_with(|| read.entries.iter().map(|(_, id)| id.as_str()).collect());
            if !held.contains(ack.message_id) {
                missing.entry((ack.offset, ack.message_id)).or_insert(Seen::Read(read.event));
            }
        }
    }
    missing
}

/// Messages whose every publish attempt definitely failed, yet were seen.
fn failed_visible(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    for ((topic, message_id), message) in &index.messages {
        let Some((failed, reason)) = message.first_fail else {
            continue;
        };
        // A later attempt that succeeded or timed out explains the sighting.
        if message.acked || message.maybe_written {
            continue;
        }
        if let Some((partition, offset, seen)) = message.positions.first() {
            out.push(Anomaly::FailedVisible {
                topic: (*topic).to_owned(),
                message_id: (*message_id).to_owned(),
                failed_at_ms: failed.at_ms,
                reason: reason.to_owned(),
                seen_at: Placement { partition: *partition, offset: *offset, source: seen.source() },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::check::testkit::{assert_clean, assert_only, Script};
    use crate::evidence::Source;

    /// Three acked writes, a read of all of them, and one agreeing final read.
    fn healthy() -> Script {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0)
            .publish_ok("b", 0, 1)
            .publish_ok("c", 0, 2)
            .read(0, 0, 3, &[(0, "a"), (1, "b"), (2, "c")])
            .final_read(0, "n1", &[(0, "a"), (1, "b"), (2, "c")]);
        s
    }

    #[test]
    fn healthy_log_is_clean() {
        let report = healthy().check();
        assert_clean(&report);
        assert_eq!(report.totals.publishes.ok, 3);
        assert_eq!(report.totals.acknowledged_messages, 3);
        assert_eq!(report.totals.reads, 1);
        assert_eq!(report.totals.final_reads, 1);
    }

    #[test]
    fn two_reads_disagreeing_on_an_offset_is_inconsistent() {
        let mut s = Script::new();
        s.read(0, 0, 2, &[(0, "a"), (1, "b")]).read(0, 0, 2, &[(0, "a"), (1, "x")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::InconsistentOffset);
        match &report.examples(AnomalyKind::InconsistentOffset)[0] {
            Anomaly::InconsistentOffset { offset, values, .. } => {
                assert_eq!(*offset, 1);
                let ids: Vec<_> = values.iter().map(|v| v.message_id.as_str()).collect();
                assert_eq!(ids, ["b", "x"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn one_message_at_two_offsets_is_a_duplicate() {
        // A retried publish whose first attempt timed out but was written.
        let mut s = Script::new();
        s.publish_unknown("a").publish_ok("a", 0, 1).read(0, 0, 2, &[(0, "a"), (1, "a")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::Duplicate);
        assert_eq!(report.count(AnomalyKind::Duplicate), 1);
    }

    #[test]
    fn duplicate_across_partitions_is_found() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).deliver(9, 1, 0, "a");
        assert_only(&s.check(), AnomalyKind::Duplicate);
    }

    #[test]
    fn ack_missing_from_a_covering_read_is_a_lost_write() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).publish_ok("b", 0, 1).by(2).read(0, 0, 3, &[(0, "a"), (2, "c")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::LostWrite);
        assert_eq!(report.count(AnomalyKind::LostWrite), 1);
        match &report.examples(AnomalyKind::LostWrite)[0] {
            Anomaly::LostWrite { message_id, offset, unseen, missing_from, .. } => {
                assert_eq!((message_id.as_str(), *offset, *unseen), ("b", 1, false));
                assert!(matches!(missing_from, Some(Source::Read { process: 2, .. })));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn read_that_stops_before_the_ack_loses_nothing() {
        let mut s = Script::new();
        s.read(0, 0, 1, &[(0, "a")]).publish_ok("a", 0, 0).publish_ok("b", 0, 1);
        assert_clean(&s.check());
    }

    #[test]
    fn ack_absent_from_every_final_read_is_unseen() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).publish_ok("b", 0, 1).final_read(0, "n1", &[(0, "a")]).final_read(0, "n2", &[(0, "a")]);
        let report = s.check();
        assert_only(&report, AnomalyKind::LostWrite);
        match &report.examples(AnomalyKind::LostWrite)[0] {
            Anomaly::LostWrite { message_id, unseen, missing_from, .. } => {
                assert_eq!((message_id.as_str(), *unseen, missing_from), ("b", true, &None))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn without_final_reads_unseen_is_not_judged() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).final_read(1, "n1", &[]);
        assert_clean(&s.check());
    }

    #[test]
    fn failed_publish_that_is_read_is_failed_visible() {
        let mut s = Script::new();
        s.publish_fail("a").read(0, 0, 1, &[(0, "a")]);
        assert_only(&s.check(), AnomalyKind::FailedVisible);
    }

    #[test]
    fn failed_publish_that_is_delivered_is_failed_visible() {
        let mut s = Script::new();
        s.publish_fail("a").deliver(1, 0, 0, "a");
        assert_only(&s.check(), AnomalyKind::FailedVisible);
    }

    #[test]
    fn failed_then_retried_publish_may_be_visible() {
        let mut s = Script::new();
        s.publish_fail("a")
            .publish_ok("a", 0, 0)
            .publish_fail("b")
            .publish_unknown("b")
            .read(0, 0, 2, &[(0, "a"), (1, "b")])
            .final_read(0, "n1", &[(0, "a"), (1, "b")]);
        let report = s.check();
        assert_clean(&report);
        assert_eq!(report.totals.publishes.fail, 2);
        assert_eq!(report.totals.publishes.unknown, 1);
    }

    #[test]
    fn unknown_outcomes_seen_once_or_never_are_fine() {
        let mut s = healthy();
        s.publish_unknown("d")
            .publish_unknown("e")
            .publish_unknown("e")
            .publish_fail("f")
            .read(0, 0, 4, &[(0, "a"), (1, "b"), (2, "c"), (3, "e")])
            .final_read(0, "n2", &[(0, "a"), (1, "b"), (2, "c"), (3, "e")]);
        assert_clean(&s.check());
    }
}
