//! A `ReadReply` the node writes field by field, straight from stored bytes.
//!
//! A catch-up read is the node copying stored records to a socket. Built
//! the generated way, every message is first decoded into owned strings and
//! vectors, moved into a `StoredMessage` and then encoded by prost: in a
//! profile of a 1 KiB catch-up, that decode and encode (allocations, bincode,
//! `encoded_len`, copies) was most of the serving node's own work. Here the
//! node appends each message's protobuf bytes to one buffer while it still
//! borrows them from the store, and the reply's encoding is that buffer.
//!
//! On the wire it is exactly a `ReadReply` (the same bytes prost writes, as
//! the tests check), so clients decode it with the generated type. Only the
//! node's server half uses this type, through `build.rs`'s extern path.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, encode_key, encode_varint, encoded_len_varint, key_len, DecodeContext, WireType};
use prost::DecodeError;

/// The fields of one `StoredMessage`, borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredMessageRef<'a> {
    pub offset: u64,
    pub message_id: &'a str,
    pub payload: &'a [u8],
    pub key: Option<&'a str>,
    pub user: &'a str,
    pub device: &'a str,
    pub timestamp: &'a str,
    pub appended_at_ms: i64,
    pub transaction_id: Option<&'a str>,
    pub hash: Option<&'a [u8]>,
}

/// A `ReadReply` whose messages are already encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReplyWire {
    /// Each message as field 1 of `ReadReply`: key, length, `StoredMessage`.
    messages: Vec<u8>,
    count: usize,
    pub first_offset: u64,
    pub next_offset: u64,
}

/// Tag of `ReadReply.messages`.
const MESSAGES: u32 = 1;

impl ReadReplyWire {
    /// An empty reply with room for `bytes` of encoded messages.
    pub fn with_capacity(bytes: usize) -> Self {
        Self { messages: Vec::with_capacity(bytes), ..Self::default() }
    }

    /// Appends one message.
    pub fn push(&mut self, m: &StoredMessageRef<'_>) {
        let len = stored_len(m);
        let out = &mut self.messages;
        out.reserve(key_len(MESSAGES) + encoded_len_varint(len as u64) + len);
        encode_key(MESSAGES, WireType::LengthDelimited, out);
        encode_varint(len as u64, out);
        put_varint(1, m.offset, out);
        put_bytes(2, m.message_id.as_bytes(), out);
        put_bytes(3, m.payload, out);
        put_optional(4, m.key.map(str::as_bytes), out);
        put_bytes(5, m.user.as_bytes(), out);
        put_bytes(6, m.device.as_bytes(), out);
        put_bytes(7, m.timestamp.as_bytes(), out);
        // int64 is the two's complement as a varint, as prost writes it.
        put_varint(8, m.appended_at_ms as u64, out);
        put_optional(9, m.transaction_id.map(str::as_bytes), out);
        put_optional(10, m.hash, out);
        self.count += 1;
    }

    /// Messages pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded bytes of the messages pushed so far.
    pub fn bytes(&self) -> usize {
        self.messages.len()
    }
}

/// Encoded length of a `StoredMessage`, without its own key and length.
fn stored_len(m: &StoredMessageRef<'_>) -> usize {
    varint_len(1, m.offset)
        + bytes_len(2, m.message_id.len())
        + bytes_len(3, m.payload.len())
        + optional_len(4, m.key.map(str::len))
        + bytes_len(5, m.user.len())
        + bytes_len(6, m.device.len())
        + bytes_len(7, m.timestamp.len())
        + varint_len(8, m.appended_at_ms as u64)
        + optional_len(9, m.transaction_id.map(str::len))
        + optional_len(10, m.hash.map(<[u8]>::len))
}

// proto3: a plain scalar or string equal to its default is not written; an
// `optional` one is written whenever it is present, even when empty.

fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

fn bytes_len(tag: u32, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        delimited_len(tag, len)
    }
}

fn optional_len(tag: u32, len: Option<usize>) -> usize {
    len.map_or(0, |len| delimited_len(tag, len))
}

fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

fn put_bytes(tag: u32, v: &[u8], out: &mut Vec<u8>) {
    if !v.is_empty() {
        put_delimited(tag, v, out);
    }
}

fn put_optional(tag: u32, v: Option<&[u8]>, out: &mut Vec<u8>) {
    if let Some(v) = v {
        put_delimited(tag, v, out);
    }
}

