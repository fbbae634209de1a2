//! Applying committed commands: the partition state machine's logic.
//!
//! `Applier` turns each command into a list of [`Mutation`]s and a response,
//! reading current state through the [`Lookup`] trait. Lookups see the
//! mutations of earlier commands in the same batch (an id appended by entry 5
//! is a duplicate in entry 6 even before the batch is written). The storage
//! adapter writes all mutations of a batch, together with the new
//! [`PartitionMeta`], in one atomic RocksDB write.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::command::{AppendOutcome, Command, CommandResponse, CommitPosition, Rejection};
use super::consumer::ConsumerState;
use super::deliveries::MAX_MARK_WIDTH;
use super::record::{Record, RecordKind};

/// Counters of a partition, updated atomically with the data they describe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMeta {
    /// Lowest offset still stored (retention moves it up).
    pub first_offset: u64,
    /// Offset the next message gets.
    pub next_offset: u64,
    /// Stored bytes of the messages in [first_offset, next_offset).
    pub bytes: u64,
}

impl PartitionMeta {
    pub fn message_count(&self) -> u64 {
        self.next_offset - self.first_offset
    }
}

/// A change to the partition's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Records of one append at consecutive offsets from `first_offset`,
    /// stored together (see `record`'s module doc).
    PutRecords {
        first_offset: u64,
        records: Vec<Record>,
    },
    PutIndex {
        message_id: String,
        offset: u64,
    },
    DeleteIndex {
        message_id: String,
    },
    /// Delete records in `[from, to)`.
    DeleteRecords {
        from: u64,
        to: u64,
    },
    PutConsumer {
        consumer: String,
        state: ConsumerState,
    },
}

/// Read access to the stored state.
pub trait Lookup {
    type Error;
    fn offset_of(&self, message_id: &str) -> Result<Option<u64>, Self::Error>;
    /// [`Lookup::offset_of`] of many ids at once, in their order. Stores
    /// answer a batch faster than one lookup at a time (RocksDB's MultiGet).
    fn offsets_of(&self, message_ids: &[&str]) -> Result<Vec<Option<u64>>, Self::Error> {
        message_ids.iter().map(|id| self.offset_of(id)).collect()
    }
    fn consumer(&self, consumer: &str) -> Result<Option<ConsumerState>, Self::Error>;
    /// Message ids and stored sizes of the records in `[from, to)`.
    fn records_in(&self, from: u64, to: u64) -> Result<Vec<(String, u64)>, Self::Error>;
}

/// Applies commands of one batch, accumulating mutations.
pub struct Applier<'a, L: Lookup> {
    lookup: &'a L,
    meta: PartitionMeta,
    mutations: Vec<Mutation>,
    /// Index entries changed by this batch: `Some(offset)` added, `None` deleted.
    pending_ids: HashMap<String, Option<u64>>,
    pending_consumers: HashMap<String, ConsumerState>,
}

impl<'a, L: Lookup> Applier<'a, L> {
    pub fn new(lookup: &'a L, meta: PartitionMeta) -> Self {
        Self { lookup, meta, mutations: Vec::new(), pending_ids: HashMap::new(), pending_consumers: HashMap::new() }
    }

    pub fn meta(&self) -> PartitionMeta {
        self.meta
    }

    /// The accumulated mutations and the meta after them.
    pub fn finish(self) -> (Vec<Mutation>, PartitionMeta) {
        (self.mutations, self.meta)
    }

