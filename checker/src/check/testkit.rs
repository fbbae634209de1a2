//! Terse hand-written histories for the checks' unit tests.
//!
//! Every step advances the clock by 10 ms, so "earlier in the script" is
//! "earlier in time" unless a test sets the clock itself. All steps use the
//! topic [`T`].

use crate::anomaly::AnomalyKind;
use crate::history::{Event, History};
use crate::op::{Op, PublishOutcome};
use crate::report::Report;

pub(crate) const T: &str = "t";

pub(crate) struct Script {
    events: Vec<Event>,
    now: u64,
    process: u64,
}

fn entries(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(o, id)| (*o, (*id).to_owned())).collect()
}

impl Script {
    pub(crate) fn new() -> Self {
        Self { events: Vec::new(), now: 0, process: 1 }
    }

    /// Later steps are performed by `process`.
    pub(crate) fn by(&mut self, process: u64) -> &mut Self {
        self.process = process;
        self
    }

    /// The next step happens at `at_ms` (steps after it keep advancing).
    pub(crate) fn at(&mut self, at_ms: u64) -> &mut Self {
        self.now = at_ms.saturating_sub(10);
        self
    }

    pub(crate) fn op(&mut self, op: Op) -> &mut Self {
        self.now += 10;
        self.events.push(Event { at_ms: self.now, process: self.process, op });
        self
    }

    fn publish(&mut self, id: &str, outcome: PublishOutcome) -> &mut Self {
        self.op(Op::Publish { topic: T.into(), message_id: id.into(), outcome })
    }

    pub(crate) fn publish_ok(&mut self, id: &str, partition: u32, offset: u64) -> &mut Self {
        self.publish(id, PublishOutcome::Ok { partition, offset })
    }

    pub(crate) fn publish_fail(&mut self, id: &str) -> &mut Self {
        let reason = "not leader".into();
        self.publish(id, PublishOutcome::Fail { reason })
    }

    pub(crate) fn publish_unknown(&mut self, id: &str) -> &mut Self {
        self.publish(id, PublishOutcome::Unknown)
    }

    pub(crate) fn read(&mut self, partition: u32, from: u64, to: u64, list: &[(u64, &str)]) -> &mut Self {
        self.op(Op::Read { topic: T.into(), partition, from, to, entries: entries(list) })
    }

    pub(crate) fn subscribe(
        &mut self,
        subscription: u64,
        group: &str,
        partition: u32,
        start_offset: u64,
        from_committed: bool,
    ) -> &mut Self {
        self.op(Op::Subscribe {
            subscription,
            group: group.into(),
            topic: T.into(),
            partition,
            start_offset,
            from_committed,
        })
    }

    fn delivery(&mut self, sub: u64, partition: u32, offset: u64, id: &str, re: bool) -> &mut Self {
        self.op(Op::Deliver {
            subscription: sub,
            topic: T.into(),
            partition,
            offset,
            message_id: id.into(),
            redelivered: re,
        })
    }

    pub(crate) fn deliver(&mut self, sub: u64, partition: u32, offset: u64, id: &str) -> &mut Self {
        self.delivery(sub, partition, offset, id, false)
    }

    pub(crate) fn redeliver(&mut self, sub: u64, partition: u32, offset: u64, id: &str) -> &mut Self {
        self.delivery(sub, partition, offset, id, true)
    }

    pub(crate) fn commit_ack(&mut self, group: &str, partition: u32, offset: u64) -> &mut Self {
        self.op(Op::CommitAck { group: group.into(), topic: T.into(), partition, committed_offset: offset })
    }

    pub(crate) fn commit_read(&mut self, group: &str, partition: u32, offset: u64) -> &mut Self {
        self.op(Op::CommitRead { group: group.into(), topic: T.into(), partition, committed_offset: offset })
    }

    pub(crate) fn drained(&mut self, group: &str, partition: u32, end_offset: u64) -> &mut Self {
        self.op(Op::Drained { group: group.into(), topic: T.into(), partition, end_offset })
    }

    pub(crate) fn final_read(&mut self, partition: u32, replica: &str, list: &[(u64, &str)]) -> &mut Self {
        self.op(Op::FinalRead { topic: T.into(), partition, replica: replica.into(), entries: entries(list) })
    }

    pub(crate) fn fault(&mut self, description: &str) -> &mut Self {
        self.op(Op::Fault { description: description.into() })
    }

    pub(crate) fn healed(&mut self) -> &mut Self {
        self.op(Op::Healed)
    }

    pub(crate) fn history(&self) -> History {
        History::new(self.events.clone())
    }

    pub(crate) fn check(&self) -> Report {
        crate::check(&self.history())
    }
}

/// The report found `kind` and nothing else.
#[track_caller]
pub(crate) fn assert_only(report: &Report, kind: AnomalyKind) {
    assert!(report.count(kind) >= 1, "expected {kind}, got:\n{report}");
    assert_eq!(report.total_anomalies(), report.count(kind), "expected only {kind}, got:\n{report}");
}

#[track_caller]
pub(crate) fn assert_clean(report: &Report) {
    assert!(report.is_valid(), "expected no anomaly, got:\n{report}");
}
