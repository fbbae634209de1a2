//! openraft's state machine for one partition, on the node's RocksDB.
//!
//! `apply` runs the pure [`Applier`](crate::partition::apply::Applier) over
//! committed entries and writes all resulting mutations, with the new
//! last-applied log id, membership and counters, in one atomic batch: after a
//! crash the state machine is exactly at some applied prefix and openraft
//! re-applies the rest from the log.
//!
//! The batch bypasses the WAL. Everything it holds can be rebuilt from the
//! Raft log, whose entries are already in the WAL, so logging it again only
//! wrote each payload twice per replica: in an RF3 publish of 1 KiB
//! messages, software CRC32C of the WAL alone was 14 % of the busy CPU (and
//! a build that logged it, records in their own family, published 1 KiB
//! messages 15–30 % slower than one that did not).
//!
//! The records go to their own family, the meta and the rest to `sm`; the
//! store keeps the records durable at least as far as `sm` at every moment
//! (`zya_raftstore::unlogged`). After a crash the meta is therefore at some
//! applied prefix with all of its records, possibly plus records of entries
//! applied after it, which openraft re-applies from the committed log at
//! start, writing the same chunks again. The log below a snapshot is purged
//! only after the snapshot's build has flushed both families, so the
//! entries a restart must re-apply are never gone.
//!
//! [`PartitionReader`] is the read side for the node's services: committed
//! records by offset, consumer positions, and a watch of the counters that
//! wakes readers following the log.

use std::io;
use std::ops::ControlFlow;
use std::path::PathBuf;

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::keys::{self, CF_SM, SM_CONSUMER};
use super::records::{self, PendingChunks};
use super::snapshot;
use super::STATE_MACHINE_FAMILIES;
use super::{Store, StoreError};
use crate::partition::apply::{Applier, Lookup, Mutation, PartitionMeta};
use crate::partition::record::RecordRef;
use crate::partition::{CommandResponse, ConsumerState, Record};
use crate::raft::{LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig};

const SM_FORMAT_V1: u8 = 1;

/// Persistent state of the state machine besides the data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SmMeta {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    pub partition: PartitionMeta,
    /// A snapshot install began and has not finished: at start-up the
    /// current snapshot file is installed again.
    pub installing: bool,
}

impl SmMeta {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SM_FORMAT_V1];
        bincode::serialize_into(&mut out, self).expect("serializing to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((&SM_FORMAT_V1, body)) => bincode::deserialize(body)
                .map_err(|e| StoreError::Corrupt { what: "state machine meta", reason: e.to_string() }),
            _ => Err(StoreError::Corrupt { what: "state machine meta", reason: "unknown format".into() }),
        }
    }
}

/// Read access to one partition's committed data. Cheap to clone.
#[derive(Clone)]
pub struct PartitionReader {
    group: u64,
    store: Store,
    meta: watch::Receiver<PartitionMeta>,
}

impl PartitionReader {
    /// Counters as of the last applied batch.
    pub fn meta(&self) -> PartitionMeta {
        *self.meta.borrow()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A receiver that changes whenever entries are applied.
    pub fn watch(&self) -> watch::Receiver<PartitionMeta> {
        self.meta.clone()
    }

    /// Records in `[from, end)`, at most `max`. Offsets below the first
    /// retained one are never returned, even where their chunk remains.
    pub fn records(&self, from: u64, end: u64, max: usize) -> Result<Vec<(u64, Record)>, StoreError> {
        records::read(&self.store, self.group, from.max(self.meta().first_offset), end, max)
    }

    /// [`Self::records`] as a visit of borrowed records, until `visit` breaks.
    pub fn scan(
        &self,
        from: u64,
        end: u64,
        visit: impl FnMut(u64, RecordRef<'_>) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        records::scan(&self.store, self.group, from.max(self.meta().first_offset), end, visit)
    }

    /// The offset of a message id still in the partition.
    pub fn offset_of(&self, message_id: &str) -> Result<Option<u64>, StoreError> {
        DbLookup { store: &self.store, group: self.group }.offset_of(message_id)
    }

    pub fn consumer(&self, consumer: &str) -> Result<Option<ConsumerState>, StoreError> {
        DbLookup { store: &self.store, group: self.group }.consumer(consumer)
    }

    /// Every consumer group's state, by name.
    pub fn consumers(&self) -> Result<Vec<(String, ConsumerState)>, StoreError> {
        let prefix = keys::sm_tag_prefix(self.group, SM_CONSUMER);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::sm_tag_prefix(self.group, SM_CONSUMER + 1).to_vec());
        let it =
            self.store.db.iterator_cf_opt(self.store.cf(CF_SM), opts, IteratorMode::From(&prefix, Direction::Forward));
        let mut out = Vec::new();
        for item in it {
            let (key, value) = item.map_err(StoreError::rocks("read consumers"))?;
            let Some(name) = keys::tagged_suffix(self.group, SM_CONSUMER, &key) else { break };
            let state = ConsumerState::decode(&value)
                .map_err(|e| StoreError::Corrupt { what: "consumer state", reason: e.to_string() })?;
            out.push((String::from_utf8_lossy(name).into_owned(), state));
        }
        Ok(out)
    }
}

/// An index value: the offset, big endian.
fn decode_offset(value: Option<&[u8]>) -> Result<Option<u64>, StoreError> {
    value
        .map(|b| {
            let arr: [u8; 8] = b
                .try_into()
                .map_err(|_| StoreError::Corrupt { what: "message id index", reason: format!("{} bytes", b.len()) })?;
            Ok(u64::from_be_bytes(arr))
        })
        .transpose()
}

/// [`Lookup`] against the database.
struct DbLookup<'a> {
    store: &'a Store,
    group: u64,
}

