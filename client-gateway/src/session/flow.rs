//! Commit-driven flow control of one subscription (the seed's "poor man's
//! flow control").
//!
//! At most `batch` messages are delivered and not yet committed. Once that
//! many are in flight, delivery stops until commits bring the number down
//! to `batch × (1 − commit_ratio)` or fewer; then it resumes until `batch`
//! are in flight again. A client that never commits gets exactly one batch,
//! and the gateway never reads ahead of what it may send, so a slow client
//! costs at most one batch of memory.
//!
//! ```text
//! in flight: 0 ──deliver──> batch (closed) ──commits──> ≤ low water (open) ──deliver──> batch …
//! ```

use std::collections::BTreeSet;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FlowError {
    #[error("batchSize must be between 1 and {max}, got {got}")]
    BatchSize { got: u64, max: u32 },
    #[error("commitRatio must be in (0, 1], got {0}")]
    CommitRatio(f64),
}

/// Largest batch a client may ask for: bounds the gateway's memory per
/// subscription.
pub const MAX_BATCH: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct Flow {
    batch: usize,
    low_water: usize,
    /// Delivered and not yet committed: (partition, offset).
    in_flight: BTreeSet<(u32, u64)>,
    /// Delivering (below `batch` since the last refill started).
    open: bool,
}

impl Flow {
    pub fn new(batch: u64, commit_ratio: f64) -> Result<Self, FlowError> {
        if batch == 0 || batch > MAX_BATCH as u64 {
            return Err(FlowError::BatchSize { got: batch, max: MAX_BATCH });
        }
        if !(commit_ratio > 0.0 && commit_ratio <= 1.0) {
            return Err(FlowError::CommitRatio(commit_ratio));
        }
        let batch = batch as usize;
        let low_water = (batch as f64 * (1.0 - commit_ratio)).floor() as usize;
        Ok(Self { batch, low_water, in_flight: BTreeSet::new(), open: true })
    }

    /// How many more messages may be delivered now.
    pub fn credit(&self) -> usize {
        if self.open {
            self.batch - self.in_flight.len()
        } else {
            0
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Records a delivery (a redelivery of an in-flight offset changes nothing).
    pub fn delivered(&mut self, partition: u32, offset: u64) {
        self.in_flight.insert((partition, offset));
        if self.in_flight.len() >= self.batch {
            self.open = false;
        }
    }

    /// Records the commit of one offset.
    pub fn committed_one(&mut self, partition: u32, offset: u64) {
        self.in_flight.remove(&(partition, offset));
        self.reopen();
    }

    /// Records the commit of every offset `<= up_to` of a partition.
    pub fn committed_up_to(&mut self, partition: u32, up_to: u64) {
        self.in_flight.retain(|&(p, o)| p != partition || o > up_to);
        self.reopen();
    }

    fn reopen(&mut self) {
        if !self.open && self.in_flight.len() <= self.low_water {
            self.open = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(f: &mut Flow, partition: u32, from: u64) -> u64 {
        let n = f.credit() as u64;
        for o in from..from + n {
            f.delivered(partition, o);
        }
        n
    }

    #[test]
    fn a_client_that_never_commits_gets_one_batch() {
        let mut f = Flow::new(100, 0.5).expect("valid");
        assert_eq!(deliver(&mut f, 0, 0), 100);
        assert_eq!(f.credit(), 0);
        assert_eq!(deliver(&mut f, 0, 100), 0);
    }

    #[test]
    fn refills_only_once_commits_reach_the_ratio() {
        let mut f = Flow::new(100, 0.5).expect("valid");
        deliver(&mut f, 0, 0);
        f.committed_up_to(0, 48); // 49 committed, 51 in flight
        assert_eq!(f.credit(), 0, "above low water: nothing more");
        f.committed_one(0, 49); // 50 in flight
        assert_eq!(f.credit(), 50, "at low water: refill to a full batch");
        assert_eq!(deliver(&mut f, 0, 100), 50);
        assert_eq!(f.in_flight(), 100);
        assert_eq!(f.credit(), 0);
    }

    #[test]
    fn partitions_share_the_window_and_commits_are_per_partition() {
        let mut f = Flow::new(4, 1.0).expect("valid");
        f.delivered(0, 10);
        f.delivered(1, 10);
        f.delivered(0, 11);
        assert_eq!(f.credit(), 1);
        f.delivered(1, 11);
        f.committed_up_to(0, 11);
        assert_eq!(f.credit(), 0, "ratio 1: refill only when everything is committed");
        f.committed_one(1, 10);
        f.committed_one(1, 11);
        assert_eq!(f.credit(), 4);
    }

    #[test]
    fn redelivery_of_an_in_flight_offset_takes_no_extra_credit() {
        let mut f = Flow::new(2, 0.5).expect("valid");
        f.delivered(0, 1);
        f.delivered(0, 1);
        assert_eq!(f.credit(), 1);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(Flow::new(0, 0.5).err(), Some(FlowError::BatchSize { got: 0, max: MAX_BATCH }));
        assert!(Flow::new(MAX_BATCH as u64 + 1, 0.5).is_err());
        assert!(Flow::new(10, 0.0).is_err());
        assert!(Flow::new(10, 1.5).is_err());
        assert!(Flow::new(10, f64::NAN).is_err());
    }
}
