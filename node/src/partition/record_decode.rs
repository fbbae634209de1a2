//! Reading stored records without serde: the borrowed decoder of
//! `record`'s formats.
//!
//! A catch-up read decodes every record it sends. Through serde, bincode
//! spent about a third of a node's CPU in such a read of 128 B messages
//! (`deserialize_str`, `deserialize_struct`, `next_element`, UTF-8 checks:
//! ~10 % of all samples of the machine, client included). The layout is
//! bincode 1's fixed-width one and never changes within a format version,
//! so it is read here by hand: lengths and integers little endian, `u32`
//! enum tags, `u8` option tags. Strings are still checked to be UTF-8.
//! `record`'s tests check this decoder against the serde encoder.

use super::record::{RecordDecodeError, RecordKind, RecordRef};

/// Smallest encoded record: the kind, the lengths of five empty text and
/// byte fields, three absent options' tags, `appended_at_ms`. Bounds the
/// capacity reserved for a chunk's claimed count.
const MIN_RECORD_BYTES: usize = 4 + 5 * 8 + 3 + 8;

/// Records encoded back to back (bincode's `Vec` body, after its count).
pub fn records(mut body: &[u8], count: u64) -> Result<Vec<RecordRef<'_>>, RecordDecodeError> {
    let capacity = usize::try_from(count).unwrap_or(usize::MAX).min(body.len() / MIN_RECORD_BYTES + 1);
    let mut out = Vec::with_capacity(capacity);
    for _ in 0..count {
        out.push(record(&mut body)?);
    }
    Ok(out)
}

/// One record from the front of `input`, which is advanced past it.
pub fn record<'a>(input: &mut &'a [u8]) -> Result<RecordRef<'a>, RecordDecodeError> {
    let kind = match u32::from_le_bytes(array(input)?) {
        0 => RecordKind::Message,
        1 => RecordKind::Transactional,
        _ => return Err(RecordDecodeError::Malformed("unknown record kind")),
    };
    Ok(RecordRef {
        kind,
        message_id: text(input)?,
        payload: bytes(input)?,
        key: option(input, text)?,
        user: text(input)?,
        device: text(input)?,
        timestamp: text(input)?,
        appended_at_ms: i64::from_le_bytes(array(input)?),
        transaction_id: option(input, text)?,
        hash: option(input, array::<32>)?,
    })
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], RecordDecodeError> {
    if input.len() < n {
        return Err(RecordDecodeError::Malformed("record cut short"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], RecordDecodeError> {
    Ok(take(input, N)?.try_into().expect("took N bytes"))
}

fn bytes<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], RecordDecodeError> {
    let len = u64::from_le_bytes(array(input)?);
    take(input, usize::try_from(len).map_err(|_| RecordDecodeError::Malformed("record cut short"))?)
}

fn text<'a>(input: &mut &'a [u8]) -> Result<&'a str, RecordDecodeError> {
    std::str::from_utf8(bytes(input)?).map_err(|_| RecordDecodeError::Malformed("a text field is not UTF-8"))
}

fn option<'a, T>(
    input: &mut &'a [u8],
    read: impl FnOnce(&mut &'a [u8]) -> Result<T, RecordDecodeError>,
) -> Result<Option<T>, RecordDecodeError> {
    match take(input, 1)?[0] {
        0 => Ok(None),
        1 => read(input).map(Some),
        _ => Err(RecordDecodeError::Malformed("bad option tag")),
    }
}