impl Lookup for DbLookup<'_> {
    type Error = StoreError;

    fn offset_of(&self, message_id: &str) -> Result<Option<u64>, StoreError> {
        let v = self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_SM), keys::index_key(self.group, message_id))
            .map_err(StoreError::rocks("read index"))?;
        decode_offset(v.as_deref())
    }

    /// One MultiGet of keys sorted here, so that RocksDB does not sort
    /// them itself (`PrepareMultiGetKeys` was 2 % of a node's CPU in a
    /// pipelined RF3 publish profile).
    fn offsets_of(&self, message_ids: &[&str]) -> Result<Vec<Option<u64>>, StoreError> {
        let mut keys: Vec<(Vec<u8>, usize)> =
            message_ids.iter().enumerate().map(|(i, id)| (keys::index_key(self.group, id), i)).collect();
        keys.sort_unstable();
        let values = self.store.db.batched_multi_get_cf(self.store.cf(CF_SM), keys.iter().map(|(k, _)| k), true);
        let mut offsets = vec![None; message_ids.len()];
        for ((_, i), v) in keys.iter().zip(values) {
            offsets[*i] = decode_offset(v.map_err(StoreError::rocks("read index"))?.as_deref())?;
        }
        Ok(offsets)
    }

    fn consumer(&self, consumer: &str) -> Result<Option<ConsumerState>, StoreError> {
        let v = self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_SM), keys::consumer_key(self.group, consumer))
            .map_err(StoreError::rocks("read consumer"))?;
        v.map(|b| {
            ConsumerState::decode(&b).map_err(|e| StoreError::Corrupt { what: "consumer state", reason: e.to_string() })
        })
        .transpose()
    }

    fn records_in(&self, from: u64, to: u64) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(records::read(self.store, self.group, from, to, usize::MAX)?
            .into_iter()
            .map(|(_, r)| {
                let size = r.stored_size();
                (r.message_id, size)
            })
            .collect())
    }
}

pub struct StateMachineStore {
    group: u64,
    store: Store,
    state: SmMeta,
    meta_tx: watch::Sender<PartitionMeta>,
}

impl StateMachineStore {
    /// Opens the group's state machine, finishing an interrupted snapshot
    /// install first.
    pub fn open(store: Store, group: u64) -> Result<(Self, PartitionReader), StoreError> {
        let mut state = read_meta(&store, group)?;
        if state.installing {
            tracing::warn!(group, "finishing an interrupted snapshot install");
            state = load_current_snapshot(&store, group)?;
        }
        let (meta_tx, meta_rx) = watch::channel(state.partition);
        let reader = PartitionReader { group, store: store.clone(), meta: meta_rx };
        Ok((Self { group, store, state, meta_tx }, reader))
    }

    fn new_snapshot_id(&self) -> String {
        let applied = self.state.last_applied.map(|l| format!("{}-{}", l.leader_id.term, l.index)).unwrap_or_default();
        format!("{applied}-{:08x}", rand::random::<u32>())
    }
}

