//! Per-group decisions of the liveness driver, without IO.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a group looks from this replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// This replica leads it.
    Led,
    /// Another replica leads it and its node is up and says so.
    Healthy,
    /// No working leader as far as this replica can tell.
    Leaderless,
    /// This replica may not vote (a learner, or not a member).
    NotVoter,
}

/// Election deadlines of leaderless groups: each waits a random delay
/// after it was first seen leaderless, so replicas rarely split votes.
#[derive(Default)]
pub struct ElectionTimers {
    deadlines: HashMap<u64, Instant>,
}

impl ElectionTimers {
    /// Records what a group looks like now; returns true when this replica
    /// should start an election. `delay` is used when a new wait begins.
    pub fn observe(&mut self, group: u64, health: Health, now: Instant, delay: Duration) -> bool {
        if health != Health::Leaderless {
            self.deadlines.remove(&group);
            return false;
        }
        let deadline = *self.deadlines.entry(group).or_insert(now + delay);
        if now >= deadline {
            // The next wait starts afresh with a new random delay.
            self.deadlines.remove(&group);
            return true;
        }
        false
    }

    /// Whether any group is waiting to stand for election.
    pub fn pending(&self) -> bool {
        !self.deadlines.is_empty()
    }

    /// Drops timers of groups no longer hosted.
    pub fn retain(&mut self, hosted: impl Fn(u64) -> bool) {
        self.deadlines.retain(|g, _| hosted(*g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elects_only_after_the_delay_and_only_when_leaderless() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let d = Duration::from_millis(300);
        assert!(!t.observe(1, Health::Leaderless, t0, d));
        assert!(!t.observe(1, Health::Leaderless, t0 + Duration::from_millis(299), d));
        assert!(t.observe(1, Health::Leaderless, t0 + Duration::from_millis(300), d));
        // A new wait after an election attempt.
        assert!(!t.observe(1, Health::Leaderless, t0 + Duration::from_millis(301), d));
        assert!(t.observe(1, Health::Leaderless, t0 + Duration::from_millis(601), d));
    }

    #[test]
    fn a_leader_appearing_cancels_the_wait() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let d = Duration::from_millis(100);
        assert!(!t.observe(1, Health::Leaderless, t0, d));
        assert!(!t.observe(1, Health::Healthy, t0 + Duration::from_millis(50), d));
        assert!(!t.observe(1, Health::Leaderless, t0 + Duration::from_millis(120), d), "the wait restarted");
        assert!(!t.observe(2, Health::NotVoter, t0 + Duration::from_secs(9), d));
        assert!(!t.observe(3, Health::Led, t0 + Duration::from_secs(9), d));
    }
}