fn put_delimited(tag: u32, v: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(v.len() as u64, out);
    out.extend_from_slice(v);
}

impl prost::Message for ReadReplyWire {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.messages);
        if self.first_offset != 0 {
            encoding::uint64::encode(2, &self.first_offset, buf);
        }
        if self.next_offset != 0 {
            encoding::uint64::encode(3, &self.next_offset, buf);
        }
    }

    /// Decoding keeps each message encoded, so a reply read back (in tests,
    /// or by a relay) re-encodes to the same bytes.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            MESSAGES => {
                let mut message = Vec::new();
                encoding::bytes::merge(wire_type, &mut message, buf, ctx)?;
                put_delimited(MESSAGES, &message, &mut self.messages);
                self.count += 1;
                Ok(())
            }
            2 => encoding::uint64::merge(wire_type, &mut self.first_offset, buf, ctx),
            3 => encoding::uint64::merge(wire_type, &mut self.next_offset, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        self.messages.len() + varint_len(2, self.first_offset) + varint_len(3, self.next_offset)
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::node::{ReadReply, StoredMessage};

    fn samples() -> Vec<StoredMessage> {
        let full = StoredMessage {
            offset: 300,
            message_id: "m-1".into(),
            payload: vec![7; 1024].into(),
            key: Some("k".into()),
            user: "alice".into(),
            device: "laptop".into(),
            timestamp: "2026-11-28T00:00:00Z".into(),
            appended_at_ms: 1_790_000_000_000,
            transaction_id: Some("tx".into()),
            hash: Some(vec![9; 32]),
        };
        // Every field at its default; optional fields present but empty;
        // a negative int64 (ten varint bytes).
        let empty = StoredMessage::default();
        let present_but_empty = StoredMessage {
            key: Some(String::new()),
            transaction_id: Some(String::new()),
            hash: Some(Vec::new()),
            appended_at_ms: -5,
            ..StoredMessage::default()
        };
        let big = StoredMessage { offset: u64::MAX - 1, payload: vec![1; 200_000].into(), ..full.clone() };
        vec![full, empty, present_but_empty, big]
    }

    fn borrowed(m: &StoredMessage) -> StoredMessageRef<'_> {
        StoredMessageRef {
            offset: m.offset,
            message_id: &m.message_id,
            payload: &m.payload,
            key: m.key.as_deref(),
            user: &m.user,
            device: &m.device,
            timestamp: &m.timestamp,
            appended_at_ms: m.appended_at_ms,
            transaction_id: m.transaction_id.as_deref(),
            hash: m.hash.as_deref(),
        }
    }

    /// The reply written field by field is byte for byte the one prost
    /// writes for the generated type, so it also decodes as that type.
    #[test]
    fn encodes_exactly_as_the_generated_read_reply() {
        for (first_offset, next_offset) in [(0, 0), (3, 900), (u64::MAX, 1)] {
            let messages = samples();
            let mut wire = ReadReplyWire::default();
            for m in &messages {
                wire.push(&borrowed(m));
            }
            wire.first_offset = first_offset;
            wire.next_offset = next_offset;
            assert_eq!(wire.len(), messages.len());
            let generated = ReadReply { messages, first_offset, next_offset };
            let bytes = wire.encode_to_vec();
            assert_eq!(bytes.len(), wire.encoded_len());
            assert_eq!(bytes, generated.encode_to_vec());
            assert_eq!(ReadReply::decode(bytes.as_slice()).expect("decodes"), generated);
        }
    }

    #[test]
    fn an_empty_reply_is_the_empty_read_reply() {
        let wire = ReadReplyWire::default();
        assert!(wire.is_empty());
        assert_eq!(wire.encode_to_vec(), ReadReply::default().encode_to_vec());
    }

    /// Decoding keeps messages encoded: a generated reply read as the wire
    /// type encodes back to the same bytes.
    #[test]
    fn decodes_a_generated_reply_and_encodes_it_back() {
        let generated = ReadReply { messages: samples(), first_offset: 1, next_offset: 2 };
        let bytes = generated.encode_to_vec();
        let wire = ReadReplyWire::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(wire.len(), 4);
        assert_eq!(wire.encode_to_vec(), bytes);
        let truncated = &bytes[..bytes.len() / 2];
        assert!(ReadReplyWire::decode(truncated).is_err());
    }
}
