//! The stored form of one message, versioned.
//!
//! A record is written once and read for as long as retention keeps it, by
//! binaries newer than the one that wrote it. So the bytes on disk are our own
//! type, never a protobuf or JSON protocol type, and start with a format
//! version. Version 1 already carries the fields transactions and audited
//! topics need (`kind`, `transaction_id`, `hash`), so those features arrive
//! without rewriting stored data; a future version adds a decoder arm that
//! upgrades older records as they are read.
//!
//! ```text
//! [ format version: u8 = 1 ][ bincode(RecordV1) ]                 one record
//! [ format version: u8 = 2 ][ u64 LE count ][ count × RecordV1 ]   a chunk
//! ```
//!
//! A chunk holds the records of one append entry at consecutive offsets,
//! stored under the first one's key. Storing each message under its own key
//! made a pipelined publish insert one more key per message into RocksDB's
//! memtable on every replica; with a chunk it is one key per entry (the
//! skip-list inserts and their key comparisons were the largest share of a
//! profile of the publish path). A version-1 value reads as a chunk of one.

use serde::{Deserialize, Serialize};

use super::record_decode;

/// Format version of a single stored record.
pub const RECORD_FORMAT_V1: u8 = 1;
/// Format version of a chunk of records at consecutive offsets.
pub const CHUNK_FORMAT_V2: u8 = 2;

/// What a record at an offset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKind {
    /// A message published outside any transaction: visible once committed
    /// by Raft.
    Message,
    /// A message written inside a transaction, visible to `committed`
    /// readers only once its transaction commits.
    Transactional,
}

/// One message at one offset of a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub kind: RecordKind,
    pub message_id: String,
    /// Encoded as bytes (see `NewMessage::payload`).
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub key: Option<String>,
    /// Publisher's authenticated user.
    pub user: String,
    pub device: String,
    /// Client timestamp (RFC 3339), informational.
    pub timestamp: String,
    /// Leader's wall clock when the entry was proposed (ms since the epoch);
    /// the same on every replica because it travels in the Raft entry.
    pub appended_at_ms: i64,
    pub transaction_id: Option<String>,
    /// Hash chain link for audited topics: SHA-256 over the previous hash and
    /// this record's canonical fields.
    pub hash: Option<[u8; 32]>,
}

/// A [`Record`] borrowed from the stored bytes it was decoded from: reads
/// that only copy records onward (a catch-up read) allocate nothing per
/// record. Decoded by `record_decode`, field for field `Record`'s layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub kind: RecordKind,
    pub message_id: &'a str,
    pub payload: &'a [u8],
    pub key: Option<&'a str>,
    pub user: &'a str,
    pub device: &'a str,
    pub timestamp: &'a str,
    pub appended_at_ms: i64,
    pub transaction_id: Option<&'a str>,
    pub hash: Option<[u8; 32]>,
}

impl RecordRef<'_> {
    pub fn to_record(&self) -> Record {
        Record {
            kind: self.kind,
            message_id: self.message_id.to_owned(),
            payload: self.payload.to_vec(),
            key: self.key.map(str::to_owned),
            user: self.user.to_owned(),
            device: self.device.to_owned(),
            timestamp: self.timestamp.to_owned(),
            appended_at_ms: self.appended_at_ms,
            transaction_id: self.transaction_id.map(str::to_owned),
            hash: self.hash,
        }
    }
}

/// A stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordDecodeError {
    #[error("empty record")]
    Empty,
    #[error("unknown record format version {0}")]
    UnknownVersion(u8),
    #[error("corrupt record body")]
    Corrupt(#[source] bincode::Error),
    #[error("record breaks an invariant: {0}")]
    Invalid(&'static str),
    #[error("corrupt record: {0}")]
    Malformed(&'static str),
}

impl Record {
    /// Encoded length of the payload and metadata, used for size retention.
    pub fn stored_size(&self) -> u64 {
        (self.payload.len()
            + self.message_id.len()
            + self.user.len()
            + self.device.len()
            + self.timestamp.len()
            + self.key.as_ref().map_or(0, String::len)
            + 48) as u64
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 96);
        out.push(RECORD_FORMAT_V1);
        bincode::serialize_into(&mut out, self).expect("serializing to a Vec cannot fail");
        out
    }

    /// Decodes a single record (version 1); a chunk is not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordDecodeError> {
        match bytes.first() {
            Some(&RECORD_FORMAT_V1) => Ok(decode_chunk_ref(bytes)?[0].to_record()),
            Some(&other) => Err(RecordDecodeError::UnknownVersion(other)),
            None => Err(RecordDecodeError::Empty),
        }
    }
}

/// Encodes records at consecutive offsets as one stored value.
pub fn encode_chunk(records: &[Record]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| r.payload.len() + 96).sum();
    let mut out = Vec::with_capacity(size + 9);
    out.push(CHUNK_FORMAT_V2);
    // bincode's Vec encoding starts with the u64 LE length: the count.
    bincode::serialize_into(&mut out, records).expect("serializing to a Vec cannot fail");
    out
}

/// Number of records in a stored value, read from its header only.
pub fn chunk_len(bytes: &[u8]) -> Result<u64, RecordDecodeError> {
    let (&version, body) = bytes.split_first().ok_or(RecordDecodeError::Empty)?;
    match version {
        RECORD_FORMAT_V1 => Ok(1),
        CHUNK_FORMAT_V2 => body
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or(RecordDecodeError::Invalid("chunk shorter than its header")),
        other => Err(RecordDecodeError::UnknownVersion(other)),
    }
}

