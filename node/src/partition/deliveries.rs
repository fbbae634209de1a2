//! How many times each uncommitted offset was handed to one consumer group.
//!
//! A gateway that delivers a message marks it delivered (through Raft, like
//! a commit), so every gateway — including the one a consumer reconnects to
//! after a crash — sees the same count and can flag a redelivery with its
//! `deliveryCount`. Counts are kept as ranges of equal count, because
//! gateways deliver pages of consecutive offsets:
//!
//! ```text
//! offsets   10 11 12 13 14 15 16 17
//! counts     2  2  2  1  1  -  3  3     -> [10,13)×2 [13,15)×1 [16,18)×3
//! ```
//!
//! The list is bounded ([`MAX_DELIVERY_RANGES`]): past the bound, neighbours
//! are merged keeping the larger count. Merging only ever overstates a count
//! (or marks a never-delivered offset in a gap as delivered), so the error is
//! on the safe side: a consumer may be told "redelivered" once too often,
//! never a real redelivery passed off as a first delivery.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Most ranges one consumer's counts hold. A range is 20 bytes stored, and
/// the whole consumer state is rewritten by every mark and commit, so this
/// caps that write (about 80 KiB) however scattered the deliveries are.
pub const MAX_DELIVERY_RANGES: usize = 4096;

/// Widest range one mark may cover, so one Raft entry does bounded work.
pub const MAX_MARK_WIDTH: u64 = 10_000;

/// Offsets `start <= o < end` were delivered `count` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRange {
    pub start: u64,
    pub end: u64,
    pub count: u32,
}

/// Sorted, non-overlapping, non-empty ranges with non-zero counts; touching
/// ranges of equal count are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    ranges: Vec<DeliveryRange>,
}

impl DeliveryCounts {
    pub fn ranges(&self) -> &[DeliveryRange] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether the invariants hold (checked when decoding stored state).
    pub fn is_well_formed(&self) -> bool {
        self.ranges.iter().all(|r| r.start < r.end && r.count > 0)
            && self.ranges.len() <= MAX_DELIVERY_RANGES
            && self
                .ranges
                .windows(2)
                .all(|w| w[0].end < w[1].start || (w[0].end == w[1].start && w[0].count != w[1].count))
    }

    /// The count of one offset (0 = never delivered).
    pub fn count_of(&self, offset: u64) -> u32 {
        let i = self.ranges.partition_point(|r| r.end <= offset);
        self.ranges.get(i).filter(|r| r.start <= offset).map_or(0, |r| r.count)
    }

    /// Adds one delivery to every offset in `[from, end)` (saturating).
    pub fn increment(&mut self, from: u64, end: u64) {
        if from >= end {
            return;
        }
        let lo = self.ranges.partition_point(|r| r.end <= from);
        let hi = self.ranges.partition_point(|r| r.start < end);
        let mut middle = Vec::with_capacity(2 * (hi - lo) + 3);
        let mut at = from;
        for r in &self.ranges[lo..hi] {
            if r.start < from {
                middle.push(DeliveryRange { start: r.start, end: from, count: r.count });
            } else if r.start > at {
                middle.push(DeliveryRange { start: at, end: r.start, count: 1 });
            }
            let (s, e) = (r.start.max(from), r.end.min(end));
            middle.push(DeliveryRange { start: s, end: e, count: r.count.saturating_add(1) });
            if r.end > end {
                middle.push(DeliveryRange { start: end, end: r.end, count: r.count });
            }
            at = e;
        }
        if at < end {
            middle.push(DeliveryRange { start: at, end, count: 1 });
        }
        self.ranges.splice(lo..hi, middle);
        self.normalize();
        self.bound();
    }

    /// Drops counts of offsets below `committed`: they are never delivered
    /// again.
    pub fn drop_below(&mut self, committed: u64) {
        let i = self.ranges.partition_point(|r| r.end <= committed);
        self.ranges.drain(..i);
        if let Some(first) = self.ranges.first_mut() {
            first.start = first.start.max(committed);
        }
    }

    /// The counts of the offsets in `[from, end)` except `excluded`, as
    /// ranges of equal count, ascending; offsets never delivered are left
    /// out. Work is linear in the ranges and excluded offsets involved, not
    /// in the width (a merged range may be wide).
    pub fn within(&self, from: u64, end: u64, excluded: &BTreeSet<u64>) -> Vec<DeliveryRange> {
        let mut out: Vec<DeliveryRange> = Vec::new();
        if from >= end {
            return out;
        }
        let lo = self.ranges.partition_point(|r| r.end <= from);
        for r in self.ranges[lo..].iter().take_while(|r| r.start < end) {
            let (mut at, e) = (r.start.max(from), r.end.min(end));
            for &x in excluded.range(at..e) {
                if x > at {
                    push_merged(&mut out, DeliveryRange { start: at, end: x, count: r.count });
                }
                at = x + 1;
            }
            if at < e {
                push_merged(&mut out, DeliveryRange { start: at, end: e, count: r.count });
            }
        }
        out
    }

    /// Merges touching ranges of equal count.
    fn normalize(&mut self) {
        let mut out: Vec<DeliveryRange> = Vec::with_capacity(self.ranges.len());
        for r in self.ranges.drain(..) {
            push_merged(&mut out, r);
        }
        self.ranges = out;
    }