    /// Applies one command. Takes it by value: an append's payloads move
    /// into their records instead of being copied (a copy per message per
    /// replica was a measurable share of the apply path).
    pub fn apply(&mut self, command: Command) -> Result<CommandResponse, L::Error> {
        match command {
            Command::Append { messages, appended_at_ms } => {
                let mut outcomes = Vec::with_capacity(messages.len());
                let first_offset = self.meta.next_offset;
                let mut records = Vec::with_capacity(messages.len());
                let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
                let stored = self.lookup.offsets_of(&ids)?;
                drop(ids);
                // Alone with the entry (peers drop their copies once their
                // request is encoded), the payloads move into their records;
                // otherwise they are copied.
                let messages = Arc::try_unwrap(messages).unwrap_or_else(|shared| (*shared).clone());
                for (m, stored) in messages.into_iter().zip(stored) {
                    // An id added or deleted earlier in this batch counts as
                    // the batch left it; otherwise as stored.
                    let known = self.pending_ids.get(&m.message_id).copied().unwrap_or(stored);
                    if let Some(offset) = known {
                        outcomes.push(AppendOutcome { offset, duplicate: true });
                        continue;
                    }
                    let offset = self.meta.next_offset;
                    self.pending_ids.insert(m.message_id.clone(), Some(offset));
                    self.mutations.push(Mutation::PutIndex { message_id: m.message_id.clone(), offset });
                    let record = Record {
                        kind: RecordKind::Message,
                        message_id: m.message_id,
                        payload: m.payload,
                        key: m.key,
                        user: m.user,
                        device: m.device,
                        timestamp: m.timestamp,
                        appended_at_ms,
                        transaction_id: None,
                        hash: None,
                    };
                    self.meta.next_offset += 1;
                    self.meta.bytes += record.stored_size();
                    records.push(record);
                    outcomes.push(AppendOutcome { offset, duplicate: false });
                }
                if !records.is_empty() {
                    self.mutations.push(Mutation::PutRecords { first_offset, records });
                }
                Ok(CommandResponse::Appended(outcomes))
            }
            Command::CommitOffset { consumer, position } => {
                let offset = match position {
                    CommitPosition::UpTo(o) | CommitPosition::One(o) => o,
                };
                if offset >= self.meta.next_offset {
                    return Ok(CommandResponse::Rejected(Rejection::OffsetBeyondLog {
                        offset,
                        next_offset: self.meta.next_offset,
                    }));
                }
                let mut state = self.consumer(&consumer)?.unwrap_or_default();
                state.skip_to(self.meta.first_offset);
                match position {
                    CommitPosition::UpTo(o) => state.commit_up_to(o),
                    CommitPosition::One(o) => {
                        if !state.commit_one(o) {
                            return Ok(CommandResponse::Rejected(Rejection::TooManyPendingCommits));
                        }
                    }
                }
                let committed_offset = state.committed;
                self.pending_consumers.insert(consumer.clone(), state.clone());
                self.mutations.push(Mutation::PutConsumer { consumer, state });
                Ok(CommandResponse::Committed { committed_offset })
            }
            Command::MarkDelivered { consumer, from, end } => {
                if from >= end || end - from > MAX_MARK_WIDTH {
                    return Ok(CommandResponse::Rejected(Rejection::BadRange { from, end, max: MAX_MARK_WIDTH }));
                }
                if end > self.meta.next_offset {
                    return Ok(CommandResponse::Rejected(Rejection::OffsetBeyondLog {
                        offset: end - 1,
                        next_offset: self.meta.next_offset,
                    }));
                }
                let mut state = self.consumer(&consumer)?.unwrap_or_default();
                state.skip_to(self.meta.first_offset);
                let counts = state.mark_delivered(from, end);
                let committed_offset = state.committed;
                self.pending_consumers.insert(consumer.clone(), state.clone());
                self.mutations.push(Mutation::PutConsumer { consumer, state });
                Ok(CommandResponse::Delivered { counts, committed_offset })
            }
            Command::Trim { before_offset } => {
                let to = before_offset.min(self.meta.next_offset);
                if to > self.meta.first_offset {
                    let from = self.meta.first_offset;
                    // Stored records, then those appended earlier in this batch.
                    let mut trimmed = self.lookup.records_in(from, to)?;
                    for m in &self.mutations {
                        if let Mutation::PutRecords { first_offset, records } = m {
                            let stored = (*first_offset..).zip(records).filter(|(o, _)| (from..to).contains(o));
                            trimmed.extend(stored.map(|(_, r)| (r.message_id.clone(), r.stored_size())));
                        }
                    }
                    for (message_id, size) in trimmed {
                        self.meta.bytes = self.meta.bytes.saturating_sub(size);
                        self.pending_ids.insert(message_id.clone(), None);
                        self.mutations.push(Mutation::DeleteIndex { message_id });
                    }
                    self.mutations.push(Mutation::DeleteRecords { from, to });
                    self.meta.first_offset = to;
                }
                Ok(CommandResponse::Trimmed { first_offset: self.meta.first_offset })
            }
        }
    }