/// Builds snapshots on a task of openraft's while entries keep applying.
pub struct SnapshotBuilder {
    group: u64,
    store: Store,
    snapshot_id: String,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let (store, group, id) = (self.store.clone(), self.group, self.snapshot_id.clone());
        let built = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let meta = snapshot::build(&store, group, id)?;
            // The applied state the snapshot was read at must be durable
            // before openraft purges the log below it; it was written
            // without the WAL, so flush it (after reading: the flush then
            // covers at least that state).
            store.flush_unlogged(&STATE_MACHINE_FAMILIES)?;
            Ok((meta, snapshot::current_path(&store, group)))
        })
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
        let (Some(meta), path) = built else {
            return Err(io::Error::other(StoreError::Corrupt {
                what: "snapshot",
                reason: "nothing applied yet".into(),
            }));
        };
        let file = tokio::fs::File::open(&path).await?;
        Ok(Snapshot { meta, snapshot: file })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    /// Applies the entries of one apply call in one batch (the stream is
    /// finite: the committed range openraft asks for, read from the kept
    /// entries or RocksDB) and answers their writers.
    async fn apply<S>(&mut self, entries: S) -> io::Result<()>
    where
        S: Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        let (entries, responders): (Vec<_>, Vec<_>) = entries.try_collect::<Vec<_>>().await?.into_iter().unzip();
        let responses = self.apply_batch(entries)?;
        for (responder, response) in responders.into_iter().zip(responses) {
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { group: self.group, store: self.store.clone(), snapshot_id: self.new_snapshot_id() }
    }

    /// Installs a snapshot received whole into the group's incoming file
    /// (see [`IncomingSnapshot`]).
    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> io::Result<()> {
        if meta.last_log_id <= self.state.last_applied {
            tracing::info!(group = self.group, snapshot = %meta, "snapshot not newer than applied state; ignored");
            return Ok(());
        }
        drop(snapshot);
        let incoming = incoming_path(snapshot::group_dir(&self.store, self.group));
        let (store, group) = (self.store.clone(), self.group);
        let mut marker = self.state.clone();
        marker.installing = true;
        let installed = tokio::task::spawn_blocking(move || -> Result<SmMeta, StoreError> {
            snapshot::publish(&store, group, &incoming)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(store.cf(CF_SM), keys::sm_meta_key(group), marker.encode());
            store.write_synced(batch)?;
            load_current_snapshot(&store, group)
        })
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
        tracing::info!(group = self.group, snapshot = %meta, next_offset = installed.partition.next_offset, "installed snapshot");
        self.state = installed;
        self.meta_tx.send_replace(self.state.partition);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let path = snapshot::current_path(&self.store, self.group);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(None);
        }
        let p = path.clone();
        let meta = tokio::task::spawn_blocking(move || snapshot::read_meta(&p).map(|(m, _)| m))
            .await
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        let file = tokio::fs::File::open(&path).await?;
        Ok(Some(Snapshot { meta, snapshot: file }))
    }
}

impl StateMachineStore {
    /// Applies committed entries in one atomic batch (see the module doc).
    pub(crate) fn apply_batch(
        &mut self,
        entries: Vec<openraft::alias::EntryOf<TypeConfig>>,
    ) -> io::Result<Vec<CommandResponse>> {
        let lookup = DbLookup { store: &self.store, group: self.group };
        let mut applier = Applier::new(&lookup, self.state.partition);
        let mut responses = Vec::with_capacity(entries.len());
        let mut last_applied = self.state.last_applied;
        let mut membership = None;
        for entry in entries {
            last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => CommandResponse::None,
                EntryPayload::Normal(cmd) => applier.apply(cmd).map_err(io::Error::other)?,
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    CommandResponse::None
                }
            };
            responses.push(response);
        }
        let (mutations, partition) = applier.finish();
        let mut new_state = self.state.clone();
        new_state.last_applied = last_applied;
        new_state.partition = partition;
        if let Some(m) = membership {
            new_state.membership = m;
        }
        let cf = self.store.cf(CF_SM);
        let g = self.group;
        let mut batch = WriteBatch::default();
        let mut chunks = PendingChunks::default();
        for m in mutations {
            match m {
                Mutation::PutRecords { first_offset, records } => {
                    chunks.put(&mut batch, &self.store, g, first_offset, &records)
                }
                Mutation::PutIndex { message_id, offset } => {
                    batch.put_cf(cf, keys::index_key(g, &message_id), offset.to_be_bytes())
                }
                Mutation::DeleteIndex { message_id } => batch.delete_cf(cf, keys::index_key(g, &message_id)),
                Mutation::DeleteRecords { to, .. } => {
                    chunks.delete_below(&mut batch, &self.store, g, to).map_err(io::Error::other)?
                }
                Mutation::PutConsumer { consumer, state } => {
                    batch.put_cf(cf, keys::consumer_key(g, &consumer), state.encode())
                }
            }
        }
        batch.put_cf(cf, keys::sm_meta_key(g), new_state.encode());
        self.store.write_unlogged(batch).map_err(io::Error::other)?;
        self.state = new_state;
        self.meta_tx.send_replace(partition);
        Ok(responses)
    }
}

