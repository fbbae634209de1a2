//! Delivery order within a subscription, and delivery completeness per group.
//!
//! A subscription must deliver the partition's existing offsets from its start
//! offset upwards, each once, in order; only a delivery flagged `redelivered`
//! may repeat an offset. Per subscription we keep a frontier:
//!
//! ```text
//!  start_offset            high    next = high + 1
//!      |  delivered ...      |       |   a delivery at o > next skips the
//!      v                     v       v   existing offsets in [next, o)
//! ```
//!
//! A consumer group, once the test drains it to some end offset, must have had
//! every existing offset from its committed start up to that end delivered to
//! some subscription of the group, across crashes and resubscribes.
//! "Existing" means seen anywhere in the history (acks, reads, deliveries,
//! final reads).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::anomaly::Anomaly;
use crate::check::index::{Index, Tp};
use crate::history::Event;
use crate::op::Op;

/// The frontier of one subscription.
struct Frontier<'h> {
    group: Option<&'h str>,
    /// The lowest offset not yet delivered in order.
    next: u64,
    /// The highest offset delivered so far.
    high: Option<u64>,
}

/// One subscription of a group, with its position in the timeline.
struct Start {
    pos: usize,
    start_offset: u64,
    from_committed: bool,
}

/// What a group received on one partition.
#[derive(Default)]
struct GroupLog {
    starts: Vec<Start>,
    /// Offset -> timeline position of its first delivery to the group.
    delivered: HashMap<u64, usize>,
}

