//! openraft's log storage for one group, on a shared RocksDB.
//!
//! Entries are stored as `[format version][bincode(Entry)]` under
//! `group ‖ index`. `append` does not fsync itself: it queues openraft's
//! callback on the node's [`Syncer`](super::sync::Syncer), which completes it
//! after the next WAL fsync. Votes are written synced. Each group's log is
//! written by its own Raft core only, one call at a time, so no locking is
//! needed between appends, truncations and purges of one group.
//!
//! openraft applies committed entries by reading them back from the log
//! store, and a leader replicates by reading them back too, once per
//! follower: every message of every entry decoded again, up to three times
//! on a leader (a profile of pipelined publishing showed the decode and its
//! allocations among the largest costs left). So the store keeps the entries
//! it appended, up to [`MAX_UNAPPLIED_BYTES`], shared with its readers: a
//! replication read of a range held gets clones (cheap where the payload is
//! shared, as the node's appends are), and the apply stream
//! (`entries_stream`, which openraft uses for applying only) moves them out.
//! Appends overwrite, truncations and purges drop what they remove from
//! storage, so the held entries are always the stored ones; any other read
//! goes to RocksDB.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::Stream;
use openraft::alias::{LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::keys::{self, CF_LOG, CF_META, META_COMMITTED, META_PURGED, META_VOTE};
use crate::Store;

/// Format version of stored log entries and Raft metadata.
const LOG_FORMAT_V1: u8 = 1;

/// Sized before it is written: serializing a 100-message entry into a
/// growing `Vec` reallocated and copied it several times (2.6 % of a leader
/// node's samples in a pipelined 1 KiB publish profile).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let size = bincode::serialized_size(value).expect("sizing a serializable value cannot fail");
    let mut out = Vec::with_capacity(1 + size as usize);
    out.push(LOG_FORMAT_V1);
    bincode::serialize_into(&mut out, value).expect("serializing to a Vec cannot fail");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, std::io::Error> {
    match bytes.split_first() {
        Some((&LOG_FORMAT_V1, body)) => bincode::deserialize(body).map_err(std::io::Error::other),
        Some((v, _)) => Err(std::io::Error::other(format!("unknown raft storage format version {v}"))),
        None => Err(std::io::Error::other("empty raft storage value")),
    }
}

/// Bytes of appended entries a group's store keeps for applying them.
pub const MAX_UNAPPLIED_BYTES: usize = 8 << 20;

/// The log of one group of type `C`.
///
/// A clone is a reader of the same log that shares the entries kept for
/// applying.
pub struct LogStore<C: RaftTypeConfig> {
    group: u64,
    store: Store,
    kept: Arc<Mutex<Unapplied<C::Entry>>>,
    _types: PhantomData<fn() -> C>,
}

impl<C: RaftTypeConfig> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        Self { group: self.group, store: self.store.clone(), kept: self.kept.clone(), _types: PhantomData }
    }
}

/// Appended entries at consecutive indexes, with their stored sizes.
struct Unapplied<E> {
    entries: VecDeque<(u64, E, usize)>,
    bytes: usize,
}

