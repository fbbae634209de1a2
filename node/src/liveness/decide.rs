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
///
/// Two rules keep two survivors from fighting forever:
/// - a pending wait is dropped the moment this replica learns of a new
///   leader (a new term or leader in its Raft state), so a replica whose
///   timer was started by the old leader's loss does not depose the new one
///   before the peers' leader sets catch up;
/// - each further attempt in a row waits up to twice as long (randomised, at
///   most [`MAX_BACKOFF_DOUBLINGS`] doublings), so two candidates that keep
///   standing in the same order (one with a shorter log that can never win)
///   fall out of step and the up-to-date one gets two terms in a row.
#[derive(Default)]
pub struct ElectionTimers {
    deadlines: HashMap<u64, Instant>,
    /// Elections started in a row without a leader since.
    attempts: HashMap<u64, u32>,
    /// The (term, leader) last seen per group.
    seen: HashMap<u64, (u64, Option<u64>)>,
}

/// Cap of the backoff of repeated elections (2^3 = up to 8× the delay).
pub const MAX_BACKOFF_DOUBLINGS: u32 = 3;

impl ElectionTimers {
    /// Records what a group looks like now; returns true when this replica
    /// should start an election. `delay` is used when a new wait begins;
    /// `jitter` in [0, 1) spreads repeated attempts. `leader` is the group's
    /// (term, current leader) in this replica's Raft state; `grace` is how
    /// long a newly learned leader is trusted before the peers' leader sets
    /// must confirm it (they are refreshed once per liveness round, and a
    /// round waits for the ping of a cut-off peer to time out).
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        group: u64,
        health: Health,
        leader: (u64, Option<u64>),
        now: Instant,
        delay: Duration,
        grace: Duration,
        jitter: f64,
    ) -> bool {
        let changed = self.seen.insert(group, leader).is_some_and(|before| before != leader);
        if health != Health::Leaderless {
            self.deadlines.remove(&group);
            self.attempts.remove(&group);
            return false;
        }
        if changed && leader.1.is_some() {
            // A leader was just elected (maybe not known to the peers' sets
            // yet): give it a full wait before doubting it.
            self.deadlines.insert(group, now + delay + grace);
            return false;
        }
        let attempts = self.attempts.get(&group).copied().unwrap_or(0);
        let deadline = *self.deadlines.entry(group).or_insert_with(|| {
            let spread = (1u32 << attempts.min(MAX_BACKOFF_DOUBLINGS)) as f64;
            now + delay + delay.mul_f64(jitter.clamp(0.0, 1.0) * (spread - 1.0))
        });
        if now >= deadline {
            // The next wait starts afresh with a new random delay.
            self.deadlines.remove(&group);
            *self.attempts.entry(group).or_insert(0) += 1;
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
        self.attempts.retain(|g, _| hosted(*g));
        self.seen.retain(|g, _| hosted(*g));
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
        let none = (1, None);
        assert!(!t.observe(1, Health::Leaderless, none, t0, d, Duration::ZERO, 0.0));
        assert!(!t.observe(1, Health::Leaderless, none, t0 + Duration::from_millis(299), d, Duration::ZERO, 0.0));
        assert!(t.observe(1, Health::Leaderless, none, t0 + Duration::from_millis(300), d, Duration::ZERO, 0.0));
        // A new wait after an election attempt.
        assert!(!t.observe(1, Health::Leaderless, none, t0 + Duration::from_millis(301), d, Duration::ZERO, 0.0));
        assert!(t.observe(1, Health::Leaderless, none, t0 + Duration::from_millis(601), d, Duration::ZERO, 0.0));
    }

    #[test]
    fn a_leader_appearing_cancels_the_wait() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let d = Duration::from_millis(100);
        let none = (1, None);
        assert!(!t.observe(1, Health::Leaderless, none, t0, d, Duration::ZERO, 0.0));
        assert!(!t.observe(1, Health::Healthy, none, t0 + Duration::from_millis(50), d, Duration::ZERO, 0.0));
        assert!(
            !t.observe(1, Health::Leaderless, none, t0 + Duration::from_millis(120), d, Duration::ZERO, 0.0),
            "the wait restarted"
        );
        assert!(!t.observe(2, Health::NotVoter, none, t0 + Duration::from_secs(9), d, Duration::ZERO, 0.0));
        assert!(!t.observe(3, Health::Led, none, t0 + Duration::from_secs(9), d, Duration::ZERO, 0.0));
    }

    #[test]
    fn learning_of_a_new_leader_restarts_the_wait() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let d = Duration::from_millis(100);
        assert!(!t.observe(1, Health::Leaderless, (4, None), t0, d, Duration::ZERO, 0.0));
        // Term 5's leader won; this replica's peers' sets do not say so yet.
        assert!(!t.observe(
            1,
            Health::Leaderless,
            (5, Some(9)),
            t0 + Duration::from_millis(90),
            d,
            Duration::ZERO,
            0.0
        ));
        assert!(!t.observe(
            1,
            Health::Leaderless,
            (5, Some(9)),
            t0 + Duration::from_millis(150),
            d,
            Duration::ZERO,
            0.0
        ));
        assert!(t.observe(
            1,
            Health::Leaderless,
            (5, Some(9)),
            t0 + Duration::from_millis(190),
            d,
            Duration::ZERO,
            0.0
        ));
    }

    #[test]
    fn a_new_leader_gets_the_grace_before_it_is_doubted() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let (d, grace) = (Duration::from_millis(100), Duration::from_millis(500));
        assert!(!t.observe(1, Health::Leaderless, (4, None), t0, d, grace, 0.0));
        assert!(!t.observe(1, Health::Leaderless, (5, Some(9)), t0 + Duration::from_millis(50), d, grace, 0.0));
        assert!(!t.observe(1, Health::Leaderless, (5, Some(9)), t0 + Duration::from_millis(600), d, grace, 0.0));
        assert!(t.observe(1, Health::Leaderless, (5, Some(9)), t0 + Duration::from_millis(650), d, grace, 0.0));
    }

    #[test]
    fn repeated_attempts_wait_longer() {
        let mut t = ElectionTimers::default();
        let t0 = Instant::now();
        let d = Duration::from_millis(100);
        let none = (1, None);
        assert!(!t.observe(1, Health::Leaderless, none, t0, d, Duration::ZERO, 0.99));
        assert!(t.observe(1, Health::Leaderless, none, t0 + d, d, Duration::ZERO, 0.99), "first attempt: no backoff");
        let t1 = t0 + d;
        assert!(!t.observe(1, Health::Leaderless, none, t1, d, Duration::ZERO, 0.99));
        assert!(!t.observe(1, Health::Leaderless, none, t1 + Duration::from_millis(150), d, Duration::ZERO, 0.99));
        assert!(
            t.observe(1, Health::Leaderless, none, t1 + Duration::from_millis(200), d, Duration::ZERO, 0.99),
            "second: up to 2x"
        );
        assert!(!t.observe(1, Health::Healthy, none, t1 + Duration::from_secs(1), d, Duration::ZERO, 0.99));
        assert!(!t.observe(1, Health::Leaderless, none, t1 + Duration::from_secs(1), d, Duration::ZERO, 0.99));
        assert!(
            t.observe(1, Health::Leaderless, none, t1 + Duration::from_millis(1100), d, Duration::ZERO, 0.99),
            "reset once healthy"
        );
    }
}
