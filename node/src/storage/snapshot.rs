//! Snapshot files of one group's state machine.
//!
//! A snapshot is the group's whole key range of the `sm` and records
//! families, read through one RocksDB snapshot (a consistent cut), written
//! to a file, so a lagging or new replica
//! can be brought up to date and the Raft log below it can be purged. Files
//! stream record by record: a partition of any size is never held in memory.
//!
//! ```text
//! "ZYASNAP1" | u32 meta length | bincode(SnapshotMeta)
//! repeated:  u32 key length (> 0) | key without group prefix | u32 value length | value
//!            (a key's first byte, its tag, tells its family: records or `sm`)
//! end:       u32 0 | u64 number of pairs
//! ```
//!
//! The current snapshot of a group is `snapshots/<group>/current.snap`,
//! replaced by rename, so a crash leaves either the old or the new file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rocksdb::{IteratorMode, ReadOptions, WriteBatch};

use super::keys::{self, CF_RECORDS, CF_SM, SM_RECORD};
use super::state_machine::SmMeta;
use super::{Store, StoreError};
use crate::raft::SnapshotMeta;

const MAGIC: &[u8; 8] = b"ZYASNAP1";
/// Bytes of records written per batch while installing a snapshot.
const INSTALL_BATCH_BYTES: usize = 4 << 20;

pub fn group_dir(store: &Store, group: u64) -> PathBuf {
    store.snapshot_dir.join(group.to_string())
}

pub fn current_path(store: &Store, group: u64) -> PathBuf {
    group_dir(store, group).join("current.snap")
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::SnapshotIo { path: path.to_path_buf(), source }
}

fn corrupt(reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what: "snapshot file", reason: reason.into() }
}

/// Dumps the group's state machine as of now into its current snapshot file.
/// Returns the snapshot's meta, or None when nothing has been applied yet.
pub fn build(store: &Store, group: u64, snapshot_id: String) -> Result<Option<SnapshotMeta>, StoreError> {
    let dir = group_dir(store, group);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let tmp = dir.join(format!("{snapshot_id}.tmp"));
    let db_snap = store.db.snapshot();
    let meta_bytes =
        db_snap.get_cf(store.cf(CF_SM), keys::sm_meta_key(group)).map_err(StoreError::rocks("read sm meta"))?;
    let Some(meta_bytes) = meta_bytes else { return Ok(None) };
    let sm: SmMeta = SmMeta::decode(&meta_bytes)?;
    let Some(last_log_id) = sm.last_applied else { return Ok(None) };
    let meta = SnapshotMeta { last_log_id: Some(last_log_id), last_membership: sm.membership.clone() };

    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&header(&meta)).map_err(io_err(&tmp))?;

    let prefix = keys::group_prefix(group);
    let mut pairs: u64 = 0;
    for family in [CF_SM, CF_RECORDS] {
        let mut read_opts = ReadOptions::default();
        read_opts.set_iterate_upper_bound(keys::group_end(group));
        let from = IteratorMode::From(&prefix, rocksdb::Direction::Forward);
        for item in db_snap.iterator_cf_opt(store.cf(family), read_opts, from) {
            let (key, value) = item.map_err(StoreError::rocks("iterate state machine"))?;
            let suffix = &key[8..];
            w.write_all(&(suffix.len() as u32).to_be_bytes()).map_err(io_err(&tmp))?;
            w.write_all(suffix).map_err(io_err(&tmp))?;
            w.write_all(&(value.len() as u32).to_be_bytes()).map_err(io_err(&tmp))?;
            w.write_all(&value).map_err(io_err(&tmp))?;
            pairs += 1;
        }
    }
    w.write_all(&0u32.to_be_bytes()).map_err(io_err(&tmp))?;
    w.write_all(&pairs.to_be_bytes()).map_err(io_err(&tmp))?;
    let file = w.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp))?;
    publish(store, group, &tmp)?;
    Ok(Some(meta))
}

/// The start of a snapshot file: magic, meta length, meta.
pub fn header(meta: &SnapshotMeta) -> Vec<u8> {
    let body = bincode::serialize(meta).expect("serializing to a Vec cannot fail");
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Makes `file` the group's current snapshot (durably).
pub fn publish(store: &Store, group: u64, file: &Path) -> Result<(), StoreError> {
    let dir = group_dir(store, group);
    let current = current_path(store, group);
    std::fs::rename(file, &current).map_err(io_err(&current))?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err(&dir))?;
    Ok(())
}

