//! Group commit: one WAL fsync completes many appends, across all groups.
//!
//! `LogStore::append` writes entries without syncing and hands openraft's
//! completion callback to the syncer. The syncer thread takes every callback
//! queued so far, fsyncs the WAL once (`flush_wal(true)` syncs everything
//! written before it, in every column family and group), then completes them
//! all. Under load one fsync covers many Raft appends, so throughput is not
//! capped by the disk's fsyncs per second; when idle, a single append waits
//! for exactly one fsync.
//!
//! ```text
//! append(g1) ─┐
//! append(g7) ─┼─> [bounded queue] ─> syncer: flush_wal(sync) ─> callbacks
//! append(g1) ─┘
//! ```

use std::sync::Arc;
use std::thread::JoinHandle;

use openraft::storage::IOFlushed;
use openraft::RaftTypeConfig;
use tokio::sync::mpsc;

/// A completion to run once the WAL is synced (an openraft `IOFlushed` of
/// any group's type).
type Completion = Box<dyn FnOnce(Result<(), std::io::Error>) + Send>;

/// Appends waiting for an fsync. When full, `append` waits for room, which
/// slows Raft's log IO down to the disk's pace instead of queueing without
/// bound. 4,096 covers the appends of thousands of groups in one sync.
pub const SYNC_QUEUE_CAPACITY: usize = 4096;

/// Handle to the syncer thread.
#[derive(Clone)]
pub struct Syncer {
    tx: mpsc::Sender<Completion>,
}

impl Syncer {
    /// Starts the syncer thread. It stops once every `Syncer` handle is
    /// dropped, after completing what was queued.
    ///
    /// The thread holds the database weakly: it is closed where its last
    /// `Store` is dropped, not later on this thread. A test that dropped its
    /// store and then its temporary directory otherwise left this thread to
    /// close a database whose files were gone, racing the process exit (a
    /// test binary crashed with SIGSEGV after all its tests passed).
    pub fn start(db: Arc<rocksdb::DB>) -> (Self, JoinHandle<()>) {
        let db = Arc::downgrade(&db);
        let (tx, mut rx) = mpsc::channel::<Completion>(SYNC_QUEUE_CAPACITY);
        let handle = std::thread::Builder::new()
            .name("zya-wal-sync".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(256);
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    let result: Result<(), String> = match db.upgrade() {
                        Some(db) => db.flush_wal(true).map_err(|e| e.to_string()),
                        None => Err("the database is closed".into()),
                    };
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "WAL fsync failed; appends are reported as failed");
                    }
                    for cb in batch.drain(..) {
                        let r = match &result {
                            Ok(()) => Ok(()),
                            Err(e) => Err(std::io::Error::other(e.clone())),
                        };
                        cb(r);
                    }
                }
            })
            .expect("spawning the WAL sync thread");
        (Self { tx }, handle)
    }

    /// Queues a completion callback for the next fsync.
    ///
    /// Cancel-safe: dropping the future before it resolves drops the callback,
    /// and openraft then sees the append as not completed.
    pub async fn after_sync<C: RaftTypeConfig>(&self, callback: IOFlushed<C>) -> Result<(), std::io::Error> {
        let completion: Completion = Box::new(move |r| callback.io_completed(r));
        self.tx.send(completion).await.map_err(|_| std::io::Error::other("WAL syncer stopped"))
    }
}