    fn consumer(&self, consumer: &str) -> Result<Option<ConsumerState>, L::Error> {
        match self.pending_consumers.get(consumer) {
            Some(state) => Ok(Some(state.clone())),
            None => self.lookup.consumer(consumer),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;

    use super::*;
    use crate::partition::NewMessage;

    /// An in-memory store that applies mutations, standing in for RocksDB.
    #[derive(Default)]
    struct Mem {
        records: BTreeMap<u64, Record>,
        index: HashMap<String, u64>,
        consumers: HashMap<String, ConsumerState>,
        meta: PartitionMeta,
    }

    impl Lookup for Mem {
        type Error = Infallible;
        fn offset_of(&self, id: &str) -> Result<Option<u64>, Infallible> {
            Ok(self.index.get(id).copied())
        }
        fn consumer(&self, c: &str) -> Result<Option<ConsumerState>, Infallible> {
            Ok(self.consumers.get(c).cloned())
        }
        fn records_in(&self, from: u64, to: u64) -> Result<Vec<(String, u64)>, Infallible> {
            Ok(self.records.range(from..to).map(|(_, r)| (r.message_id.clone(), r.stored_size())).collect())
        }
    }

    impl Mem {
        fn run(&mut self, commands: &[Command]) -> Vec<CommandResponse> {
            let mut applier = Applier::new(&*self, self.meta);
            let responses = commands.iter().map(|c| applier.apply(c.clone()).expect("infallible")).collect();
            let (mutations, meta) = applier.finish();
            for m in mutations {
                match m {
                    Mutation::PutRecords { first_offset, records } => {
                        self.records.extend((first_offset..).zip(records));
                    }
                    Mutation::PutIndex { message_id, offset } => {
                        self.index.insert(message_id, offset);
                    }
                    Mutation::DeleteIndex { message_id } => {
                        self.index.remove(&message_id);
                    }
                    Mutation::DeleteRecords { from, to } => self.records.retain(|o, _| *o < from || *o >= to),
                    Mutation::PutConsumer { consumer, state } => {
                        self.consumers.insert(consumer, state);
                    }
                }
            }
            self.meta = meta;
            responses
        }
    }

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            message_id: id.into(),
            payload: id.as_bytes().to_vec(),
            key: None,
            user: "u".into(),
            device: "d".into(),
            timestamp: String::new(),
        }
    }

    fn append(ids: &[&str]) -> Command {
        Command::Append { messages: Arc::new(ids.iter().map(|i| msg(i)).collect()), appended_at_ms: 1 }
    }

    fn outcomes(r: &CommandResponse) -> Vec<(u64, bool)> {
        match r {
            CommandResponse::Appended(o) => o.iter().map(|o| (o.offset, o.duplicate)).collect(),
            other => panic!("not an append response: {other:?}"),
        }
    }

    #[test]
    fn appends_at_consecutive_offsets_and_dedupes() {
        let mut m = Mem::default();
        let r = m.run(&[append(&["a", "b"]), append(&["c", "a"]), append(&["b", "b"])]);
        assert_eq!(outcomes(&r[0]), vec![(0, false), (1, false)]);
        assert_eq!(outcomes(&r[1]), vec![(2, false), (0, true)], "dedupe within one batch");
        assert_eq!(outcomes(&r[2]), vec![(1, true), (1, true)]);
        let r = m.run(&[append(&["a", "d"])]);
        assert_eq!(outcomes(&r[0]), vec![(0, true), (3, false)], "dedupe across batches");
        assert_eq!(m.meta.next_offset, 4);
        assert_eq!(m.records.len(), 4);
    }

