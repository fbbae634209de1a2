//! Key codecs of the node's RocksDB layout (see the `storage` module doc).
//!
//! All integers are big endian so that RocksDB's byte order is numeric order:
//! a group's keys are contiguous, and a group's log and records are sorted by
//! index and offset.

pub use zya_raftstore::keys::*;

pub const CF_SM: &str = "sm";
/// Records alone: see the `storage` module doc for why they have a family
/// of their own.
pub const CF_RECORDS: &str = "records";

pub const SM_META: u8 = 0;
pub const SM_RECORD: u8 = 1;
pub const SM_INDEX: u8 = 2;
pub const SM_CONSUMER: u8 = 3;

pub fn sm_meta_key(group: u64) -> [u8; 9] {
    meta_key(group, SM_META)
}

pub fn record_key(group: u64, offset: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&group.to_be_bytes());
    k[8] = SM_RECORD;
    k[9..].copy_from_slice(&offset.to_be_bytes());
    k
}

pub fn parse_record_key(group: u64, key: &[u8]) -> Option<u64> {
    if key.len() != 17 || key[..8] != group.to_be_bytes() || key[8] != SM_RECORD {
        return None;
    }
    Some(u64::from_be_bytes(key[9..].try_into().ok()?))
}

pub fn index_key(group: u64, message_id: &str) -> Vec<u8> {
    tagged_key(group, SM_INDEX, message_id.as_bytes())
}

pub fn consumer_key(group: u64, consumer: &str) -> Vec<u8> {
    tagged_key(group, SM_CONSUMER, consumer.as_bytes())
}

/// Prefix of every key of `group` with `tag` in the `sm` family (or, for
/// [`SM_RECORD`], in the records family).
pub fn sm_tag_prefix(group: u64, tag: u8) -> [u8; 9] {
    meta_key(group, tag)
}

/// Name part of an index or consumer key.
pub fn tagged_suffix(group: u64, tag: u8, key: &[u8]) -> Option<&[u8]> {
    if key.len() < 9 || key[..8] != group.to_be_bytes() || key[8] != tag {
        return None;
    }
    Some(&key[9..])
}

fn tagged_key(group: u64, tag: u8, name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + name.len());
    k.extend_from_slice(&group.to_be_bytes());
    k.push(tag);
    k.extend_from_slice(name);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_range_covers_all_its_keys() {
        let end = group_end(5);
        for k in [record_key(5, u64::MAX).to_vec(), index_key(5, "\u{10FFFF}"), consumer_key(5, "z")] {
            assert!(k.as_slice() >= group_prefix(5).as_slice());
            assert!(k < end);
        }
        assert!(record_key(6, 0).as_slice() >= end.as_slice());
    }

    #[test]
    fn records_sort_by_offset_and_parse_back() {
        assert!(record_key(3, 9) < record_key(3, 10));
        assert!(record_key(3, u64::MAX).as_slice() < index_key(3, "").as_slice());
        assert_eq!(parse_record_key(3, &record_key(3, 77)), Some(77));
        assert_eq!(parse_record_key(4, &record_key(3, 77)), None);
        assert_eq!(tagged_suffix(3, SM_INDEX, &index_key(3, "m-1")), Some(&b"m-1"[..]));
        assert_eq!(tagged_suffix(3, SM_CONSUMER, &index_key(3, "m-1")), None);
    }
}
