//! Moving the records of an older data directory into their own family.
//!
//! Before the records family, a partition's records sat in `sm` beside its
//! meta, index and consumers. A node opening such a directory moves them
//! once, before any group starts, then notes in the default family that the
//! layout is current. The move is idempotent (a copy, then a range delete
//! per group), so a crash part-way repeats it at the next start.

use std::time::Instant;

use rocksdb::{ReadOptions, WriteBatch};

use super::keys::{self, CF_RECORDS, CF_SM, MAX_GROUP_ID, SM_RECORD};
use super::{Store, StoreError};

/// Key of the storage layout version in the default column family.
pub const LAYOUT_KEY: &[u8] = b"storage-layout";
/// Records in a family of their own.
const LAYOUT_RECORDS_FAMILY: u8 = 2;
/// Bytes copied per write.
const BATCH_BYTES: usize = 4 << 20;

/// What a migration moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub groups: u64,
    pub chunks: u64,
    pub bytes: u64,
}

/// Brings the data directory to the current layout; a no-op once it is.
pub fn records_to_own_family(store: &Store) -> Result<Moved, StoreError> {
    let layout = store.db.get(LAYOUT_KEY).map_err(StoreError::rocks("read storage layout"))?;
    if layout.as_deref() == Some(&[LAYOUT_RECORDS_FAMILY][..]) {
        return Ok(Moved::default());
    }
    let started = Instant::now();
    let moved = move_records(store)?;
    let mut batch = WriteBatch::default();
    batch.put(LAYOUT_KEY, [LAYOUT_RECORDS_FAMILY]);
    store.write_synced(batch)?;
    if moved.chunks > 0 {
        tracing::info!(
            groups = moved.groups,
            chunks = moved.chunks,
            bytes = moved.bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "moved records into their own column family"
        );
    }
    Ok(moved)
}

/// Copies every record chunk from `sm` to the records family, then deletes
/// the copied ranges from `sm`. Visits only record keys: within a group,
/// the scan seeks to its records and leaves at the first key past them.
fn move_records(store: &Store) -> Result<Moved, StoreError> {
    let (sm, records) = (store.cf(CF_SM), store.cf(CF_RECORDS));
    let mut moved = Moved::default();
    let mut groups = Vec::new();
    let mut batch = WriteBatch::default();
    let mut it = store.db.raw_iterator_cf_opt(sm, ReadOptions::default());
    it.seek_to_first();
    while let Some(key) = it.key() {
        let group = u64::from_be_bytes(key[..8].try_into().map_err(|_| corrupt(key))?);
        let tag = *key.get(8).ok_or_else(|| corrupt(key))?;
        if tag < SM_RECORD {
            it.seek(keys::sm_tag_prefix(group, SM_RECORD));
            continue;
        }
        if tag > SM_RECORD {
            if group >= MAX_GROUP_ID {
                break;
            }
            it.seek(keys::group_prefix(group + 1));
            continue;
        }
        let value = it.value().expect("a valid iterator has a value");
        batch.put_cf(records, key, value);
        moved.chunks += 1;
        moved.bytes += value.len() as u64;
        if groups.last() != Some(&group) {
            groups.push(group);
        }
        if batch.size_in_bytes() >= BATCH_BYTES {
            store.write(std::mem::take(&mut batch))?;
        }
        it.next();
    }
    it.status().map_err(StoreError::rocks("scan records to move"))?;
    store.write(batch)?;
    // The copies are in the WAL ahead of the deletes, so the deletes' synced
    // write makes both durable, in that order.
    let mut deletes = WriteBatch::default();
    for &group in &groups {
        deletes.delete_range_cf(sm, keys::sm_tag_prefix(group, SM_RECORD), keys::sm_tag_prefix(group, SM_RECORD + 1));
    }
    store.write_synced(deletes)?;
    moved.groups = groups.len() as u64;
    Ok(moved)
}

fn corrupt(key: &[u8]) -> StoreError {
    StoreError::Corrupt { what: "state machine key", reason: format!("{} bytes: {key:02x?}", key.len()) }
}

#[cfg(test)]
mod tests {
    use rocksdb::IteratorMode;

    use super::*;
    use crate::storage::NODE_COLUMN_FAMILIES;

    fn keys_of(store: &Store, family: &str) -> Vec<Vec<u8>> {
        store.db.iterator_cf(store.cf(family), IteratorMode::Start).map(|kv| kv.expect("iterate").0.to_vec()).collect()
    }

    /// An old layout: records of groups 1 and 7 in `sm` between each group's
    /// meta and index keys. After the move the records family holds exactly
    /// them, `sm` keeps the rest, and a second run moves nothing.
    #[test]
    fn records_move_from_sm_once_and_the_rest_stays() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &NODE_COLUMN_FAMILIES).expect("open store");
        let sm = store.cf(CF_SM);
        let mut batch = WriteBatch::default();
        for group in [1u64, 7] {
            batch.put_cf(sm, keys::sm_meta_key(group), b"meta");
            for offset in [0u64, 4, 9] {
                batch.put_cf(sm, keys::record_key(group, offset), vec![group as u8; 100]);
            }
            batch.put_cf(sm, keys::index_key(group, "m-1"), 0u64.to_be_bytes());
            batch.put_cf(sm, keys::consumer_key(group, "alice/g"), b"state");
        }
        store.write_synced(batch).expect("write old layout");

        let moved = records_to_own_family(&store).expect("migrate");
        assert_eq!(moved, Moved { groups: 2, chunks: 6, bytes: 600 });
        let expected: Vec<Vec<u8>> =
            [1u64, 7].iter().flat_map(|&g| [0u64, 4, 9].map(|o| keys::record_key(g, o).to_vec())).collect();
        assert_eq!(keys_of(&store, CF_RECORDS), expected);
        let left = keys_of(&store, CF_SM);
        assert_eq!(left.len(), 6, "meta, index and consumer of two groups stay");
        assert!(left.iter().all(|k| k[8] != SM_RECORD));
        assert_eq!(records_to_own_family(&store).expect("second run"), Moved::default());
    }
}
