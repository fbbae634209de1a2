//! Writes that bypass the WAL, kept consistent across column families.
//!
//! Data that can be rebuilt from the Raft log (a state machine) is written
//! without the WAL: the log already holds every payload, and logging it
//! again cost a second CRC and copy of each one. Such a write survives a
//! crash only once its column family's memtable is flushed, and a flush
//! persists a prefix of the family's writes.
//!
//! When one batch spans several families, each family's durable prefix
//! may differ. The database runs with `atomic_flush`, so RocksDB's own
//! flushes (a full memtable, the WAL cap) flush every family at one cut.
//! A flush asked for by a caller ([`Unlogged::flush_in_order`]) takes a list
//! of families and keeps each one durable at least as far as the ones after
//! it: the last family (where a state machine keeps its "applied up to"
//! meta) is never durable past the earlier ones (its data). It flushes the
//! earlier ones, then briefly holds unlogged writes while it flushes them
//! again and cuts the last one's memtable.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rocksdb::{FlushOptions, DB};

use crate::db::StoreError;

/// How often the end of a flush is checked once its memtable is cut.
const FLUSH_POLL: Duration = Duration::from_millis(2);
/// A flush not finished after this is reported as failed.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// Shared by every handle of a store.
#[derive(Default)]
pub struct Unlogged {
    /// Unlogged writes hold it shared; a flush cutting memtables holds it
    /// exclusively, so no write falls between two families' cuts.
    writes: RwLock<()>,
    /// One ordered flush at a time.
    flushes: Mutex<()>,
}

impl Unlogged {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Writes a batch to the memtables only.
    pub fn write(&self, db: &DB, batch: rocksdb::WriteBatch) -> Result<(), StoreError> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.disable_wal(true);
        let _shared = self.writes.read().expect("unlogged write lock is never poisoned");
        db.write_opt(batch, &opts).map_err(StoreError::rocks("unlogged write"))
    }

    /// Makes every write made before the call durable in `families`, each
    /// family durable at least as far as those after it at every moment.
    pub fn flush_in_order(&self, db: &DB, families: &[&str]) -> Result<(), StoreError> {
        let Some((last, earlier)) = families.split_last() else { return Ok(()) };
        let cf = |name: &str| db.cf_handle(name).expect("column families are created when the database is opened");
        let _one = self.flushes.lock().expect("flush lock is never poisoned");
        // Unheld first: the held flush below then writes only what arrived since.
        for name in earlier {
            db.flush_cf(cf(name)).map_err(StoreError::rocks("flush column family"))?;
        }
        {
            let _held = self.writes.write().expect("unlogged write lock is never poisoned");
            for name in earlier {
                db.flush_cf(cf(name)).map_err(StoreError::rocks("flush column family"))?;
            }
            let mut cut = FlushOptions::default();
            cut.set_wait(false);
            db.flush_cf_opt(cf(last), &cut).map_err(StoreError::rocks("cut memtable"))?;
        }
        wait_flushed(db, cf(last))
    }
}

/// Waits until the family has no memtable waiting to be flushed (a
/// `wait = true` flush would cut a newer memtable and run ahead).
fn wait_flushed(db: &DB, cf: &rocksdb::ColumnFamily) -> Result<(), StoreError> {
    let started = Instant::now();
    loop {
        let pending = db
            .property_int_value_cf(cf, "rocksdb.num-immutable-mem-table")
            .map_err(StoreError::rocks("read flush progress"))?;
        if pending == Some(0) {
            return Ok(());
        }
        if started.elapsed() > FLUSH_TIMEOUT {
            return Err(StoreError::FlushTimeout(FLUSH_TIMEOUT));
        }
        std::thread::sleep(FLUSH_POLL);
    }
}

#[cfg(test)]
mod tests {
    use rocksdb::WriteBatch;

    use crate::{Family, Store};

    fn memtable_entries(store: &Store, family: &str) -> (u64, u64) {
        let cf = store.cf(family);
        let int = |p| store.db.property_int_value_cf(cf, p).expect("property").expect("known property");
        (int("rocksdb.num-entries-active-mem-table"), int("rocksdb.num-immutable-mem-table"))
    }

    /// Unlogged writes to two families sit in their memtables until an
    /// ordered flush, which leaves nothing unflushed in either.
    #[test]
    fn an_ordered_flush_leaves_no_unlogged_write_in_memory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &[Family::leveled("data"), Family::leveled("meta")]).expect("open store");
        for i in 0u32..100 {
            let mut batch = WriteBatch::default();
            batch.put_cf(store.cf("data"), i.to_be_bytes(), [7u8; 64]);
            batch.put_cf(store.cf("meta"), b"applied", i.to_be_bytes());
            store.write_unlogged(batch).expect("write");
        }
        assert_eq!(memtable_entries(&store, "data"), (100, 0));
        assert_eq!(memtable_entries(&store, "meta"), (100, 0));
        store.flush_unlogged(&["data", "meta"]).expect("flush");
        assert_eq!(memtable_entries(&store, "data"), (0, 0));
        assert_eq!(memtable_entries(&store, "meta"), (0, 0));
        let applied = store.db.get_cf(store.cf("meta"), b"applied").expect("read").expect("present");
        assert_eq!(applied, 99u32.to_be_bytes());
    }
}
