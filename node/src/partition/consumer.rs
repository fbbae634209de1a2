//! Committed positions of one consumer group in one partition.
//!
//! Consumers commit either "everything up to N" or single offsets (a client
//! may finish messages out of order). The group's position is the lowest
//! offset not yet committed; offsets committed individually above it are kept
//! so they are not delivered again, and fold into the position as the gap
//! below them closes. The position never goes backwards.
//!
//! The state also counts deliveries of the offsets not yet committed (see
//! [`super::deliveries`]); counts below the position are dropped whenever it
//! advances, as those offsets are never delivered again.
//!
//! ```text
//! V1: [1][ bincode { committed, above } ]
//! V2: [2][ bincode { committed, above, deliveries } ]   (V1 decodes with no deliveries)
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::deliveries::{DeliveryCounts, DeliveryRange};
use super::record::RecordDecodeError;

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
    /// Delivery counts of offsets at or above `committed`.
    pub deliveries: DeliveryCounts,
}

/// Storage format versions of [`ConsumerState`]: V1 had no delivery counts.
pub const CONSUMER_FORMAT_V1: u8 = 1;
pub const CONSUMER_FORMAT_V2: u8 = 2;

/// The stored form of format V1.
#[derive(Deserialize)]
struct ConsumerStateV1 {
    committed: u64,
    above: BTreeSet<u64>,
}

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

    /// Counts one more delivery of the uncommitted offsets in `[from, end)`
    /// and returns their counts after it (see [`Self::delivery_counts`]).
    pub fn mark_delivered(&mut self, from: u64, end: u64) -> Vec<DeliveryRange> {
        let from = from.max(self.committed);
        // Singly committed offsets are counted with their neighbours (it
        // keeps ranges long) and left out of every answer.
        self.deliveries.increment(from, end);
        self.delivery_counts(from, end)
    }

    /// Delivery counts of the uncommitted offsets in `[from, end)`: ranges
    /// of equal count, ascending, without committed or never-delivered
    /// offsets.
    pub fn delivery_counts(&self, from: u64, end: u64) -> Vec<DeliveryRange> {
        self.deliveries.within(from.max(self.committed), end, &self.above)
    }

    /// Moves the position over singly committed offsets that now follow it,
    /// and forgets delivery counts below it. Runs after every change of the
    /// position.
    fn fold(&mut self) {
        while self.above.remove(&self.committed) {
            self.committed += 1;
        }
        self.deliveries.drop_below(self.committed);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![CONSUMER_FORMAT_V2];
        bincode::serialize_into(&mut out, self).expect("serializing to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordDecodeError> {
        let (&version, body) = bytes.split_first().ok_or(RecordDecodeError::Empty)?;
        match version {
            CONSUMER_FORMAT_V1 => {
                let v1: ConsumerStateV1 = bincode::deserialize(body).map_err(RecordDecodeError::Corrupt)?;
                Ok(Self { committed: v1.committed, above: v1.above, deliveries: DeliveryCounts::default() })
            }
            CONSUMER_FORMAT_V2 => {
                let state: Self = bincode::deserialize(body).map_err(RecordDecodeError::Corrupt)?;
                if !state.deliveries.is_well_formed() {
                    return Err(RecordDecodeError::Invalid("delivery counts out of order or over their bound"));
                }
                Ok(state)
            }
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
        c.mark_delivered(0, 9);
        let bytes = c.encode();
        assert_eq!(bytes[0], CONSUMER_FORMAT_V2);
        assert_eq!(ConsumerState::decode(&bytes).expect("decodes"), c);
    }

    #[test]
    fn v1_decodes_without_deliveries() {
        #[derive(Serialize)]
        struct V1 {
            committed: u64,
            above: BTreeSet<u64>,
        }
        let mut bytes = vec![CONSUMER_FORMAT_V1];
        bincode::serialize_into(&mut bytes, &V1 { committed: 7, above: BTreeSet::from([9]) }).expect("to a Vec");
        let c = ConsumerState::decode(&bytes).expect("V1 still decodes");
        assert_eq!((c.committed, c.above.iter().copied().collect::<Vec<_>>()), (7, vec![9]));
        assert!(c.deliveries.is_empty());
    }

    #[test]
    fn malformed_deliveries_are_refused() {
        #[derive(Serialize)]
        struct Raw {
            committed: u64,
            above: BTreeSet<u64>,
            ranges: Vec<(u64, u64, u32)>,
        }
        let mut bytes = vec![CONSUMER_FORMAT_V2];
        let raw = Raw { committed: 0, above: BTreeSet::new(), ranges: vec![(5, 9, 1), (7, 8, 2)] };
        bincode::serialize_into(&mut bytes, &raw).expect("to a Vec");
        assert!(matches!(ConsumerState::decode(&bytes), Err(RecordDecodeError::Invalid(_))));
    }

    fn counts(v: &[DeliveryRange]) -> Vec<(u64, u64, u32)> {
        v.iter().map(|r| (r.start, r.end, r.count)).collect()
    }

    #[test]
    fn marks_count_uncommitted_offsets_only() {
        let mut c = ConsumerState::default();
        c.commit_up_to(2);
        c.commit_one(5);
        assert_eq!(counts(&c.mark_delivered(0, 8)), vec![(3, 5, 1), (6, 8, 1)], "committed offsets left out");
        assert_eq!(counts(&c.mark_delivered(4, 10)), vec![(4, 5, 2), (6, 8, 2), (8, 10, 1)]);
        assert_eq!(counts(&c.delivery_counts(0, u64::MAX)), vec![(3, 4, 1), (4, 5, 2), (6, 8, 2), (8, 10, 1)]);
        assert!(c.mark_delivered(0, 3).is_empty(), "all committed: nothing counted");
    }

    #[test]
    fn commits_drop_counts_below_the_position() {
        let mut c = ConsumerState::default();
        c.mark_delivered(0, 10);
        c.mark_delivered(0, 4);
        c.commit_up_to(2);
        assert_eq!(counts(c.deliveries.ranges()), vec![(3, 4, 2), (4, 10, 1)]);
        c.commit_one(4);
        c.commit_one(3); // folds 3 and 4
        assert_eq!(c.committed, 5);
        assert_eq!(counts(c.deliveries.ranges()), vec![(5, 10, 1)]);
        c.skip_to(8);
        assert_eq!(counts(c.deliveries.ranges()), vec![(8, 10, 1)]);
        c.commit_up_to(20);
        assert!(c.deliveries.is_empty());
    }
}
