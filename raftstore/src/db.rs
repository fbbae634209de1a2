//! Opening the node's RocksDB and the node's identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, DBCompactionStyle, Options, WriteBatch, WriteOptions, DB,
};

use crate::keys::{CF_LOG, CF_META, NODE_IDENTITY_KEY};
use crate::sync::Syncer;
use crate::unlogged::Unlogged;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("open RocksDB at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("RocksDB {op}")]
    Rocks {
        op: &'static str,
        #[source]
        source: rocksdb::Error,
    },
    #[error("corrupt {what} in storage: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("memtable flush not finished after {0:?}")]
    FlushTimeout(std::time::Duration),
    #[error("snapshot file {path}")]
    SnapshotIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub fn rocks(op: &'static str) -> impl FnOnce(rocksdb::Error) -> Self {
        move |source| Self::Rocks { op, source }
    }
}

/// The node's database plus its group-commit syncer and snapshot folder.
#[derive(Clone)]
pub struct Store {
    pub db: Arc<DB>,
    pub syncer: Syncer,
    pub snapshot_dir: PathBuf,
    unlogged: Arc<Unlogged>,
}

/// WAL bytes kept before the column families holding the oldest file are
/// flushed (bounds the replay after a restart).
const MAX_TOTAL_WAL_BYTES: u64 = 128 << 20;

/// Options of every column family. Every append looks its new message ids
/// up in the id index, and a new id is absent: bloom filters make that cheap
/// in the table files (without them `Version::Get` searched an index block
/// of every file, ~5 % of a pipelined publish run's CPU) and in the memtable
/// (with the lookups batched into one MultiGet per entry, the id lookups
/// went from ~15 % of that run's CPU to ~5 %).
fn family_options() -> Options {
    let mut cf = Options::default();
    cf.set_write_buffer_size(32 << 20);
    cf.set_memtable_prefix_bloom_ratio(0.05);
    cf.set_memtable_whole_key_filtering(true);
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    cf.set_block_based_table_factory(&table);
    cf
}

/// A column family besides the Raft log and metadata.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub compaction: Compaction,
}

/// How a column family's table files are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// RocksDB's default: for keys written mostly in order (a log,
    /// records by offset), whose new files seldom overlap old ones.
    Leveled,
    /// Tiered: for keys written in random order (an index of message ids).
    /// Leveled, each small flush overlapped the whole first level and
    /// compaction rewrote all of it every few seconds: a node's state
    /// machine family, 0.4 s of CPU every 2.5 s in an RF3 1 KiB publish
    /// run, 22 % of the machine in all compaction. Tiered, it was 9 %.
    Universal,
}

impl Family {
    pub const fn leveled(name: &'static str) -> Self {
        Self { name, compaction: Compaction::Leveled }
    }

    pub const fn universal(name: &'static str) -> Self {
        Self { name, compaction: Compaction::Universal }
    }
}

impl Store {
    /// Opens (creating if needed) the database under `data_dir`, with the
    /// Raft column families plus `extra_cfs`.
    pub fn open(data_dir: &Path, extra_cfs: &[Family]) -> Result<Self, StoreError> {
        let path = data_dir.join("db");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        // A restart replays the WAL. Column families that rarely flush (the
        // Raft metadata) keep every WAL file since their last flush alive,
        // so without a cap the replay grew to hundreds of MiB and a node
        // holding 1 GiB took seconds to open. The cap flushes such families
        // early.
        opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        // RocksDB's own flushes cut every family at once, which keeps the
        // families written without the WAL at one prefix (see `unlogged`).
        opts.set_atomic_flush(true);
        let families = [Family::leveled(CF_LOG), Family::leveled(CF_META)].into_iter().chain(extra_cfs.iter().copied());
        let cfs = families.map(|f| {
            let mut options = family_options();
            if f.compaction == Compaction::Universal {
                options.set_compaction_style(DBCompactionStyle::Universal);
            }
            ColumnFamilyDescriptor::new(f.name, options)
        });
        let db = DB::open_cf_descriptors(&opts, &path, cfs)
            .map_err(|source| StoreError::Open { path: path.clone(), source })?;
        let db = Arc::new(db);
        let (syncer, _thread) = Syncer::start(db.clone());
        let snapshot_dir = data_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir)
            .map_err(|source| StoreError::SnapshotIo { path: snapshot_dir.clone(), source })?;
        Ok(Self { db, syncer, snapshot_dir, unlogged: Unlogged::new() })
    }

    pub fn cf(&self, name: &str) -> &ColumnFamily {
        self.db.cf_handle(name).expect("column families are created when the database is opened")
    }

    /// Writes a batch and fsyncs it before returning.
    pub fn write_synced(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(StoreError::rocks("synced write"))
    }

    /// Writes a batch to the WAL without waiting for an fsync.
    pub fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.db.write(batch).map_err(StoreError::rocks("write"))
    }

    /// Writes a batch to the memtables only, bypassing the WAL: it survives
    /// a crash only once flushed, by RocksDB or by
    /// [`Store::flush_unlogged`]. For data that can be rebuilt from the Raft
    /// log (a state machine): the log must not be purged past what such a
    /// flush made durable.
    pub fn write_unlogged(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.unlogged.write(&self.db, batch)
    }

    /// Makes every write made so far to `families`, logged or not, durable,
    /// each family durable at least as far as those after it at every
    /// moment (see [`crate::unlogged`]).
    pub fn flush_unlogged(&self, families: &[&str]) -> Result<(), StoreError> {
        self.unlogged.flush_in_order(&self.db, families)
    }

    /// Fsyncs everything written so far.
    pub fn sync_wal(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true).map_err(StoreError::rocks("sync WAL"))
    }

    /// This node's id, created at random on first start and kept with the
    /// data: a wiped data directory comes back as a new node, never under its
    /// old identity.
    pub fn node_id(&self) -> Result<u64, StoreError> {
        if let Some(bytes) = self.db.get(NODE_IDENTITY_KEY).map_err(StoreError::rocks("read node id"))? {
            let arr: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt { what: "node identity", reason: format!("{} bytes", bytes.len()) })?;
            return Ok(u64::from_be_bytes(arr));
        }
        // Ids fit in 53 bits so they survive JSON tools unchanged.
        let id = rand::random::<u64>() >> 11 | 1;
        let mut batch = WriteBatch::default();
        batch.put(NODE_IDENTITY_KEY, id.to_be_bytes());
        self.write_synced(batch)?;
        Ok(id)
    }
}
