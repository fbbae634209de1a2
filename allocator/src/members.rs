//! Liveness and load of the cluster's members, as heartbeats tell the
//! catalogue leader. Soft state: it is not replicated (heartbeats every
//! second through Raft would be wasteful); a new leader starts empty and
//! gives every member a grace period of one failure timeout before judging
//! it down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zya_proto::catalogue::{GroupLoad, HeartbeatRequest};

/// The last heartbeat of one member.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub report: HeartbeatRequest,
}

pub struct MemberTable {
    seen: HashMap<u64, Seen>,
    /// When this table started judging (leadership gained).
    since: Instant,
    /// Raft term this table belongs to; a new term starts a new table.
    term: u64,
}

impl MemberTable {
    pub fn new(term: u64, now: Instant) -> Self {
        Self { seen: HashMap::new(), since: now, term }
    }

    /// Starts afresh when leadership moved to a new term.
    pub fn for_term(&mut self, term: u64, now: Instant) {
        if term != self.term {
            *self = Self::new(term, now);
        }
    }

    /// How long this table has been judging (since leadership was gained).
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    pub fn heartbeat(&mut self, report: HeartbeatRequest, now: Instant) {
        self.seen.insert(report.id, Seen { at: now, report });
    }

    pub fn get(&self, id: u64) -> Option<&Seen> {
        self.seen.get(&id)
    }

    /// How long the member has not been heard from (from the table's
    /// start if never).
    pub fn silent_for(&self, id: u64, now: Instant) -> Duration {
        let last = self.seen.get(&id).map_or(self.since, |s| s.at);
        now.saturating_duration_since(last)
    }

    pub fn is_live(&self, id: u64, now: Instant, down_after: Duration) -> bool {
        self.silent_for(id, now) < down_after
    }

    /// Heard from at least once and recently: safe to place replicas on.
    pub fn is_confirmed_live(&self, id: u64, now: Instant, down_after: Duration) -> bool {
        self.seen.get(&id).is_some_and(|s| now.saturating_duration_since(s.at) < down_after)
    }

    /// The member that last reported leading `group`, and its report of it.
    pub fn group_leader(&self, group: u64, now: Instant, down_after: Duration) -> Option<(u64, &GroupLoad)> {
        self.seen
            .values()
            .filter(|s| now.saturating_duration_since(s.at) < down_after)
            .filter_map(|s| s.report.groups.iter().find(|g| g.group_id == group && g.leader).map(|g| (s.report.id, g)))
            .max_by_key(|(_, g)| g.next_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: u64, groups: Vec<GroupLoad>) -> HeartbeatRequest {
        HeartbeatRequest { id, groups, ..Default::default() }
    }

    #[test]
    fn members_get_a_grace_period_then_must_heartbeat() {
        let t0 = Instant::now();
        let down = Duration::from_secs(3);
        let mut t = MemberTable::new(1, t0);
        assert!(t.is_live(7, t0 + Duration::from_secs(2), down), "grace after leadership starts");
        assert!(!t.is_confirmed_live(7, t0 + Duration::from_secs(2), down));
        assert!(!t.is_live(7, t0 + Duration::from_secs(3), down));
        t.heartbeat(report(7, vec![]), t0 + Duration::from_secs(4));
        assert!(t.is_live(7, t0 + Duration::from_secs(5), down));
        assert_eq!(t.silent_for(7, t0 + Duration::from_secs(6)), Duration::from_secs(2));
        t.for_term(2, t0 + Duration::from_secs(6));
        assert!(t.get(7).is_none(), "a new term starts a new table");
    }

    #[test]
    fn group_leader_is_the_live_reporter() {
        let t0 = Instant::now();
        let down = Duration::from_secs(3);
        let mut t = MemberTable::new(1, t0);
        let g = |leader, next| GroupLoad { group_id: 5, leader, message_count: 1, bytes: 1, next_offset: next };
        t.heartbeat(report(1, vec![g(false, 10)]), t0);
        t.heartbeat(report(2, vec![g(true, 10)]), t0);
        assert_eq!(t.group_leader(5, t0, down).map(|(n, _)| n), Some(2));
        assert_eq!(t.group_leader(5, t0 + Duration::from_secs(4), down), None);
    }
}
