//! Key codecs of the Raft log and metadata (see the crate doc).
//!
//! All integers are big endian so that RocksDB's byte order is numeric order:
//! a group's keys are contiguous and its log is sorted by index.

pub const CF_LOG: &str = "raft_log";
pub const CF_META: &str = "raft_meta";

/// Key of the process's identity in the default column family.
pub const NODE_IDENTITY_KEY: &[u8] = b"node-identity";

pub const META_VOTE: u8 = 1;
pub const META_COMMITTED: u8 = 2;
pub const META_PURGED: u8 = 3;
/// Free for users of the crate (the node keeps group descriptors here).
pub const META_DESCRIPTOR: u8 = 4;

/// Largest group id: `u64::MAX` is reserved so every group's key range has
/// an exclusive end that is itself a group prefix.
pub const MAX_GROUP_ID: u64 = u64::MAX - 1;

pub fn group_prefix(group: u64) -> [u8; 8] {
    group.to_be_bytes()
}

/// The first key after every key of `group` (exclusive end of its range).
pub fn group_end(group: u64) -> Vec<u8> {
    debug_assert!(group <= MAX_GROUP_ID, "group ids are validated at creation");
    group.saturating_add(1).to_be_bytes().to_vec()
}

pub fn log_key(group: u64, index: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&group.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Splits a log key into (group, index).
pub fn parse_log_key(key: &[u8]) -> Option<(u64, u64)> {
    let group = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let index = u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    (key.len() == 16).then_some((group, index))
}

pub fn meta_key(group: u64, tag: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&group.to_be_bytes());
    k[8] = tag;
    k
}

/// Group id of a `raft_meta` key with the given tag.
pub fn parse_meta_key(key: &[u8], tag: u8) -> Option<u64> {
    if key.len() != 9 || key[8] != tag {
        return None;
    }
    Some(u64::from_be_bytes(key[..8].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_group_then_index() {
        assert!(log_key(1, u64::MAX) < log_key(2, 0));
        assert!(log_key(1, 255) < log_key(1, 256));
        assert_eq!(parse_log_key(&log_key(7, 42)), Some((7, 42)));
        assert_eq!(parse_log_key(&[0; 15]), None);
    }

    #[test]
    fn group_range_covers_all_its_keys() {
        let end = group_end(5);
        assert!(log_key(5, u64::MAX).as_slice() < end.as_slice());
        assert!(meta_key(5, u8::MAX).as_slice() < end.as_slice());
        assert!(log_key(6, 0).as_slice() >= end.as_slice());
        assert!(group_end(MAX_GROUP_ID) > log_key(MAX_GROUP_ID, u64::MAX).to_vec());
        assert_eq!(parse_meta_key(&meta_key(9, META_DESCRIPTOR), META_DESCRIPTOR), Some(9));
        assert_eq!(parse_meta_key(&meta_key(9, META_VOTE), META_DESCRIPTOR), None);
    }
}