/// Decodes a stored value: a chunk, or a single record as a chunk of one.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Record>, RecordDecodeError> {
    Ok(decode_chunk_ref(bytes)?.iter().map(RecordRef::to_record).collect())
}

/// [`decode_chunk`], borrowing the records' fields from `bytes`.
pub fn decode_chunk_ref(bytes: &[u8]) -> Result<Vec<RecordRef<'_>>, RecordDecodeError> {
    let (&version, mut body) = bytes.split_first().ok_or(RecordDecodeError::Empty)?;
    match version {
        RECORD_FORMAT_V1 => Ok(vec![record_decode::record(&mut body)?]),
        CHUNK_FORMAT_V2 => {
            let count = chunk_len(bytes)?;
            if count == 0 {
                return Err(RecordDecodeError::Invalid("empty chunk"));
            }
            record_decode::records(&body[8..], count)
        }
        other => Err(RecordDecodeError::UnknownVersion(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            kind: RecordKind::Message,
            message_id: "m-1".into(),
            payload: b"hello".to_vec(),
            key: Some("k".into()),
            user: "alice".into(),
            device: "laptop".into(),
            timestamp: "2026-11-28T00:00:00Z".into(),
            appended_at_ms: 1_790_000_000_000,
            transaction_id: None,
            hash: Some([7; 32]),
        }
    }

    #[test]
    fn round_trips() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(bytes[0], RECORD_FORMAT_V1);
        assert_eq!(Record::decode(&bytes).expect("decodes"), r);
    }

    #[test]
    fn rejects_unknown_version_and_garbage() {
        let mut bytes = sample().encode();
        bytes[0] = 9;
        assert!(matches!(Record::decode(&bytes), Err(RecordDecodeError::UnknownVersion(9))));
        assert!(matches!(Record::decode(&[]), Err(RecordDecodeError::Empty)));
        assert!(matches!(Record::decode(&[1, 0xff]), Err(RecordDecodeError::Malformed(_))));
    }

    /// Payloads written before they were encoded as bytes read the same.
    #[test]
    fn payload_bytes_encode_as_the_former_sequence_of_u8() {
        let payload = vec![0u8, 1, 255, 7];
        let as_seq = bincode::serialize(&payload).expect("encodes");
        let as_bytes = bincode::serialize(serde_bytes::Bytes::new(&payload)).expect("encodes");
        assert_eq!(as_seq, as_bytes);
    }

    #[test]
    fn chunks_round_trip_and_single_records_read_as_chunks() {
        let mut second = sample();
        second.message_id = "m-2".into();
        let chunk = encode_chunk(&[sample(), second.clone()]);
        assert_eq!(chunk[0], CHUNK_FORMAT_V2);
        assert_eq!(chunk_len(&chunk).expect("header"), 2);
        assert_eq!(decode_chunk(&chunk).expect("decodes"), vec![sample(), second]);
        let single = sample().encode();
        assert_eq!(chunk_len(&single).expect("header"), 1);
        assert_eq!(decode_chunk(&single).expect("decodes"), vec![sample()]);
        assert!(matches!(decode_chunk(&encode_chunk(&[])), Err(RecordDecodeError::Invalid(_))));
        assert!(matches!(chunk_len(&[2, 1]), Err(RecordDecodeError::Invalid(_))));
        assert!(matches!(decode_chunk(&[3]), Err(RecordDecodeError::UnknownVersion(3))));
    }

    /// The borrowed decoder reads the owned layout: every field, with the
    /// optional ones present and absent, in chunks and single records.
    #[test]
    fn borrowed_records_read_the_same_fields() {
        let bare = Record {
            kind: RecordKind::Transactional,
            key: None,
            hash: None,
            transaction_id: Some("tx-1".into()),
            payload: Vec::new(),
            ..sample()
        };
        let chunk = encode_chunk(&[sample(), bare.clone()]);
        let borrowed = decode_chunk_ref(&chunk).expect("decodes");
        assert_eq!(borrowed.iter().map(RecordRef::to_record).collect::<Vec<_>>(), vec![sample(), bare]);
        let single = sample().encode();
        assert_eq!(decode_chunk_ref(&single).expect("decodes")[0].to_record(), sample());
        assert!(matches!(decode_chunk_ref(&chunk[..chunk.len() - 1]), Err(RecordDecodeError::Malformed(_))));
    }

    /// Damage reads as an error, never a panic or a huge allocation: a
    /// chunk cut anywhere, a count larger than the bytes hold, text that is
    /// not UTF-8, an unknown kind or option tag.
    #[test]
    fn damaged_chunks_are_errors() {
        let chunk = encode_chunk(&[sample(), sample()]);
        for cut in 0..chunk.len() {
            assert!(decode_chunk_ref(&chunk[..cut]).is_err(), "cut at {cut}");
        }
        let damaged = |at: usize, bytes: &[u8]| {
            let mut c = chunk.clone();
            c[at..at + bytes.len()].copy_from_slice(bytes);
            c
        };
        // [version][count: 8][kind: 4][id length: 8]["m-1"][payload length: 8]...
        let malformed = |c: Vec<u8>| matches!(decode_chunk_ref(&c), Err(RecordDecodeError::Malformed(_)));
        assert!(malformed(damaged(1, &u64::MAX.to_le_bytes())));
        assert!(malformed(damaged(9, &[7])));
        assert!(malformed(damaged(21, &[0xff])));
        let key_tag = 1 + 8 + 4 + 8 + 3 + 8 + 5;
        assert_eq!(chunk[key_tag], 1, "the sample has a key");
        assert!(malformed(damaged(key_tag, &[2])));
    }
}
