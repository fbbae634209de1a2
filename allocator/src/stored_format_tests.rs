//! The catalogue's Raft log must stay readable by later binaries. These
//! tests pin the stored bytes of a catalogue entry and of a membership entry
//! (openraft's own type, the one an openraft upgrade is likeliest to change)
//! and read them back. See also the node's `raft::stored_format_tests`.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, EntryPayload, LogId, Membership};
use zya_raftstore::log_store::{decode, encode};

use crate::catalogue::command::CatalogueCommand;
use crate::raft::CatalogueTypes;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

type Entry = openraft::alias::EntryOf<CatalogueTypes>;

fn entry(index: u64, payload: openraft::alias::EntryPayloadOf<CatalogueTypes>) -> Entry {
    Entry { log_id: LogId::new_term_index(2, index), payload }
}

fn membership() -> Membership<u64, BasicNode> {
    let voters: BTreeSet<u64> = [1, 2, 3].into();
    let nodes: BTreeMap<u64, BasicNode> = (1..=3).map(|i| (i, BasicNode::new(format!("127.0.0.1:700{i}")))).collect();
    Membership::new(vec![voters], nodes).expect("a valid membership")
}

const RESERVE_ENTRY: &str = "0102000000000000000500000000000000010000000300000004000000";
const MEMBERSHIP_ENTRY: &str = "01020000000000000001000000000000000200000001000000000000000300000000000000010000000000000002000000000000000300000000000000030000000000000001000000000000000e000000000000003132372e302e302e313a3730303102000000000000000e000000000000003132372e302e302e313a3730303203000000000000000e000000000000003132372e302e302e313a37303033";

#[test]
fn a_catalogue_entry_is_stored_as_pinned_and_reads_back() {
    let written = entry(5, EntryPayload::Normal(CatalogueCommand::ReserveGroupIds { count: 4 }));
    assert_eq!(hex(&encode(&written)), RESERVE_ENTRY);
    let read: Entry = decode(&unhex(RESERVE_ENTRY)).expect("pinned bytes decode");
    assert_eq!(read.log_id, written.log_id);
    assert!(matches!(read.payload, EntryPayload::Normal(CatalogueCommand::ReserveGroupIds { count: 4 })), "{read:?}");
}

#[test]
fn a_membership_entry_is_stored_as_pinned_and_reads_back() {
    let written = entry(1, EntryPayload::Membership(membership()));
    assert_eq!(hex(&encode(&written)), MEMBERSHIP_ENTRY);
    let read: Entry = decode(&unhex(MEMBERSHIP_ENTRY)).expect("pinned bytes decode");
    let EntryPayload::Membership(m) = read.payload else { panic!("not a membership entry: {read:?}") };
    assert_eq!(m, membership());
}
