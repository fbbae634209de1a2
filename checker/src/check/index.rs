//! One pass over the history that files every observation where the checks
//! look it up: by topic partition, by offset, by message.
//!
//! ```text
//! events ──sort by (at_ms, position)──▶ timeline
//!    │
//!    ├─▶ partitions[(topic, partition)]: acks, reads, final reads,
//!    │                                   cells[offset] = distinct message ids
//!    └─▶ messages[(topic, message_id)]: positions seen, publish outcomes
//! ```
//!
//! Everything borrows from the history, so indexing 100k events copies no
//! strings. The checks then work per partition or per message, never by
//! rescanning all events for each event.

use std::collections::{BTreeMap, HashMap};

use crate::evidence::Source;
use crate::history::{Event, History};
use crate::op::{Op, PublishOutcome};
use crate::report::Totals;

/// `(topic, partition)`.
pub(crate) type Tp<'h> = (&'h str, u32);

/// The event behind an observation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seen<'h> {
    Publish(&'h Event),
    Read(&'h Event),
    Deliver(&'h Event, u64),
    FinalRead(&'h str),
}

impl Seen<'_> {
    pub(crate) fn source(self) -> Source {
        match self {
            Seen::Publish(e) => Source::Publish { at_ms: e.at_ms, process: e.process },
            Seen::Read(e) => Source::Read { at_ms: e.at_ms, process: e.process },
            Seen::Deliver(e, subscription) => Source::Deliver { at_ms: e.at_ms, subscription },
            Seen::FinalRead(replica) => Source::FinalRead { replica: replica.to_owned() },
        }
    }
}

/// An acknowledged publish.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ack<'h> {
    pub event: &'h Event,
    pub message_id: &'h str,
    pub offset: u64,
}

/// A range read or a final read, borrowed out of its event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadView<'h> {
    pub event: &'h Event,
    pub entries: &'h [(u64, String)],
}

/// Everything observed about one topic partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionView<'h> {
    /// Acknowledged publishes, in time order.
    pub acks: Vec<Ack<'h>>,
    /// Range reads, in time order.
    pub reads: Vec<ReadView<'h>>,
    /// Final reads with their replica, in time order.
    pub final_reads: Vec<(&'h str, ReadView<'h>)>,
    /// Per offset, each distinct message id seen there with its first sighting.
    pub cells: BTreeMap<u64, Vec<(&'h str, Seen<'h>)>>,
}

impl PartitionView<'_> {
    /// One past the last offset: from the final reads if there are any,
    /// otherwise from every observation.
    pub(crate) fn log_end(&self) -> u64 {
        if self.final_reads.is_empty() {
            return self.cells.keys().next_back().map_or(0, |o| o.saturating_add(1));
        }
        self.final_reads
            .iter()
            .flat_map(|(_, read)| read.entries.iter().map(|(o, _)| o.saturating_add(1)))
            .max()
            .unwrap_or(0)
    }
}

/// Everything observed about one message of a topic.
#[derive(Debug, Default)]
pub(crate) struct MessageView<'h> {
    /// Each distinct `(partition, offset)` with its first sighting.
    pub positions: Vec<(u32, u64, Seen<'h>)>,
    pub acked: bool,
    /// Some attempt ended `Unknown`.
    pub maybe_written: bool,
    /// The first attempt that ended `Fail`, with its reason.
    pub first_fail: Option<(&'h Event, &'h str)>,
}

#[derive(Debug, Default)]
pub(crate) struct Index<'h> {
    /// All events ordered by `(at_ms, position in the history)`.
    pub timeline: Vec<&'h Event>,
    pub partitions: BTreeMap<Tp<'h>, PartitionView<'h>>,
    /// Keyed by `(topic, message_id)`.
    pub messages: HashMap<(&'h str, &'h str), MessageView<'h>>,
    pub totals: Totals,
}

