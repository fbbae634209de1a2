//! The checker proper: index a history once, run each group of checks over
//! the index, and fold the findings into a [`Report`].
//!
//! ```text
//! History ─▶ Index ─┬─▶ offsets        inconsistent-offset, duplicate,
//!                   │                  lost-write, failed-visible
//!                   ├─▶ replicas       replica-divergence
//!                   ├─▶ subscriptions  nonmonotonic, skip, lost-delivery
//!                   ├─▶ commits        lost-commit, commit-beyond-log
//!                   └─▶ availability   write unavailability per fault
//! ```
//!
//! Every check is linear (up to a log factor) in the size of the history: no
//! check rescans all events per event, so 100k-event runs check quickly.

mod availability;
mod commits;
mod index;
mod offsets;
mod replicas;
mod subscriptions;
#[cfg(test)]
mod testkit;

use crate::history::History;
use crate::report::Report;

/// Checks a history against every promise in `reliability.md`.
pub fn check(history: &History) -> Report {
    let index = index::Index::build(history);
    let mut found = Vec::new();
    offsets::check(&index, &mut found);
    replicas::check(&index, &mut found);
    subscriptions::check(&index, &mut found);
    commits::check(&index, &mut found);
    let faults = availability::fault_windows(&index);
    Report::new(index.totals, faults, found)
}

#[cfg(test)]
mod tests {
    use super::testkit::{assert_clean, Script};
    use super::*;
    use crate::anomaly::AnomalyKind;

    #[test]
    fn empty_history_is_valid() {
        let report = check(&History::default());
        assert_clean(&report);
        assert_eq!(report.anomalies.len(), AnomalyKind::ALL.len());
    }

    /// A whole run: three partitions, unknown outcomes, a consumer crash and
    /// resume, faults, three agreeing replicas per partition.
    #[test]
    fn a_full_healthy_run_is_clean() {
        let mut s = Script::new();
        for p in 0..3u32 {
            for o in 0..4u64 {
                s.by(u64::from(p)).publish_ok(&format!("m{p}-{o}"), p, o);
            }
        }
        s.fault("kill -9 n1")
            .publish_unknown("lost-in-flight")
            .publish_unknown("m0-4")
            .publish_ok("m0-4", 0, 4)
            .publish_fail("rejected")
            .healed();
        let log = |p: u32, n: u64| -> Vec<(u64, String)> { (0..n).map(|o| (o, format!("m{p}-{o}"))).collect() };
        for p in 0..3u32 {
            let n = if p == 0 { 5 } else { 4 };
            let entries = log(p, n);
            let list: Vec<(u64, &str)> = entries.iter().map(|(o, id)| (*o, id.as_str())).collect();
            s.by(9).read(p, 0, n, &list);
            s.subscribe(10 + u64::from(p), "g", p, 0, true);
            for (o, id) in &list[..2] {
                s.deliver(10 + u64::from(p), p, *o, id);
            }
            s.commit_ack("g", p, 2).commit_read("g", p, 2).subscribe(20 + u64::from(p), "g", p, 2, true);
            for (o, id) in &list[2..] {
                s.deliver(20 + u64::from(p), p, *o, id);
            }
            s.commit_ack("g", p, n).drained("g", p, n);
            for replica in ["n1", "n2", "n3"] {
                s.final_read(p, replica, &list);
            }
        }
        let report = check(&s.history());
        assert_clean(&report);
        let t = report.totals;
        assert_eq!((t.publishes.ok, t.publishes.fail, t.publishes.unknown), (13, 1, 2));
        assert_eq!(t.acknowledged_messages, 13);
        assert_eq!(t.final_reads, 9);
        assert_eq!(t.deliveries, 13);
        assert_eq!(report.faults.len(), 1);
    }

    /// The negative control in miniature: an acknowledged write wiped from
    /// every replica must be reported.
    #[test]
    fn wiping_acknowledged_data_is_reported() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0)
            .publish_ok("b", 0, 1)
            .fault("wipe leader data dir")
            .publish_ok("c", 0, 1)
            .final_read(0, "n1", &[(0, "a"), (1, "c")])
            .final_read(0, "n2", &[(0, "a"), (1, "c")]);
        let report = check(&s.history());
        assert!(report.count(AnomalyKind::LostWrite) >= 1, "{report}");
        assert!(report.count(AnomalyKind::InconsistentOffset) >= 1, "{report}");
        assert!(!report.is_valid());
    }

    #[test]
    fn a_saved_history_checks_the_same() {
        let mut s = Script::new();
        s.publish_ok("a", 0, 0).read(0, 0, 2, &[(1, "x")]);
        let history = s.history();
        let text = history.to_jsonl().expect("encode");
        let reloaded = History::from_jsonl(&text).expect("decode");
        assert_eq!(check(&reloaded), check(&history));
        assert!(!check(&reloaded).is_valid());
    }

    #[test]
    fn a_hundred_thousand_events_check_quickly() {
        let mut s = Script::new();
        let n = 25_000u64;
        s.subscribe(1, "g", 0, 0, true);
        for o in 0..n {
            let id = format!("m{o}");
            s.publish_ok(&id, 0, o).deliver(1, 0, o, &id);
            if o % 100 == 99 {
                s.commit_ack("g", 0, o + 1).read(0, o - 99, o + 1, &[]);
            }
        }
        s.drained("g", 0, n);
        let entries: Vec<(u64, String)> = (0..n).map(|o| (o, format!("m{o}"))).collect();
        let list: Vec<(u64, &str)> = entries.iter().map(|(o, id)| (*o, id.as_str())).collect();
        s.final_read(0, "n1", &list).final_read(0, "n2", &list);
        let started = std::time::Instant::now();
        let report = check(&s.history());
        // Every range read was empty: each covered acked offsets it lacked.
        assert_eq!(report.count(AnomalyKind::LostWrite), n);
        assert_eq!(report.total_anomalies(), n);
        assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
    }
}