pub(crate) fn check(index: &Index<'_>, out: &mut Vec<Anomaly>) {
    let mut subs: HashMap<u64, Frontier<'_>> = HashMap::new();
    let mut groups: BTreeMap<(&str, Tp<'_>), GroupLog> = BTreeMap::new();
    let mut drained: Vec<(usize, &Event)> = Vec::new();

    for (pos, &event) in index.timeline.iter().enumerate() {
        match &event.op {
            Op::Subscribe { subscription, group, topic, partition, start_offset, from_committed } => {
                // A reused id starts a new subscription.
                subs.insert(*subscription, Frontier { group: Some(group.as_str()), next: *start_offset, high: None });
                let tp = (topic.as_str(), *partition);
                let log = groups.entry((group.as_str(), tp)).or_default();
                log.starts.push(Start { pos, start_offset: *start_offset, from_committed: *from_committed });
            }
            Op::Deliver { subscription, topic, partition, offset, redelivered, .. } => {
                // Without a Subscribe we cannot know the start: trust the first delivery.
                let frontier = subs.entry(*subscription).or_insert(Frontier { group: None, next: *offset, high: None });
                let tp = (topic.as_str(), *partition);
                if let Some(anomaly) = advance(index, frontier, event, tp, *redelivered) {
                    out.push(anomaly);
                }
                if let Some(group) = frontier.group {
                    let log = groups.entry((group, tp)).or_default();
                    log.delivered.entry(*offset).or_insert(pos);
                }
            }
            Op::Drained { .. } => drained.push((pos, event)),
            _ => {}
        }
    }
    lost_deliveries(index, &groups, &drained, out);
}

/// Moves a subscription's frontier over one delivery, returning the anomaly it
/// shows, if any.
fn advance(
    index: &Index<'_>,
    frontier: &mut Frontier<'_>,
    event: &Event,
    (topic, partition): Tp<'_>,
    redelivered: bool,
) -> Option<Anomaly> {
    let Op::Deliver { subscription, offset, .. } = &event.op else {
        return None;
    };
    let offset = *offset;
    if let Some(high) = frontier.high {
        if offset <= high {
            return (!redelivered).then(|| Anomaly::NonMonotonic {
                subscription: *subscription,
                topic: topic.to_owned(),
                partition,
                previous: high,
                offset,
                at_ms: event.at_ms,
            });
        }
    }
    let from = frontier.next;
    let previous = frontier.high;
    frontier.high = Some(offset);
    // A delivery below the start offset must not pull the frontier down.
    frontier.next = from.max(offset.saturating_add(1));
    if offset <= from {
        return None;
    }
    let view = index.partitions.get(&(topic, partition))?;
    let mut skipped = view.cells.range(from..offset).map(|(o, _)| *o);
    let first_skipped = skipped.next()?;
    Some(Anomaly::Skip {
        subscription: *subscription,
        topic: topic.to_owned(),
        partition,
        previous,
        offset,
        first_skipped,
        skipped: 1 + skipped.count() as u64,
        at_ms: event.at_ms,
    })
}

/// For each `Drained`, every existing offset from the group's start up to the
/// drained end must have been delivered to the group before it.
fn lost_deliveries(
    index: &Index<'_>,
    groups: &BTreeMap<(&str, Tp<'_>), GroupLog>,
    drained: &[(usize, &Event)],
    out: &mut Vec<Anomaly>,
) {
    let mut reported = HashSet::new();
    for (pos, event) in drained {
        let Op::Drained { group, topic, partition, end_offset } = &event.op else {
            continue;
        };
        let tp = (topic.as_str(), *partition);
        let Some(view) = index.partitions.get(&tp) else {
            continue;
        };
        let log = groups.get(&(group.as_str(), tp));
        let start = log.map_or(0, |log| group_start(log, *pos));
        if start >= *end_offset {
            continue;
        }
        for offset in view.cells.range(start..*end_offset).map(|(o, _)| *o) {
            let delivered = log.and_then(|log| log.delivered.get(&offset)).is_some_and(|at| at < pos);
            if !delivered && reported.insert((group.as_str(), tp, offset)) {
                out.push(Anomaly::LostDelivery {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    offset,
                    drained_end: *end_offset,
                    drained_at_ms: event.at_ms,
                });
            }
        }
    }
}

/// Where the group's consumption began, counting subscriptions made before
/// timeline position `before`: the lowest start of a resume from the committed
/// offset, else the lowest start of any subscription, else 0 (the group never
/// subscribed, so nothing was delivered).
fn group_start(log: &GroupLog, before: usize) -> u64 {
    let starts = || log.starts.iter().filter(|s| s.pos < before);
    starts()
        .filter(|s| s.from_committed)
        .map(|s| s.start_offset)
        .min()
        .or_else(|| starts().map(|s| s.start_offset).min())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::check::testkit::{assert_clean, assert_only, Script};

    const LOG: [(u64, &str); 6] = [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e"), (5, "f")];

    /// Six acked messages at offsets 0..6 of partition 0, final read at the end.
    fn published() -> Script {
        let mut s = Script::new();
        for (offset, id) in LOG {
            s.publish_ok(id, 0, offset);
        }
        s
    }

    fn finish(s: &mut Script) -> crate::report::Report {
        s.final_read(0, "n1", &LOG).final_read(0, "n2", &LOG);
        s.check()
    }

    #[test]
    fn in_order_consumption_drained_to_the_end_is_clean() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true);
        for (offset, id) in LOG {
            s.deliver(1, 0, offset, id);
        }
        s.commit_ack("g", 0, 6).drained("g", 0, 6);
        let report = finish(&mut s);
        assert_clean(&report);
        assert_eq!(report.totals.deliveries, 6);
        assert_eq!(report.totals.subscriptions, 1);
    }

    #[test]
    fn redeliveries_and_a_resubscribe_from_the_committed_offset_are_clean() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true)
            .deliver(1, 0, 0, "a")
            .deliver(1, 0, 1, "b")
            .deliver(1, 0, 2, "c")
            // The server rewinds after a lost ack: repeats are flagged.
            .redeliver(1, 0, 1, "b")
            .redeliver(1, 0, 2, "c")
            .deliver(1, 0, 3, "d")
            .commit_ack("g", 0, 2)
            .fault("kill -9 consumer")
            // Reconnect: resume from the committed offset, 2 and 3 come again.
            .by(2)
            .commit_read("g", 0, 2)
            .subscribe(2, "g", 0, 2, true)
            .redeliver(2, 0, 2, "c")
            .redeliver(2, 0, 3, "d")
            .deliver(2, 0, 4, "e")
            .deliver(2, 0, 5, "f")
            .commit_ack("g", 0, 6)
            .drained("g", 0, 6);
        let report = finish(&mut s);
        assert_clean(&report);
        assert_eq!(report.totals.redeliveries, 4);
    }

    #[test]
    fn going_backwards_without_the_redelivery_flag_is_nonmonotonic() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true)
            .deliver(1, 0, 0, "a")
            .deliver(1, 0, 1, "b")
            .deliver(1, 0, 2, "c")
            .deliver(1, 0, 1, "b");
        let report = finish(&mut s);
        assert_only(&report, AnomalyKind::NonMonotonic);
        match &report.examples(AnomalyKind::NonMonotonic)[0] {
            Anomaly::NonMonotonic { previous, offset, .. } => assert_eq!((*previous, *offset), (2, 1)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn repeating_an_offset_without_the_flag_is_nonmonotonic() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true).deliver(1, 0, 0, "a").deliver(1, 0, 0, "a");
        assert_only(&finish(&mut s), AnomalyKind::NonMonotonic);
    }

    #[test]
    fn jumping_over_an_existing_offset_is_a_skip() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true).deliver(1, 0, 0, "a").deliver(1, 0, 1, "b").deliver(1, 0, 4, "e");
        let report = finish(&mut s);
        assert_only(&report, AnomalyKind::Skip);
        match &report.examples(AnomalyKind::Skip)[0] {
            Anomaly::Skip { previous, first_skipped, skipped, .. } => {
                assert_eq!((*previous, *first_skipped, *skipped), (Some(1), 2, 2))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn starting_above_the_start_offset_is_a_skip() {
        let mut s = published();
        s.subscribe(1, "g", 0, 2, true).deliver(1, 0, 3, "d");
        assert_only(&finish(&mut s), AnomalyKind::Skip);
    }

    #[test]
    fn offsets_below_the_start_offset_are_not_skipped() {
        let mut s = published();
        s.subscribe(1, "g", 0, 4, true).deliver(1, 0, 4, "e").deliver(1, 0, 5, "f").drained("g", 0, 6);
        assert_clean(&finish(&mut s));
    }

    #[test]
    fn resubscribing_past_an_undelivered_offset_loses_a_delivery() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true)
            .deliver(1, 0, 0, "a")
            .deliver(1, 0, 1, "b")
            .fault("kill -9 consumer")
            // The group resumes at 3, but 2 was never delivered.
            .subscribe(2, "g", 0, 3, true)
            .deliver(2, 0, 3, "d")
            .deliver(2, 0, 4, "e")
            .deliver(2, 0, 5, "f")
            .drained("g", 0, 6);
        let report = finish(&mut s);
        assert_only(&report, AnomalyKind::LostDelivery);
        assert_eq!(report.count(AnomalyKind::LostDelivery), 1);
        match &report.examples(AnomalyKind::LostDelivery)[0] {
            Anomaly::LostDelivery { offset, group, .. } => {
                assert_eq!((*offset, group.as_str()), (2, "g"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn deliveries_to_another_group_do_not_count() {
        let mut s = published();
        s.subscribe(1, "other", 0, 0, true);
        for (offset, id) in LOG {
            s.deliver(1, 0, offset, id);
        }
        s.subscribe(2, "g", 0, 0, true).deliver(2, 0, 0, "a").drained("g", 0, 2);
        assert_only(&finish(&mut s), AnomalyKind::LostDelivery);
    }

    #[test]
    fn deliveries_after_drained_do_not_count() {
        let mut s = published();
        s.subscribe(1, "g", 0, 0, true).deliver(1, 0, 0, "a").drained("g", 0, 2).deliver(1, 0, 1, "b");
        assert_only(&finish(&mut s), AnomalyKind::LostDelivery);
    }
}
