//! Reading and trimming a partition's records, stored as chunks.
//!
//! Each append entry's records are one value under the key of its first
//! offset (`partition::record`'s chunk format), so an offset is found in the
//! chunk with the greatest start at or below it. Retention deletes whole
//! chunks only: a chunk that straddles the cut stays, and readers skip its
//! offsets below the partition's first offset. Chunk bounds are the same on
//! every replica because they follow the Raft entries.

use std::ops::ControlFlow;

use rocksdb::{ReadOptions, WriteBatch};

use super::keys::{self, CF_RECORDS};
use super::{Store, StoreError};
use crate::partition::record::{chunk_len, decode_chunk_ref, encode_chunk, RecordDecodeError, RecordRef};
use crate::partition::Record;

fn corrupt(offset: u64) -> impl Fn(RecordDecodeError) -> StoreError {
    move |e| StoreError::Corrupt { what: "record chunk", reason: format!("at offset {offset}: {e}") }
}

/// Records of `group` in `[from, end)`, at most `max`.
pub fn read(store: &Store, group: u64, from: u64, end: u64, max: usize) -> Result<Vec<(u64, Record)>, StoreError> {
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    scan(store, group, from, end, |offset, record| {
        out.push((offset, record.to_record()));
        if out.len() >= max {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

/// Calls `visit` with each record of `group` in `[from, end)`, in offset
/// order, borrowed from the store, until it breaks.
pub fn scan(
    store: &Store,
    group: u64,
    from: u64,
    end: u64,
    mut visit: impl FnMut(u64, RecordRef<'_>) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    if from >= end {
        return Ok(());
    }
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(keys::record_key(group, 0).to_vec());
    opts.set_iterate_upper_bound(keys::record_key(group, end).to_vec());
    let mut it = store.db.raw_iterator_cf_opt(store.cf(CF_RECORDS), opts);
    let start = keys::record_key(group, from);
    it.seek_for_prev(start);
    if !it.valid() {
        it.seek(start);
    }
    while let (Some(key), Some(value)) = (it.key(), it.value()) {
        let Some(first) = keys::parse_record_key(group, key) else { break };
        let records = decode_chunk_ref(value).map_err(corrupt(first))?;
        for (offset, record) in (first..).zip(records) {
            if offset < from {
                continue;
            }
            if offset >= end || visit(offset, record).is_break() {
                return Ok(());
            }
        }
        it.next();
    }
    it.status().map_err(StoreError::rocks("read records"))
}

/// Start of the stored chunk holding `offset`, if one does.
fn chunk_holding(store: &Store, group: u64, offset: u64) -> Result<Option<u64>, StoreError> {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(keys::record_key(group, 0).to_vec());
    let mut it = store.db.raw_iterator_cf_opt(store.cf(CF_RECORDS), opts);
    it.seek_for_prev(keys::record_key(group, offset));
    if let (Some(key), Some(value)) = (it.key(), it.value()) {
        if let Some(first) = keys::parse_record_key(group, key) {
            let len = chunk_len(value).map_err(corrupt(first))?;
            return Ok((offset < first + len).then_some(first));
        }
    }
    it.status().map_err(StoreError::rocks("find record chunk"))?;
    Ok(None)
}

/// Chunks written earlier in the batch being built, by start and length:
/// the database does not see them yet.
#[derive(Default)]
pub struct PendingChunks(Vec<(u64, u64)>);

impl PendingChunks {
    pub fn put(&mut self, batch: &mut WriteBatch, store: &Store, group: u64, first: u64, records: &[Record]) {
        batch.put_cf(store.cf(CF_RECORDS), keys::record_key(group, first), encode_chunk(records));
        self.0.push((first, records.len() as u64));
    }

    /// Deletes every chunk wholly below `to`; a chunk holding `to` stays.
    pub fn delete_below(&self, batch: &mut WriteBatch, store: &Store, group: u64, to: u64) -> Result<(), StoreError> {
        let pending = self.0.iter().find(|(first, len)| *first <= to && to < first + len).map(|(first, _)| *first);
        let cut = match pending {
            Some(first) => first,
            None => chunk_holding(store, group, to)?.unwrap_or(to),
        };
        batch.delete_range_cf(store.cf(CF_RECORDS), keys::record_key(group, 0), keys::record_key(group, cut));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use crate::raft::Entry;

    use crate::partition::{Command, CommandResponse, NewMessage};
    use crate::storage::{StateMachineStore, Store, NODE_COLUMN_FAMILIES};

    fn append(index: u64, ids: std::ops::Range<u32>) -> Entry {
        let messages = ids
            .map(|i| NewMessage {
                message_id: format!("m{i}"),
                payload: vec![b'p'; 10],
                key: None,
                user: "u".into(),
                device: "d".into(),
                timestamp: String::new(),
            })
            .collect();
        command(index, Command::Append { messages: std::sync::Arc::new(messages), appended_at_ms: 1 })
    }

    fn command(index: u64, command: Command) -> Entry {
        Entry { log_id: openraft::LogId::new_term_index(1, index), payload: EntryPayload::Normal(command) }
    }

    fn offsets(reader: &crate::storage::PartitionReader, from: u64, max: usize) -> Vec<u64> {
        reader.records(from, u64::MAX, max).expect("read").into_iter().map(|(o, _)| o).collect()
    }

    /// Appends of 4, 3 and 5 messages are chunks starting at 0, 4 and 7.
    /// Reads start inside chunks and stop at `max`; a trim cutting a chunk
    /// (also one written in the same batch) hides the offsets below the cut
    /// and deletes only whole chunks below it; ids trimmed away may be
    /// published again.
    #[tokio::test]
    async fn chunks_read_from_any_offset_and_trim_whole_chunks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &NODE_COLUMN_FAMILIES).expect("open store");
        let (mut sm, reader) = StateMachineStore::open(store.clone(), 3).expect("open group 3");
        sm.apply_batch(vec![append(1, 0..4), append(2, 4..7)]).expect("apply");
        assert_eq!(offsets(&reader, 0, 100), (0..7).collect::<Vec<_>>());
        assert_eq!(offsets(&reader, 5, 100), vec![5, 6]);
        assert_eq!(offsets(&reader, 2, 3), vec![2, 3, 4]);
        let ids: Vec<String> = reader.records(3, 5, 10).expect("read").into_iter().map(|(_, r)| r.message_id).collect();
        assert_eq!(ids, vec!["m3", "m4"]);

        // Trim to 9, inside the chunk [7, 12) written by the same batch.
        sm.apply_batch(vec![append(3, 7..12), command(4, Command::Trim { before_offset: 9 })]).expect("apply");
        assert_eq!(reader.meta().first_offset, 9);
        assert_eq!(offsets(&reader, 0, 100), vec![9, 10, 11]);
        let cf = store.cf(super::CF_RECORDS);
        let chunk_starts: Vec<u64> = store
            .db
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .filter_map(|kv| super::keys::parse_record_key(3, &kv.expect("iterate").0))
            .collect();
        assert_eq!(chunk_starts, vec![7], "whole chunks below the cut are gone, the cut one stays");

        // Trim to 10, inside the stored chunk; then an id trimmed away is new again.
        let r = sm
            .apply_batch(vec![command(5, Command::Trim { before_offset: 10 }), append(6, 8..9), append(7, 11..12)])
            .expect("apply");
        assert_eq!(r[0], CommandResponse::Trimmed { first_offset: 10 });
        match (&r[1], &r[2]) {
            (CommandResponse::Appended(fresh), CommandResponse::Appended(dup)) => {
                assert_eq!((fresh[0].offset, fresh[0].duplicate), (12, false));
                assert_eq!((dup[0].offset, dup[0].duplicate), (11, true));
            }
            other => panic!("unexpected responses {other:?}"),
        }
        assert_eq!(offsets(&reader, 0, 100), vec![10, 11, 12]);
    }
}
