//! The verdict on one history: what happened, and what went wrong.
//!
//! A report always lists every anomaly kind, with a count of zero where none
//! was found, so a reader sees that each was checked. It keeps a few examples
//! per kind rather than all of them: a badly broken run can have thousands.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anomaly::{Anomaly, AnomalyKind};

/// How many anomalies of each kind a report keeps.
pub const MAX_EXAMPLES: usize = 10;

/// Publish attempts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub fail: u64,
    pub unknown: u64,
}

/// What the history contains, independent of any anomaly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub publishes: OutcomeCounts,
    /// Distinct messages with at least one acknowledged publish.
    pub acknowledged_messages: u64,
    pub reads: u64,
    pub final_reads: u64,
    pub subscriptions: u64,
    pub deliveries: u64,
    /// Deliveries the server flagged as redelivered.
    pub redeliveries: u64,
    pub commit_acks: u64,
    pub commit_reads: u64,
}

/// Write availability around one injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub description: String,
    pub at_ms: u64,
    /// The first `Healed` marker after the fault and before the next fault.
    pub healed_at_ms: Option<u64>,
    /// Over the partitions that acknowledged writes before the fault, the
    /// longest wait from the fault to their next acknowledged publish (up to
    /// the next fault or the end of the run). `None` if no partition was
    /// taking writes before the fault.
    pub write_unavailable_ms: Option<u64>,
    /// Of those partitions, how many had no acknowledged publish before the
    /// next fault or the end of the run.
    pub partitions_not_resumed: u64,
}

/// The anomalies of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalySummary {
    pub count: u64,
    /// The first [`MAX_EXAMPLES`] in a stable order.
    pub examples: Vec<Anomaly>,
}

/// The result of [`crate::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub totals: Totals,
    pub faults: Vec<FaultWindow>,
    /// Every kind is present, in report order.
    pub anomalies: BTreeMap<AnomalyKind, AnomalySummary>,
}

impl Report {
    /// Builds a report, keeping a stable sample of each kind's anomalies.
    pub fn new(totals: Totals, faults: Vec<FaultWindow>, mut found: Vec<Anomaly>) -> Self {
        found.sort();
        let mut anomalies: BTreeMap<AnomalyKind, AnomalySummary> =
            AnomalyKind::ALL.iter().map(|kind| (*kind, AnomalySummary::default())).collect();
        for anomaly in found {
            let summary = anomalies.entry(anomaly.kind()).or_default();
            summary.count += 1;
            if summary.examples.len() < MAX_EXAMPLES {
                summary.examples.push(anomaly);
            }
        }
        Self { totals, faults, anomalies }
    }

    /// True when no anomaly of any kind was found.
    pub fn is_valid(&self) -> bool {
        self.total_anomalies() == 0
    }

    pub fn count(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(&kind).map_or(0, |s| s.count)
    }

    pub fn total_anomalies(&self) -> u64 {
        self.anomalies.values().map(|s| s.count).sum()
    }

    /// The kept examples of one kind.
    pub fn examples(&self, kind: AnomalyKind) -> &[Anomaly] {
        self.anomalies.get(&kind).map_or(&[], |s| s.examples.as_slice())
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        let p = &t.publishes;
        writeln!(f, "publishes: {} (ok {}, fail {}, unknown {})", p.ok + p.fail + p.unknown, p.ok, p.fail, p.unknown)?;
        writeln!(f, "acknowledged messages: {}", t.acknowledged_messages)?;
        writeln!(f, "reads: {} (final reads {})", t.reads, t.final_reads)?;
        writeln!(f, "subscriptions: {}", t.subscriptions)?;
        writeln!(f, "deliveries: {} (redeliveries {})", t.deliveries, t.redeliveries)?;
        writeln!(f, "commits: {} acknowledged, {} read back", t.commit_acks, t.commit_reads)?;
        for fault in &self.faults {
            write!(f, "fault at {} ({})", seconds(fault.at_ms), fault.description)?;
            if let Some(healed) = fault.healed_at_ms {
                write!(f, ", healed at {}", seconds(healed))?;
            }
            match fault.write_unavailable_ms {
                Some(ms) => write!(f, ", writes unavailable for {}", seconds(ms))?,
                None => write!(f, ", no writes before it")?,
            }
            if fault.partitions_not_resumed > 0 {
                write!(f, " ({} partition(s) never resumed)", fault.partitions_not_resumed)?;
            }
            writeln!(f)?;
        }
        let verdict = if self.is_valid() { "valid" } else { "INVALID" };
        writeln!(f, "anomalies: {} ({verdict})", self.total_anomalies())?;
        for (kind, summary) in &self.anomalies {
            writeln!(f, "  {kind}: {}", summary.count)?;
            for example in &summary.examples {
                writeln!(f, "    - {example}")?;
            }
            let hidden = summary.count.saturating_sub(summary.examples.len() as u64);
            if hidden > 0 {
                writeln!(f, "    ... and {hidden} more")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(offset: u64) -> Anomaly {
        Anomaly::LostWrite {
            topic: "t".into(),
            partition: 0,
            offset,
            message_id: format!("m{offset}"),
            acked_at_ms: 1,
            unseen: true,
            missing_from: None,
        }
    }

    #[test]
    fn empty_report_lists_every_kind_with_zero() {
        let report = Report::new(Totals::default(), Vec::new(), Vec::new());
        assert!(report.is_valid());
        let text = report.to_string();
        for kind in AnomalyKind::ALL {
            assert!(text.contains(&format!("  {kind}: 0\n")), "{kind} missing in\n{text}");
        }
        assert!(text.contains("anomalies: 0 (valid)"));
    }

    #[test]
    fn examples_are_capped_and_sorted() {
        let found: Vec<_> = (0..25).rev().map(lost).collect();
        let report = Report::new(Totals::default(), Vec::new(), found);
        assert!(!report.is_valid());
        assert_eq!(report.count(AnomalyKind::LostWrite), 25);
        assert_eq!(report.total_anomalies(), 25);
        let examples = report.examples(AnomalyKind::LostWrite);
        assert_eq!(examples.len(), MAX_EXAMPLES);
        assert_eq!(examples[0], lost(0));
        let text = report.to_string();
        assert!(text.contains("  lost-write: 25\n"));
        assert!(text.contains("... and 15 more"));
        assert!(text.contains("anomalies: 25 (INVALID)"));
    }

    #[test]
    fn report_serialises_kinds_as_names() {
        let report = Report::new(Totals::default(), Vec::new(), vec![lost(3)]);
        let json = serde_json::to_string(&report).expect("encode report");
        assert!(json.contains(r#""lost-write":{"count":1"#), "{json}");
        let back: Report = serde_json::from_str(&json).expect("decode report");
        assert_eq!(back, report);
    }

    #[test]
    fn faults_are_printed_in_seconds() {
        let fault = FaultWindow {
            description: "kill -9 n2".into(),
            at_ms: 12_345,
            healed_at_ms: Some(20_000),
            write_unavailable_ms: Some(2_300),
            partitions_not_resumed: 1,
        };
        let report = Report::new(Totals::default(), vec![fault], Vec::new());
        let text = report.to_string();
        assert!(text.contains(
            "fault at 12.345s (kill -9 n2), healed at 20.000s, writes unavailable for 2.300s (1 partition(s) never resumed)"
        ), "{text}");
    }
}