/// The group's state machine meta as stored (the default before anything
/// was applied).
fn read_meta(store: &Store, group: u64) -> Result<SmMeta, StoreError> {
    let bytes =
        store.db.get_cf(store.cf(CF_SM), keys::sm_meta_key(group)).map_err(StoreError::rocks("read sm meta"))?;
    Ok(bytes.map(|b| SmMeta::decode(&b)).transpose()?.unwrap_or_default())
}

/// Loads the group's current snapshot file into its state machine, makes
/// that durable, and returns the meta it left.
fn load_current_snapshot(store: &Store, group: u64) -> Result<SmMeta, StoreError> {
    snapshot::load(store, group, &snapshot::current_path(store, group))?;
    store.sync_wal()?;
    read_meta(store, group)
}

/// The one file a group receives a snapshot into; a group receives one
/// snapshot at a time.
fn incoming_path(dir: PathBuf) -> PathBuf {
    dir.join("incoming.snap")
}

/// A snapshot being received from the leader: the group's incoming file,
/// synced when the last chunk is written, then installed from its path.
pub struct IncomingSnapshot {
    file: tokio::io::BufWriter<tokio::fs::File>,
}

impl IncomingSnapshot {
    pub async fn create(store: &Store, group: u64) -> io::Result<Self> {
        let dir = snapshot::group_dir(store, group);
        tokio::fs::create_dir_all(&dir).await?;
        let file = tokio::fs::File::create(incoming_path(dir)).await?;
        Ok(Self { file: tokio::io::BufWriter::with_capacity(1 << 20, file) })
    }
}

impl zya_raftstore::SnapshotSink for IncomingSnapshot {
    type Data = SnapshotData;

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes).await
    }

    async fn finish(mut self) -> io::Result<SnapshotData> {
        self.file.flush().await?;
        let file = self.file.into_inner();
        file.sync_all().await?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use crate::raft::Entry;

    use crate::partition::{Command, CommandResponse, NewMessage};
    use crate::storage::{StateMachineStore, Store, NODE_COLUMN_FAMILIES};

    fn append(index: u64, ids: &[&str]) -> Entry {
        let messages = ids
            .iter()
            .map(|id| NewMessage {
                message_id: id.to_string(),
                payload: b"p".to_vec(),
                key: None,
                user: "u".into(),
                device: "d".into(),
                timestamp: String::new(),
            })
            .collect();
        Entry {
            log_id: openraft::LogId::new_term_index(1, index),
            payload: EntryPayload::Normal(Command::Append {
                messages: std::sync::Arc::new(messages),
                appended_at_ms: 1,
            }),
        }
    }

    /// The id lookup sorts its keys for one MultiGet; each answer must still
    /// reach the message it belongs to, whatever order the ids came in.
    #[tokio::test]
    async fn duplicates_are_found_for_ids_in_any_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &NODE_COLUMN_FAMILIES).expect("open store");
        let (mut sm, _reader) = StateMachineStore::open(store, 1).expect("open group 1");
        sm.apply_batch(vec![append(1, &["c", "a", "e"])]).expect("apply");
        let r = sm.apply_batch(vec![append(2, &["z", "e", "b", "a", "y", "c"])]).expect("apply");
        let CommandResponse::Appended(results) = &r[0] else { panic!("unexpected response {r:?}") };
        let got: Vec<(u64, bool)> = results.iter().map(|o| (o.offset, o.duplicate)).collect();
        assert_eq!(got, vec![(3, false), (2, true), (4, false), (1, true), (5, false), (0, true)]);
    }
}
