//! Committed positions of one consumer group in one partition.
//!
//! Consumers commit either "everything up to N" or single offsets (a client
//! may finish messages out of order). The group's position is the lowest
//! offset not yet committed; offsets committed individually above it are kept
//! so they are not delivered again, and fold into the position as the gap
//! below them closes. The position never goes backwards.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// How many individually committed offsets above the position one consumer
/// may hold. Past that, single commits above the position are refused until
/// the gap closes, so one misbehaving client cannot grow a group's state
/// without bound.
pub const MAX_COMMITTED_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerState {
    /// Lowest offset not yet committed.
    pub committed: u64,
    /// Offsets above `committed` that were committed one by one.
    pub above: BTreeSet<u64>,
}

/// Storage format version of [`ConsumerState`].
pub const CONSUMER_FORMAT_V1: u8 = 1;

impl ConsumerState {
    /// Commits every offset `<= offset`.
    pub fn commit_up_to(&mut self, offset: u64) {
        let next = offset.saturating_add(1);
        if next > self.committed {
            self.committed = next;
            self.above = self.above.split_off(&next);
        }
        self.fold();
    }

    /// Commits one offset. Returns false when too many single commits are
    /// already pending above the position.
    pub fn commit_one(&mut self, offset: u64) -> bool {
        if offset < self.committed || self.above.contains(&offset) {
            return true;
        }
        if offset == self.committed {
            self.committed += 1;
            self.fold();
            return true;
        }
        if self.above.len() >= MAX_COMMITTED_ABOVE {
            return false;
        }
        self.above.insert(offset);
        true
    }

    /// Moves the position past offsets removed by retention.
    pub fn skip_to(&mut self, first_offset: u64) {
        if first_offset > self.committed {
            self.committed = first_offset;
            self.above = self.above.split_off(&first_offset);
            self.fold();
        }
    }

    /// Whether `offset` is committed (at or below the position, or singly).
    pub fn is_committed(&self, offset: u64) -> bool {
        offset < self.committed || self.above.contains(&offset)
    }

    fn fold(&mut self) {
        while self.above.remove(&self.committed) {
            self.committed += 1;
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![CONSUMER_FORMAT_V1];
        bincode::serialize_into(&mut out, self).expect("serializing to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, crate::partition::record::RecordDecodeError> {
        use crate::partition::record::RecordDecodeError;
        let (&version, body) = bytes.split_first().ok_or(RecordDecodeError::Empty)?;
        match version {
            CONSUMER_FORMAT_V1 => bincode::deserialize(body).map_err(RecordDecodeError::Corrupt),
            other => Err(RecordDecodeError::UnknownVersion(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_moves_forward_only() {
        let mut c = ConsumerState::default();
        c.commit_up_to(9);
        assert_eq!(c.committed, 10);
        c.commit_up_to(3);
        assert_eq!(c.committed, 10, "never backwards");
    }

    #[test]
    fn single_commits_fold_when_gap_closes() {
        let mut c = ConsumerState::default();
        assert!(c.commit_one(2));
        assert!(c.commit_one(1));
        assert_eq!(c.committed, 0);
        assert!(c.is_committed(2));
        assert!(!c.is_committed(0));
        assert!(c.commit_one(0));
        assert_eq!(c.committed, 3);
        assert!(c.above.is_empty());
    }

    #[test]
    fn up_to_absorbs_singles_and_folds_beyond() {
        let mut c = ConsumerState::default();
        c.commit_one(5);
        c.commit_one(6);
        c.commit_one(9);
        c.commit_up_to(4);
        assert_eq!(c.committed, 7);
        assert_eq!(c.above.iter().copied().collect::<Vec<_>>(), vec![9]);
    }

    #[test]
    fn bounded_singles() {
        let mut c = ConsumerState::default();
        for o in 1..=MAX_COMMITTED_ABOVE as u64 {
            assert!(c.commit_one(o));
        }
        assert!(!c.commit_one(MAX_COMMITTED_ABOVE as u64 + 5));
        assert!(c.commit_one(0), "closing the gap is always allowed");
        assert_eq!(c.committed, MAX_COMMITTED_ABOVE as u64 + 1);
    }

    #[test]
    fn skip_to_follows_retention() {
        let mut c = ConsumerState::default();
        c.commit_one(12);
        c.skip_to(12);
        assert_eq!(c.committed, 13);
    }

    #[test]
    fn codec_round_trip() {
        let mut c = ConsumerState::default();
        c.commit_one(4);
        assert_eq!(ConsumerState::decode(&c.encode()).expect("decodes"), c);
    }
}
