//! How long writes stopped after each injected fault.
//!
//! Zya promises that writes resume within a few seconds of losing any single
//! process. Per fault, we look at every partition that was taking writes
//! before it and measure the wait until its next acknowledged publish; the
//! worst partition is the fault's write unavailability.
//!
//! ```text
//!   ack ack ack   FAULT          ack ack          next FAULT / end
//!   ─────────────────┼───────────────┼──────────────────────┼──▶ time
//!                    |<─ unavailable ─>|                       |
//! ```

use crate::check::index::Index;
use crate::op::Op;
use crate::report::FaultWindow;

pub(crate) fn fault_windows(index: &Index<'_>) -> Vec<FaultWindow> {
    let faults: Vec<(usize, &str, u64)> = index
        .timeline
        .iter()
        .enumerate()
        .filter_map(|(pos, e)| match &e.op {
            Op::Fault { description } => Some((pos, description.as_str(), e.at_ms)),
            _ => None,
        })
        .collect();
    let end_ms = index.timeline.last().map_or(0, |e| e.at_ms);
    // Per partition, acknowledgement times in order (the timeline is sorted).
    let ack_times: Vec<Vec<u64>> = index
        .partitions
        .values()
        .map(|view| view.acks.iter().map(|ack| ack.event.at_ms).collect())
        .filter(|times: &Vec<u64>| !times.is_empty())
        .collect();

    faults
        .iter()
        .enumerate()
        .map(|(i, &(pos, description, at_ms))| {
            let next = faults.get(i + 1);
            let window_end = next.map_or(end_ms, |f| f.2);
            let next_pos = next.map_or(index.timeline.len(), |f| f.0);
            let healed_at_ms =
                index.timeline[pos..next_pos].iter().find(|e| matches!(e.op, Op::Healed)).map(|e| e.at_ms);
            let mut worst = None;
            let mut not_resumed = 0;
            for times in &ack_times {
                // Partitions with no ack up to the fault were not taking writes.
                let after = times.partition_point(|t| *t <= at_ms);
                if after == 0 {
                    continue;
                }
                let wait = match times.get(after) {
                    Some(t) if *t <= window_end => t - at_ms,
                    _ => {
                        not_resumed += 1;
                        window_end.saturating_sub(at_ms)
                    }
                };
                worst = worst.max(Some(wait));
            }
            FaultWindow {
                description: description.to_owned(),
                at_ms,
                healed_at_ms,
                write_unavailable_ms: worst,
                partitions_not_resumed: not_resumed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::check::testkit::{assert_clean, Script};
    use crate::report::FaultWindow;

    #[test]
    fn unavailability_is_the_worst_partitions_wait() {
        let mut s = Script::new();
        s.at(100).publish_ok("a", 0, 0).publish_ok("b", 1, 0);
        s.at(1000).fault("kill -9 leader of t/1");
        s.at(1050).publish_ok("c", 0, 1);
        s.at(3500).publish_ok("d", 1, 1);
        s.at(4000).healed();
        s.at(5000).fault("pause n3").publish_ok("e", 0, 2);
        let report = s.check();
        assert_clean(&report);
        assert_eq!(
            report.faults,
            [
                FaultWindow {
                    description: "kill -9 leader of t/1".into(),
                    at_ms: 1000,
                    healed_at_ms: Some(4000),
                    write_unavailable_ms: Some(2500),
                    partitions_not_resumed: 0,
                },
                FaultWindow {
                    description: "pause n3".into(),
                    at_ms: 5000,
                    healed_at_ms: None,
                    write_unavailable_ms: Some(10),
                    partitions_not_resumed: 1,
                },
            ]
        );
    }

    #[test]
    fn a_fault_before_any_write_has_no_unavailability() {
        let mut s = Script::new();
        s.fault("partition n1").publish_ok("a", 0, 0);
        let report = s.check();
        assert_eq!(report.faults.len(), 1);
        assert_eq!(report.faults[0].write_unavailable_ms, None);
        assert!(report.to_string().contains("no writes before it"));
    }
}
