//! The bytes this node stores for Raft must stay readable by later
//! binaries: log entries (with the partition commands inside), the vote, log
//! ids, the state machine's meta and the snapshot file header. These tests
//! pin the encoding to fixed bytes, and read them back. The bytes were
//! written by openraft 0.9 (with `single-term-leader`) and bincode, and
//! openraft 0.10 with the standard leader id reads and writes the same: a
//! node's data carries over the upgrade. An upgrade that changes the layout
//! (openraft 0.10's default leader-id mode would) fails here before it
//! misreads a real node's data.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openraft::{BasicNode, EntryPayload, Membership};
use zya_raftstore::log_store::{decode, encode};

use super::{Entry, LogId, SnapshotMeta, StoredMembership, TypeConfig};
use crate::partition::apply::PartitionMeta;
use crate::partition::{Command, CommitPosition, NewMessage};
use crate::storage::snapshot;
use crate::storage::state_machine::SmMeta;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

/// The node id is not part of a committed log id in standard Raft; it is
/// kept in the calls to show what 0.9's constructor took.
fn log_id(term: u64, _node: u64, index: u64) -> LogId {
    LogId::new_term_index(term, index)
}

type Vote = openraft::alias::VoteOf<TypeConfig>;

fn append_entry() -> Entry {
    let message = NewMessage {
        message_id: "m-1".into(),
        payload: b"hi".to_vec(),
        key: Some("k".into()),
        user: "alice".into(),
        device: "laptop".into(),
        timestamp: "2026-01-01T00:00:00Z".into(),
    };
    let command = Command::Append { messages: Arc::new(vec![message]), appended_at_ms: 1_700_000_000_000 };
    Entry { log_id: log_id(3, 7, 42), payload: EntryPayload::Normal(command) }
}

fn commit_entry() -> Entry {
    let command = Command::CommitOffset { consumer: "g".into(), position: CommitPosition::UpTo(9) };
    Entry { log_id: log_id(3, 7, 43), payload: EntryPayload::Normal(command) }
}

const APPEND_ENTRY: &str = "0103000000000000002a000000000000000100000000000000010000000000000003000000000000006d2d31020000000000000068690101000000000000006b0500000000000000616c69636506000000000000006c6170746f701400000000000000323032362d30312d30315430303a30303a30305a0068e5cf8b010000";
const COMMIT_ENTRY: &str =
    "0103000000000000002b000000000000000100000001000000010000000000000067000000000900000000000000";
const VOTE: &str = "01030000000000000001070000000000000001";
const LOG_ID: &str = "0103000000000000002a00000000000000";

#[test]
fn an_append_entry_is_stored_as_pinned_and_reads_back() {
    assert_eq!(hex(&encode(&append_entry())), APPEND_ENTRY);
    let read: Entry = decode(&unhex(APPEND_ENTRY)).expect("pinned bytes decode");
    assert_eq!(read.log_id, log_id(3, 7, 42));
    let EntryPayload::Normal(Command::Append { messages, appended_at_ms }) = read.payload else {
        panic!("not an append: {read:?}");
    };
    assert_eq!(appended_at_ms, 1_700_000_000_000);
    let expected = append_entry();
    let EntryPayload::Normal(Command::Append { messages: expected_messages, .. }) = expected.payload else {
        unreachable!("built as an append")
    };
    assert_eq!(messages, expected_messages);
}

#[test]
fn a_commit_entry_is_stored_as_pinned_and_reads_back() {
    assert_eq!(hex(&encode(&commit_entry())), COMMIT_ENTRY);
    let read: Entry = decode(&unhex(COMMIT_ENTRY)).expect("pinned bytes decode");
    assert_eq!(read.log_id, log_id(3, 7, 43));
    assert!(
        matches!(&read.payload, EntryPayload::Normal(Command::CommitOffset { consumer, position: CommitPosition::UpTo(9) }) if consumer == "g"),
        "{read:?}"
    );
}

