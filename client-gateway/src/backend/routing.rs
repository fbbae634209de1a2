//! Which partition a message goes to.
//!
//! The choice must be the same on every gateway and in every release, or a
//! retried publish could land in another partition and escape the
//! partition's `messageId` deduplication. So it is a fixed function, FNV-1a
//! (64-bit) of the key (or, without a key, of the `messageId`) modulo the
//! partition count, documented in `docs/protocol.md` for clients that want
//! to predict it.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The partition of a message with this id and optional key.
pub fn partition_for(message_id: &str, key: Option<&str>, partitions: u32) -> u32 {
    let partitions = u64::from(partitions.max(1));
    (fnv1a(key.unwrap_or(message_id).as_bytes()) % partitions) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_key_wins_over_the_id() {
        for p in [2, 3, 7, 16] {
            let k = partition_for("m-1", Some("customer-9"), p);
            for id in ["m-2", "m-3", "zzz"] {
                assert_eq!(partition_for(id, Some("customer-9"), p), k);
            }
        }
    }

    #[test]
    fn ids_spread_over_partitions() {
        let mut seen = [0u32; 8];
        for i in 0..800 {
            seen[partition_for(&format!("m-{i}"), None, 8) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
        assert_eq!(partition_for("x", None, 1), 0);
        assert_eq!(partition_for("x", None, 0), 0, "no division by zero");
    }
}