    #[test]
    fn commits_are_bounded_by_the_log() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b", "c"])]);
        let r = m.run(&[
            Command::CommitOffset { consumer: "g".into(), position: CommitPosition::One(1) },
            Command::CommitOffset { consumer: "g".into(), position: CommitPosition::UpTo(0) },
            Command::CommitOffset { consumer: "g".into(), position: CommitPosition::UpTo(3) },
        ]);
        assert_eq!(r[0], CommandResponse::Committed { committed_offset: 0 });
        assert_eq!(r[1], CommandResponse::Committed { committed_offset: 2 });
        assert!(matches!(r[2], CommandResponse::Rejected(Rejection::OffsetBeyondLog { offset: 3, next_offset: 3 })));
        assert_eq!(m.consumers["g"].committed, 2);
    }

    #[test]
    fn trim_deletes_records_and_index_and_keeps_offsets() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b", "c"])]);
        let bytes_before = m.meta.bytes;
        let r = m.run(&[Command::Trim { before_offset: 2 }, append(&["d"])]);
        assert_eq!(r[0], CommandResponse::Trimmed { first_offset: 2 });
        assert_eq!(outcomes(&r[1]), vec![(3, false)]);
        assert_eq!(m.records.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        assert!(m.meta.bytes < bytes_before + 100);
        assert_eq!(m.meta.message_count(), 2);
        assert!(!m.index.contains_key("a"));
        // A trim past the end stops at the end; a repeated trim is a no-op.
        let r = m.run(&[Command::Trim { before_offset: 99 }, Command::Trim { before_offset: 1 }]);
        assert_eq!(r[1], CommandResponse::Trimmed { first_offset: 4 });
        assert_eq!(m.meta.bytes, 0);
    }

    fn mark(consumer: &str, from: u64, end: u64) -> Command {
        Command::MarkDelivered { consumer: consumer.into(), from, end }
    }

    fn delivered(r: &CommandResponse) -> (Vec<(u64, u64, u32)>, u64) {
        match r {
            CommandResponse::Delivered { counts, committed_offset } => {
                (counts.iter().map(|c| (c.start, c.end, c.count)).collect(), *committed_offset)
            }
            other => panic!("not a delivery response: {other:?}"),
        }
    }

    #[test]
    fn trim_in_the_batch_that_appended_frees_the_ids() {
        let mut m = Mem::default();
        let r = m.run(&[append(&["a", "b", "c"]), Command::Trim { before_offset: 2 }, append(&["a", "c"])]);
        assert_eq!(outcomes(&r[2]), vec![(3, false), (2, true)], "a was trimmed, c was not");
        assert_eq!(m.meta.bytes, m.records.range(2..).map(|(_, r)| r.stored_size()).sum::<u64>());
    }

    #[test]
    fn marks_count_per_consumer_within_a_batch_and_across() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b", "c", "d"])]);
        let r = m.run(&[mark("g", 0, 3), mark("g", 1, 4), mark("h", 0, 1)]);
        assert_eq!(delivered(&r[0]), (vec![(0, 3, 1)], 0));
        assert_eq!(delivered(&r[1]), (vec![(1, 3, 2), (3, 4, 1)], 0), "sees the earlier mark of the batch");
        assert_eq!(delivered(&r[2]), (vec![(0, 1, 1)], 0), "consumers count apart");
        let r = m.run(&[
            Command::CommitOffset { consumer: "g".into(), position: CommitPosition::UpTo(1) },
            Command::CommitOffset { consumer: "g".into(), position: CommitPosition::One(3) },
            mark("g", 0, 4),
        ]);
        assert_eq!(delivered(&r[2]), (vec![(2, 3, 3)], 2), "committed offsets neither counted nor answered");
        assert_eq!(m.consumers["g"].deliveries.ranges().first().map(|d| d.start), Some(2), "dropped below 2");
    }

    #[test]
    fn marks_are_bounded_by_the_log_and_width() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b"])]);
        let r = m.run(&[mark("g", 0, 3), mark("g", 2, 2), mark("g", 0, MAX_MARK_WIDTH + 1), mark("g", 0, 2)]);
        assert_eq!(r[0], CommandResponse::Rejected(Rejection::OffsetBeyondLog { offset: 2, next_offset: 2 }));
        assert!(matches!(r[1], CommandResponse::Rejected(Rejection::BadRange { .. })));
        assert!(matches!(r[2], CommandResponse::Rejected(Rejection::BadRange { .. })));
        assert_eq!(delivered(&r[3]), (vec![(0, 2, 1)], 0), "rejections changed nothing");
    }

    #[test]
    fn marks_below_retention_count_only_retained_offsets() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b", "c", "d"]), Command::Trim { before_offset: 2 }]);
        let r = m.run(&[mark("g", 0, 4)]);
        assert_eq!(delivered(&r[0]), (vec![(2, 4, 1)], 2));
    }

    #[test]
    fn commit_below_retention_moves_to_first_offset() {
        let mut m = Mem::default();
        m.run(&[append(&["a", "b", "c", "d"]), Command::Trim { before_offset: 2 }]);
        let r = m.run(&[Command::CommitOffset { consumer: "g".into(), position: CommitPosition::One(2) }]);
        assert_eq!(r[0], CommandResponse::Committed { committed_offset: 3 });
    }
}