impl<E> Unapplied<E> {
    fn new() -> Self {
        Self { entries: VecDeque::new(), bytes: 0 }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Keeps an entry just appended, if it follows the last one kept (or
    /// starts afresh) and the budget allows.
    fn push(&mut self, index: u64, entry: E, size: usize) {
        if self.entries.back().is_some_and(|(last, _, _)| last + 1 != index) {
            self.clear();
        }
        if self.bytes + size > MAX_UNAPPLIED_BYTES {
            return;
        }
        self.bytes += size;
        self.entries.push_back((index, entry, size));
    }

    /// Drops entries at `index` and above (truncated, or about to be
    /// overwritten).
    fn drop_from(&mut self, index: u64) {
        while self.entries.back().is_some_and(|(i, _, _)| *i >= index) {
            let (_, _, size) = self.entries.pop_back().expect("checked");
            self.bytes -= size;
        }
    }

    /// Drops entries below `index`.
    fn drop_below(&mut self, index: u64) {
        while self.entries.front().is_some_and(|(i, _, _)| *i < index) {
            let (_, _, size) = self.entries.pop_front().expect("checked");
            self.bytes -= size;
        }
    }

    /// Clones of the entries of `[start, end)` if all are kept, stopping
    /// before the one that would bring their stored bytes over `max_bytes`
    /// (the first is always given).
    fn peek(&self, start: u64, end: u64, max_bytes: usize) -> Option<Vec<E>>
    where
        E: Clone,
    {
        let first = self.entries.front()?.0;
        let last = self.entries.back()?.0;
        if start < first || end > last + 1 || end <= start {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (_, e, size) in self.entries.range((start - first) as usize..(end - first) as usize) {
            bytes = bytes.saturating_add(*size);
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push(e.clone());
        }
        Some(out)
    }

    /// Moves out the entries of `[start, end)` if all are kept; the entries
    /// below `start` go too (applying only moves forward).
    fn take(&mut self, start: u64, end: u64) -> Option<Vec<E>> {
        self.drop_below(start);
        let held = self.entries.front().is_some_and(|(i, _, _)| *i == start)
            && self.entries.back().is_some_and(|(i, _, _)| *i + 1 >= end);
        if !held || end <= start {
            return None;
        }
        let n = (end - start) as usize;
        let out = self
            .entries
            .drain(..n)
            .map(|(_, e, size)| {
                self.bytes -= size;
                e
            })
            .collect();
        Some(out)
    }
}

impl<C: RaftTypeConfig> LogStore<C> {
    fn kept(&self) -> MutexGuard<'_, Unapplied<C::Entry>> {
        // Every critical section leaves the entries consistent, so a panic
        // elsewhere while holding the lock does not make them unusable.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    pub fn new(store: Store, group: u64) -> Self {
        Self { group, store, kept: Arc::new(Mutex::new(Unapplied::new())), _types: PhantomData }
    }

    /// Writes appended entries (not synced) and keeps them for applying.
    fn write_entries<I: IntoIterator<Item = C::Entry>>(&mut self, entries: I) -> Result<(), crate::StoreError> {
        let cf = self.store.cf(CF_LOG);
        let mut batch = WriteBatch::default();
        let mut appended = Vec::new();
        for entry in entries {
            let index = entry.index();
            let bytes = encode(&entry);
            batch.put_cf(cf, keys::log_key(self.group, index), &bytes);
            appended.push((index, entry, bytes.len()));
        }
        if let Some((first, _, _)) = appended.first() {
            self.kept().drop_from(*first);
        }
        if let Err(e) = self.store.write(batch) {
            self.kept().clear();
            return Err(e);
        }
        let mut kept = self.kept();
        for (index, entry, size) in appended {
            kept.push(index, entry, size);
        }
        Ok(())
    }

    fn get_meta<T: DeserializeOwned>(&self, tag: u8) -> Result<Option<T>, std::io::Error> {
        let cf = self.store.cf(CF_META);
        match self.store.db.get_cf(cf, keys::meta_key(self.group, tag)).map_err(std::io::Error::other)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The id of the newest entry stored, or of the last purged one when the
    /// log is empty after a snapshot: what Raft compares to decide whether
    /// a log is at least as up to date as another.
    pub fn last_stored_log_id(&self) -> Result<Option<LogIdOf<C>>, std::io::Error> {
        let last = self.last_log_id()?;
        match last {
            Some(l) => Ok(Some(l)),
            None => self.get_meta(META_PURGED),
        }
    }

    fn last_log_id(&self) -> Result<Option<LogIdOf<C>>, std::io::Error> {
        let cf = self.store.cf(CF_LOG);
        let mut it = self.store.db.raw_iterator_cf(cf);
        it.seek_for_prev(keys::log_key(self.group, u64::MAX));
        if !it.valid() {
            it.status().map_err(std::io::Error::other)?;
            return Ok(None);
        }
        let (Some(key), Some(value)) = (it.key(), it.value()) else { return Ok(None) };
        match keys::parse_log_key(key) {
            // An entry is stored as its log id followed by its payload
            // (`openraft::Entry`'s field order), and bincode reads a prefix:
            // the id without decoding a payload of up to several MiB. This
            // runs for every group at start-up and for every `Status`.
            Some((g, _)) if g == self.group => decode::<LogIdOf<C>>(value).map(Some),
            _ => Ok(None),
        }
    }
}

impl<C> RaftLogReader<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<C::Entry>> {
        if let Some((start, end)) = bounds(&range) {
            if let Some(entries) = self.kept().peek(start, end, usize::MAX) {
                return Ok(entries);
            }
        }
        self.read_entries(range, usize::MAX)
    }

    /// openraft reads entries this way only to apply them: kept entries are
    /// moved out instead of copied.
    async fn entries_stream<RB>(&mut self, range: RB) -> impl Stream<Item = io::Result<C::Entry>> + OptionalSend
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        let held = bounds(&range).and_then(|(start, end)| self.kept().take(start, end));
        let entries = match held {
            Some(entries) => Ok(entries),
            None => self.read_entries(range, usize::MAX),
        };
        let items: Vec<io::Result<C::Entry>> = match entries {
            Ok(entries) => entries.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(items)
    }

    async fn read_vote(&mut self) -> io::Result<Option<VoteOf<C>>> {
        self.get_meta(META_VOTE)
    }

    /// What replication sends in one AppendEntries: at most
    /// [`MAX_REPLICATION_BYTES`] of stored entries (always at least one), so
    /// a follower far behind gets a stream of bounded RPCs instead of one
    /// that exceeds the peer's gRPC message limit and is refused forever.
    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> io::Result<Vec<C::Entry>> {
        if let Some(entries) = self.kept().peek(start, end, MAX_REPLICATION_BYTES) {
            return Ok(entries);
        }
        self.read_entries(start..end, MAX_REPLICATION_BYTES)
    }
}

/// `[start, end)` of a bounded range.
fn bounds<RB: RangeBounds<u64>>(range: &RB) -> Option<(u64, u64)> {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => e.checked_add(1)?,
        Bound::Excluded(e) => *e,
        Bound::Unbounded => return None,
    };
    Some((start, end))
}

/// Stored bytes of the entries of one AppendEntries, at most (entries of
/// several MiB each still go alone). Well under the peers' 64 MiB limit.
pub const MAX_REPLICATION_BYTES: usize = 8 << 20;

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
{
    /// Entries in `range`, stopping before the one that would bring the
    /// stored bytes read over `max_bytes` (the first is always read).
    fn read_entries<RB: RangeBounds<u64>>(&self, range: RB, max_bytes: usize) -> std::io::Result<Vec<C::Entry>> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s + 1,
            Bound::Unbounded => 0,
        };
        let cf = self.store.cf(CF_LOG);
        let from = keys::log_key(self.group, start);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self.store.db.iterator_cf(cf, IteratorMode::From(&from, Direction::Forward)) {
            let (key, value) = item.map_err(std::io::Error::other)?;
            let Some((group, index)) = keys::parse_log_key(&key) else { break };
            if group != self.group || !range.contains(&index) {
                break;
            }
            bytes = bytes.saturating_add(value.len());
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            let entry = decode(&value)?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> io::Result<LogState<C>> {
        let last_purged: Option<LogIdOf<C>> = self.get_meta(META_PURGED)?;
        let last = self.last_log_id()?;
        Ok(LogState { last_purged_log_id: last_purged.clone(), last_log_id: last.or(last_purged) })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_META), keys::meta_key(self.group, META_VOTE), encode(vote));
        self.store.write_synced(batch).map_err(io::Error::other)
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> io::Result<()> {
        // Not synced: a lost committed index is only re-learned from the leader.
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_META), keys::meta_key(self.group, META_COMMITTED), encode(&committed));
        self.store.write(batch).map_err(io::Error::other)
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogIdOf<C>>> {
        let c: Option<Option<LogIdOf<C>>> = self.get_meta(META_COMMITTED)?;
        Ok(c.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> io::Result<()>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.write_entries(entries).map_err(io::Error::other)?;
        self.store.syncer.after_sync(callback).await
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> io::Result<()> {
        let from = last_log_id.map_or(0, |l| l.index + 1);
        self.kept().drop_from(from);
        let cf = self.store.cf(CF_LOG);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, keys::log_key(self.group, from).to_vec(), keys::group_end(self.group));
        self.store.write(batch).map_err(io::Error::other)
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> io::Result<()> {
        self.kept().drop_below(log_id.index.saturating_add(1));
        let mut batch = WriteBatch::default();
        batch.put_cf(self.store.cf(CF_META), keys::meta_key(self.group, META_PURGED), encode(&log_id));
        batch.delete_range_cf(
            self.store.cf(CF_LOG),
            keys::log_key(self.group, 0),
            keys::log_key(self.group, log_id.index.saturating_add(1)),
        );
        self.store.write(batch).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {

    use futures::StreamExt;
    use openraft::{EntryPayload, LogId};

    use super::*;

    use crate::test_types::Types;

    type Entry = openraft::alias::EntryOf<Types>;

    /// Writes entries with payloads of the given sizes at indexes 1, 2, ...
    fn store_with(sizes: &[usize]) -> (tempfile::TempDir, LogStore<Types>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &[]).expect("open store");
        for (i, &size) in sizes.iter().enumerate() {
            let index = i as u64 + 1;
            let entry: Entry =
                Entry { log_id: LogId::new_term_index(1, index), payload: EntryPayload::Normal("7".repeat(size)) };
            store.db.put_cf(store.cf(CF_LOG), keys::log_key(3, index), encode(&entry)).expect("put");
        }
        (dir, LogStore::new(store, 3))
    }

    #[tokio::test]
    async fn replication_reads_stop_at_the_byte_budget() {
        let mib = 1 << 20;
        let (_dir, mut log) = store_with(&[3 * mib, 3 * mib, 3 * mib, 3 * mib]);
        let limited = log.limited_get_log_entries(1, 5).await.expect("read");
        assert_eq!(limited.len(), 2, "two 3 MiB entries fit in 8 MiB, a third does not");
        let rest = log.limited_get_log_entries(3, 5).await.expect("read");
        assert_eq!(rest.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(log.try_get_log_entries(1..5).await.expect("read").len(), 4, "unlimited reads are whole");
    }

    #[test]
    fn the_last_log_id_is_read_from_the_stored_entry() {
        let (_dir, log) = store_with(&[10, 3 << 20]);
        let id = log.last_stored_log_id().expect("read").expect("a log id");
        assert_eq!((id.leader_id.term, id.index), (1, 2));
    }

    fn entry(term: u64, index: u64, byte: u8) -> Entry {
        Entry { log_id: LogId::new_term_index(term, index), payload: EntryPayload::Normal(byte.to_string().repeat(4)) }
    }

    fn payloads(entries: &[Entry]) -> Vec<(u64, u8)> {
        entries
            .iter()
            .map(|e| match &e.payload {
                EntryPayload::Normal(p) => (e.log_id.index, p[..1].parse().expect("a digit")),
                _ => (e.log_id.index, 0),
            })
            .collect()
    }

    /// Appends as `RaftLogStorage::append` does, less the fsync callback.
    async fn append(log: &mut LogStore<Types>, entries: Vec<Entry>) {
        log.write_entries(entries).expect("append");
    }

    /// What the store keeps for applying is what is stored: the apply
    /// stream moves kept ranges out, other reads copy them, and truncation
    /// and overwrites replace them.
    #[tokio::test]
    async fn entries_kept_for_applying_match_the_stored_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &[]).expect("open store");
        let mut log = LogStore::<Types>::new(store, 3);
        let mut reader = log.clone();
        append(&mut log, (1..=4).map(|i| entry(1, i, 1)).collect()).await;
        assert_eq!(payloads(&applied(&mut reader, 1..3).await), vec![(1, 1), (2, 1)]);
        assert_eq!(log.kept().entries.len(), 2, "1 and 2 moved out");
        // Other reads (replication's) get copies of kept entries and leave
        // them for applying, also within a byte budget.
        assert_eq!(payloads(&reader.try_get_log_entries(3..5).await.expect("read")), vec![(3, 1), (4, 1)]);
        assert_eq!(payloads(&reader.limited_get_log_entries(3, 5).await.expect("read")), vec![(3, 1), (4, 1)]);
        assert_eq!(log.kept().entries.len(), 2, "other reads move nothing");
        // A new leader's entries from 4 replace the old 4.
        log.truncate_after(Some(LogId::new_term_index(1, 3))).await.expect("truncate");
        append(&mut log, vec![entry(2, 4, 2), entry(2, 5, 2)]).await;
        // 5 is overwritten again without a truncation.
        append(&mut log, vec![entry(3, 5, 3)]).await;
        let kept = applied(&mut reader, 3..=5).await;
        assert_eq!(payloads(&kept), vec![(3, 1), (4, 2), (5, 3)]);
        assert_eq!(
            payloads(&reader.try_get_log_entries(1..6).await.expect("read")),
            payloads(&[entry(1, 1, 1), entry(1, 2, 1), entry(1, 3, 1), entry(2, 4, 2), entry(3, 5, 3)])
        );
        // Ranges no longer kept come from RocksDB.
        assert_eq!(payloads(&applied(&mut reader, 2..4).await), vec![(2, 1), (3, 1)]);
        let kept = log.kept();
        assert_eq!((kept.entries.len(), kept.bytes), (0, 0));
    }

    async fn applied(reader: &mut LogStore<Types>, range: impl RangeBounds<u64> + Clone + Debug + Send) -> Vec<Entry> {
        let stream = reader.entries_stream(range).await;
        stream.map(|e| e.expect("read")).collect().await
    }

    #[tokio::test]
    async fn an_entry_over_the_budget_is_still_sent_alone() {
        let (_dir, mut log) = store_with(&[9 << 20, 10]);
        let limited = log.limited_get_log_entries(1, 3).await.expect("read");
        assert_eq!(limited.len(), 1);
    }
}