#[test]
fn the_vote_and_log_ids_are_stored_as_pinned_and_read_back() {
    let vote = Vote::new_committed(3, 7);
    assert_eq!(hex(&encode(&vote)), VOTE);
    assert_eq!(decode::<Vote>(&unhex(VOTE)).expect("pinned vote decodes"), vote);
    assert_eq!(hex(&encode(&log_id(3, 7, 42))), LOG_ID);
    assert_eq!(decode::<LogId>(&unhex(LOG_ID)).expect("pinned log id decodes"), log_id(3, 7, 42));
}

fn sm_meta() -> SmMeta {
    let voters: BTreeSet<u64> = [1, 2, 3].into();
    let nodes: BTreeMap<u64, BasicNode> = (1..=3).map(|i| (i, BasicNode::new(format!("10.0.0.{i}:7000")))).collect();
    SmMeta {
        last_applied: Some(log_id(3, 7, 42)),
        membership: StoredMembership::new(
            Some(log_id(1, 1, 1)),
            Membership::new(vec![voters], nodes).expect("a valid membership"),
        ),
        partition: PartitionMeta { first_offset: 10, next_offset: 25, bytes: 1500 },
        installing: false,
    }
}

const SM_META: &str = "010103000000000000002a00000000000000010100000000000000010000000000000001000000000000000300000000000000010000000000000002000000000000000300000000000000030000000000000001000000000000000d0000000000000031302e302e302e313a3730303002000000000000000d0000000000000031302e302e302e323a3730303003000000000000000d0000000000000031302e302e302e333a373030300a000000000000001900000000000000dc0500000000000000";
/// The start of a snapshot file (`storage::snapshot`): "ZYASNAP1", the
/// meta's length (big-endian u32), then bincode of openraft's `SnapshotMeta`.
/// openraft 0.10 dropped the meta's snapshot id and writes it empty.
const SNAPSHOT_HEADER: &str = "5a5941534e415031000000b10103000000000000002a00000000000000010100000000000000010000000000000001000000000000000300000000000000010000000000000002000000000000000300000000000000030000000000000001000000000000000d0000000000000031302e302e302e313a3730303002000000000000000d0000000000000031302e302e302e323a3730303003000000000000000d0000000000000031302e302e302e333a373030300000000000000000";
/// The same header as openraft 0.9 wrote it, with the snapshot id "3-42-1":
/// snapshot files of a node from before the upgrade.
const SNAPSHOT_HEADER_V09: &str = "5a5941534e415031000000b70103000000000000002a00000000000000010100000000000000010000000000000001000000000000000300000000000000010000000000000002000000000000000300000000000000030000000000000001000000000000000d0000000000000031302e302e302e313a3730303002000000000000000d0000000000000031302e302e302e323a3730303003000000000000000d0000000000000031302e302e302e333a373030300600000000000000332d34322d31";

fn snapshot_meta() -> SnapshotMeta {
    SnapshotMeta { last_log_id: Some(log_id(3, 7, 42)), last_membership: sm_meta().membership }
}

#[test]
fn the_state_machine_meta_is_stored_as_pinned_and_reads_back() {
    assert_eq!(hex(&sm_meta().encode()), SM_META);
    let read = SmMeta::decode(&unhex(SM_META)).expect("pinned bytes decode");
    let want = sm_meta();
    assert_eq!(read.last_applied, want.last_applied);
    assert_eq!(read.membership, want.membership);
    assert_eq!(read.partition, want.partition);
    assert_eq!(read.installing, want.installing);
}

#[test]
fn the_snapshot_file_header_is_stored_as_pinned_and_reads_back() {
    assert_eq!(hex(&snapshot::header(&snapshot_meta())), SNAPSHOT_HEADER);
    let dir = tempfile::tempdir().expect("temp dir");
    for pinned in [SNAPSHOT_HEADER, SNAPSHOT_HEADER_V09] {
        let path = dir.path().join("pinned.snap");
        std::fs::write(&path, unhex(pinned)).expect("write the pinned header");
        let (read, _) = snapshot::read_meta(&path).expect("pinned header reads");
        assert_eq!(read, snapshot_meta());
    }
}