fn read_u32(r: &mut impl Read, path: &Path) -> Result<u32, StoreError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(io_err(path))?;
    Ok(u32::from_be_bytes(b))
}

fn read_exact_vec(r: &mut impl Read, len: u32, path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v).map_err(io_err(path))?;
    Ok(v)
}

/// Reads the meta of a snapshot file and leaves the reader at the first pair.
pub fn read_meta(path: &Path) -> Result<(SnapshotMeta, BufReader<File>), StoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io_err(path))?;
    if &magic != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let len = read_u32(&mut r, path)?;
    if len > 64 << 20 {
        return Err(corrupt(format!("meta of {len} bytes")));
    }
    let header = read_exact_vec(&mut r, len, path)?;
    let meta = bincode::deserialize(&header).map_err(|e| corrupt(e.to_string()))?;
    Ok((meta, r))
}

/// Replaces the group's state machine with the snapshot's content. The
/// caller has marked the state machine as installing (durably) first, so a
/// crash half-way is repaired by installing again at start-up.
pub fn load(store: &Store, group: u64, path: &Path) -> Result<SnapshotMeta, StoreError> {
    let (meta, mut r) = read_meta(path)?;
    let (sm, records) = (store.cf(CF_SM), store.cf(CF_RECORDS));
    let mut batch = WriteBatch::default();
    for cf in [sm, records] {
        batch.delete_range_cf(cf, keys::group_prefix(group).to_vec(), keys::group_end(group));
    }
    let mut pairs = 0u64;
    loop {
        let klen = read_u32(&mut r, path)?;
        if klen == 0 {
            break;
        }
        if klen > 1 << 20 {
            return Err(corrupt(format!("key of {klen} bytes")));
        }
        let suffix = read_exact_vec(&mut r, klen, path)?;
        let vlen = read_u32(&mut r, path)?;
        let value = read_exact_vec(&mut r, vlen, path)?;
        let cf = if suffix[0] == SM_RECORD { records } else { sm };
        let mut key = keys::group_prefix(group).to_vec();
        key.extend_from_slice(&suffix);
        batch.put_cf(cf, key, value);
        pairs += 1;
        if batch.size_in_bytes() >= INSTALL_BATCH_BYTES {
            store.write(std::mem::take(&mut batch))?;
        }
    }
    let mut count = [0u8; 8];
    r.read_exact(&mut count).map_err(io_err(path))?;
    if u64::from_be_bytes(count) != pairs {
        return Err(corrupt(format!("{pairs} pairs, trailer says {}", u64::from_be_bytes(count))));
    }
    store.write(batch)?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use crate::raft::Entry;

    use super::*;
    use crate::partition::{Command, NewMessage};
    use crate::storage::StateMachineStore;

    fn entry(index: u64, command: Command) -> Entry {
        Entry { log_id: openraft::LogId::new_term_index(1, index), payload: EntryPayload::Normal(command) }
    }

    #[tokio::test]
    async fn a_snapshot_carries_consumer_positions_and_delivery_counts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &crate::storage::NODE_COLUMN_FAMILIES).expect("open store");
        let (mut sm, source) = StateMachineStore::open(store.clone(), 1).expect("open group 1");
        let messages = (0..4)
            .map(|i| NewMessage {
                message_id: format!("m{i}"),
                payload: vec![],
                key: None,
                user: "u".into(),
                device: "d".into(),
                timestamp: String::new(),
            })
            .collect();
        let consumer = || "alice/g".to_string();
        let commands = [
            Command::Append { messages: std::sync::Arc::new(messages), appended_at_ms: 1 },
            Command::MarkDelivered { consumer: consumer(), from: 0, end: 4 },
            Command::MarkDelivered { consumer: consumer(), from: 2, end: 4 },
            Command::CommitOffset { consumer: consumer(), position: crate::partition::CommitPosition::UpTo(0) },
        ];
        sm.apply_batch(commands.into_iter().zip(1..).map(|(c, i)| entry(i, c)).collect()).expect("apply");
        let before = source.consumer(&consumer()).expect("read").expect("consumer exists");
        assert!(!before.deliveries.is_empty());

        build(&store, 1, "s1".into()).expect("build").expect("something was applied");
        load(&store, 2, &current_path(&store, 1)).expect("install into group 2");
        let (_, copy) = StateMachineStore::open(store, 2).expect("open group 2");
        assert_eq!(copy.consumer(&consumer()).expect("read"), Some(before));
        assert_eq!(copy.meta().next_offset, 4);
    }
}
