//! openraft state machine of the catalogue: in memory, snapshotted whole.
//!
//! Every applied command changes the in-memory [`Catalogue`]; snapshots
//! serialize it (versioned) and are stored synced in RocksDB, so the log
//! below them can be purged. At start-up the latest snapshot is loaded and
//! openraft re-applies the log entries after it.

use std::io;
use std::sync::{Arc, RwLock};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use super::command::CatalogueResponse;
use super::state::Catalogue;
use crate::raft::{CatalogueTypes, LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, CATALOGUE_GROUP};
use zya_raftstore::keys::{meta_key, CF_META};
use zya_raftstore::{decode, encode, Store, StoreError};

/// `raft_meta` tag of the stored snapshot.
const META_SNAPSHOT: u8 = 10;

/// The applied state, shared with readers.
#[derive(Default)]
pub struct Applied {
    pub catalogue: Catalogue,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

/// Read access to the catalogue as applied on this replica.
#[derive(Clone)]
pub struct CatalogueReader {
    shared: Arc<RwLock<Applied>>,
}

impl CatalogueReader {
    pub fn read<T>(&self, f: impl FnOnce(&Catalogue) -> T) -> T {
        f(&self.shared.read().expect("catalogue lock is never poisoned").catalogue)
    }
}

/// A stored snapshot: its meta and the encoded catalogue.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

pub struct CatalogueStore {
    store: Store,
    shared: Arc<RwLock<Applied>>,
}

impl CatalogueStore {
    /// Opens the state machine from the latest stored snapshot.
    pub fn open(store: Store) -> Result<(Self, CatalogueReader), StoreError> {
        let mut applied = Applied::default();
        if let Some(snap) = read_snapshot(&store)? {
            applied.catalogue = Catalogue::decode(&snap.data)
                .map_err(|e| StoreError::Corrupt { what: "catalogue snapshot", reason: e.to_string() })?;
            applied.last_applied = snap.meta.last_log_id;
            applied.membership = snap.meta.last_membership.clone();
        }
        let shared = Arc::new(RwLock::new(applied));
        Ok((Self { store, shared: shared.clone() }, CatalogueReader { shared }))
    }

    fn build(&self) -> Result<StoredSnapshot, StoreError> {
        let applied = self.shared.read().expect("catalogue lock is never poisoned");
        let last = applied.last_applied;
        let meta = SnapshotMeta { last_log_id: last, last_membership: applied.membership.clone() };
        Ok(StoredSnapshot { meta, data: applied.catalogue.encode() })
    }
}

fn read_snapshot(store: &Store) -> Result<Option<StoredSnapshot>, StoreError> {
    let bytes = store
        .db
        .get_cf(store.cf(CF_META), meta_key(CATALOGUE_GROUP, META_SNAPSHOT))
        .map_err(StoreError::rocks("read catalogue snapshot"))?;
    bytes
        .map(|b| decode(&b).map_err(|e| StoreError::Corrupt { what: "catalogue snapshot", reason: e.to_string() }))
        .transpose()
}

fn write_snapshot(store: &Store, snap: &StoredSnapshot) -> Result<(), StoreError> {
    let mut batch = WriteBatch::default();
    batch.put_cf(store.cf(CF_META), meta_key(CATALOGUE_GROUP, META_SNAPSHOT), encode(snap));
    store.write_synced(batch)
}

/// Builds snapshots from the shared in-memory state.
pub struct CatalogueSnapshotBuilder {
    store: Store,
    shared: Arc<RwLock<Applied>>,
}

impl RaftSnapshotBuilder<CatalogueTypes> for CatalogueSnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let sm = CatalogueStore { store: self.store.clone(), shared: self.shared.clone() };
        let snap = sm.build().map_err(io::Error::other)?;
        write_snapshot(&self.store, &snap).map_err(io::Error::other)?;
        Ok(Snapshot { meta: snap.meta, snapshot: io::Cursor::new(snap.data) })
    }
}

impl RaftStateMachine<CatalogueTypes> for CatalogueStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = CatalogueSnapshotBuilder;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let a = self.shared.read().expect("catalogue lock is never poisoned");
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<S>(&mut self, mut entries: S) -> io::Result<()>
    where
        S: Stream<Item = io::Result<EntryResponder<CatalogueTypes>>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let response = {
                let mut a = self.shared.write().expect("catalogue lock is never poisoned");
                a.last_applied = Some(entry.log_id);
                match &entry.payload {
                    EntryPayload::Blank => CatalogueResponse::Done,
                    EntryPayload::Normal(cmd) => a.catalogue.apply(cmd),
                    EntryPayload::Membership(m) => {
                        a.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                        CatalogueResponse::Done
                    }
                }
            };
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        CatalogueSnapshotBuilder { store: self.store.clone(), shared: self.shared.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> io::Result<()> {
        let data = snapshot.into_inner();
        let catalogue = Catalogue::decode(&data).map_err(io::Error::other)?;
        let stored = StoredSnapshot { meta: meta.clone(), data };
        write_snapshot(&self.store, &stored).map_err(io::Error::other)?;
        let mut a = self.shared.write().expect("catalogue lock is never poisoned");
        a.catalogue = catalogue;
        a.last_applied = meta.last_log_id;
        a.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let snap = read_snapshot(&self.store).map_err(io::Error::other)?;
        Ok(snap.map(|s| Snapshot { meta: s.meta, snapshot: io::Cursor::new(s.data) }))
    }
}