impl<'h> Index<'h> {
    pub(crate) fn build(history: &'h History) -> Self {
        let mut timeline: Vec<&Event> = history.events.iter().collect();
        // Stable: events with one timestamp keep their recorded order.
        timeline.sort_by_key(|e| e.at_ms);
        let mut index = Index::default();
        for event in &timeline {
            index.add(event);
        }
        index.timeline = timeline;
        index.totals.acknowledged_messages = index.messages.values().filter(|m| m.acked).count() as u64;
        index
    }

    fn add(&mut self, event: &'h Event) {
        match &event.op {
            Op::Publish { topic, message_id, outcome } => self.add_publish(event, topic, message_id, outcome),
            Op::Read { topic, partition, entries, .. } => {
                self.totals.reads += 1;
                let view = ReadView { event, entries };
                self.partition(topic, *partition).reads.push(view);
                for (offset, id) in entries {
                    self.observe(topic, *partition, *offset, id, Seen::Read(event));
                }
            }
            Op::Deliver { subscription, topic, partition, offset, message_id, redelivered } => {
                self.totals.deliveries += 1;
                self.totals.redeliveries += u64::from(*redelivered);
                let seen = Seen::Deliver(event, *subscription);
                self.observe(topic, *partition, *offset, message_id, seen);
            }
            Op::FinalRead { topic, partition, replica, entries } => {
                self.totals.final_reads += 1;
                let view = ReadView { event, entries };
                let part = self.partition(topic, *partition);
                part.final_reads.push((replica.as_str(), view));
                for (offset, id) in entries {
                    self.observe(topic, *partition, *offset, id, Seen::FinalRead(replica));
                }
            }
            Op::Subscribe { .. } => self.totals.subscriptions += 1,
            Op::CommitAck { .. } => self.totals.commit_acks += 1,
            Op::CommitRead { .. } => self.totals.commit_reads += 1,
            Op::Drained { .. } | Op::Fault { .. } | Op::Healed => {}
        }
    }

    fn add_publish(&mut self, event: &'h Event, topic: &'h str, message_id: &'h str, outcome: &'h PublishOutcome) {
        match outcome {
            PublishOutcome::Ok { partition, offset } => {
                self.totals.publishes.ok += 1;
                self.partition(topic, *partition).acks.push(Ack { event, message_id, offset: *offset });
                self.message(topic, message_id).acked = true;
                self.observe(topic, *partition, *offset, message_id, Seen::Publish(event));
            }
            PublishOutcome::Fail { reason } => {
                self.totals.publishes.fail += 1;
                let message = self.message(topic, message_id);
                message.first_fail.get_or_insert((event, reason.as_str()));
            }
            PublishOutcome::Unknown => {
                self.totals.publishes.unknown += 1;
                self.message(topic, message_id).maybe_written = true;
            }
        }
    }

    /// Files one sighting of `message_id` at `topic/partition@offset`.
    fn observe(&mut self, topic: &'h str, partition: u32, offset: u64, message_id: &'h str, seen: Seen<'h>) {
        let cell = self.partition(topic, partition).cells.entry(offset).or_default();
        if !cell.iter().any(|(id, _)| *id == message_id) {
            cell.push((message_id, seen));
        }
        let positions = &mut self.message(topic, message_id).positions;
        if !positions.iter().any(|(p, o, _)| *p == partition && *o == offset) {
            positions.push((partition, offset, seen));
        }
    }

    fn partition(&mut self, topic: &'h str, partition: u32) -> &mut PartitionView<'h> {
        self.partitions.entry((topic, partition)).or_default()
    }

    fn message(&mut self, topic: &'h str, message_id: &'h str) -> &mut MessageView<'h> {
        self.messages.entry((topic, message_id)).or_default()
    }

    /// Whether any attempt to publish this message was acknowledged.
    pub(crate) fn is_acked(&self, topic: &str, message_id: &str) -> bool {
        self.messages.get(&(topic, message_id)).is_some_and(|m| m.acked)
    }
}