    /// Brings the list back to [`MAX_DELIVERY_RANGES`] by merging the
    /// neighbours whose merge loses least: touching ones before ones with a
    /// gap between them, small gaps before large ones, close counts before
    /// distant ones; ties go to lower offsets, so every replica merges the
    /// same way.
    fn bound(&mut self) {
        let excess = self.ranges.len().saturating_sub(MAX_DELIVERY_RANGES);
        if excess == 0 {
            return;
        }
        let mut joins: Vec<(u64, u32, usize)> = self
            .ranges
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1].start - w[0].end, w[0].count.abs_diff(w[1].count), i))
            .collect();
        joins.sort_unstable();
        let mut join_after = vec![false; self.ranges.len()];
        for &(_, _, i) in &joins[..excess] {
            join_after[i] = true;
        }
        let mut out: Vec<DeliveryRange> = Vec::with_capacity(MAX_DELIVERY_RANGES);
        let mut joining = false;
        for (i, r) in self.ranges.iter().enumerate() {
            match out.last_mut() {
                Some(last) if joining => {
                    last.end = r.end;
                    last.count = last.count.max(r.count);
                }
                _ => out.push(*r),
            }
            joining = join_after[i];
        }
        self.ranges = out;
        self.normalize();
    }
}

/// Appends `r`, merging it into the last range when they touch with equal
/// counts.
fn push_merged(out: &mut Vec<DeliveryRange>, r: DeliveryRange) {
    match out.last_mut() {
        Some(last) if last.end == r.start && last.count == r.count => last.end = r.end,
        _ => out.push(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64, count: u32) -> DeliveryRange {
        DeliveryRange { start, end, count }
    }

    #[test]
    fn increments_split_and_merge() {
        let mut d = DeliveryCounts::default();
        d.increment(10, 15);
        assert_eq!(d.ranges(), [r(10, 15, 1)]);
        d.increment(12, 18);
        assert_eq!(d.ranges(), [r(10, 12, 1), r(12, 15, 2), r(15, 18, 1)]);
        d.increment(10, 12);
        d.increment(15, 18);
        assert_eq!(d.ranges(), [r(10, 18, 2)], "equal neighbours merge");
        assert!(d.is_well_formed());
        assert_eq!((d.count_of(9), d.count_of(10), d.count_of(17), d.count_of(18)), (0, 2, 2, 0));
    }

    #[test]
    fn increments_fill_gaps_and_keep_outside_untouched() {
        let mut d = DeliveryCounts::default();
        d.increment(0, 2);
        d.increment(4, 6);
        d.increment(8, 10);
        d.increment(1, 9);
        assert_eq!(d.ranges(), [r(0, 1, 1), r(1, 2, 2), r(2, 4, 1), r(4, 6, 2), r(6, 8, 1), r(8, 9, 2), r(9, 10, 1)]);
        assert!(d.is_well_formed());
        d.increment(5, 5);
        assert_eq!(d.ranges().len(), 7, "an empty range changes nothing");
    }

    #[test]
    fn counts_saturate() {
        let mut d = DeliveryCounts { ranges: vec![r(0, 1, u32::MAX)] };
        d.increment(0, 1);
        assert_eq!(d.count_of(0), u32::MAX);
    }

    #[test]
    fn drop_below_clips_and_removes() {
        let mut d = DeliveryCounts::default();
        d.increment(0, 5);
        d.increment(3, 8);
        d.drop_below(4);
        assert_eq!(d.ranges(), [r(4, 5, 2), r(5, 8, 1)]);
        d.drop_below(100);
        assert!(d.is_empty());
    }

    #[test]
    fn within_leaves_out_unkept_offsets() {
        let mut d = DeliveryCounts::default();
        d.increment(0, 10);
        d.increment(0, 4);
        let out = d.within(2, 8, &BTreeSet::from([1, 5, 7]));
        assert_eq!(out, [r(2, 4, 2), r(4, 5, 1), r(6, 7, 1)]);
        assert_eq!(d.within(20, 30, &BTreeSet::new()), []);
        assert_eq!(d.within(6, 2, &BTreeSet::from([4])), [], "an inverted range is empty");
        let wide = DeliveryCounts { ranges: vec![r(0, u64::MAX, 3)] };
        assert_eq!(wide.within(0, u64::MAX, &BTreeSet::from([0])), [r(1, u64::MAX, 3)], "no per-offset walk");
    }

    #[test]
    fn bounded_by_merging_the_cheapest_neighbours() {
        let mut d = DeliveryCounts::default();
        // Every other offset delivered once: one range each, gaps of 1.
        for i in 0..MAX_DELIVERY_RANGES as u64 {
            d.increment(2 * i, 2 * i + 1);
        }
        assert_eq!(d.ranges().len(), MAX_DELIVERY_RANGES);
        // Two touching ranges of different counts at the end: the cheapest
        // merge is between them (no gap), keeping the larger count.
        let top = 2 * MAX_DELIVERY_RANGES as u64;
        d.increment(top, top + 2);
        d.increment(top + 1, top + 2);
        assert_eq!(d.ranges().len(), MAX_DELIVERY_RANGES);
        assert!(d.is_well_formed());
        assert_eq!(d.ranges().last(), Some(&r(top, top + 2, 2)), "merged, max count kept");
        assert_eq!(d.count_of(top), 2, "overstated, never understated");
        // Filling all gaps at once must still end within the bound.
        d.increment(0, top);
        assert!(d.ranges().len() <= MAX_DELIVERY_RANGES);
        assert!(d.is_well_formed());
        assert!((0..top).all(|o| d.count_of(o) >= 1));
    }
}
