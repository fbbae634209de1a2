//! What this node knows about its peers: up or down, and which groups they
//! lead. Pure bookkeeping; the driver does the RPCs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Peer {
    last_ok: Option<Instant>,
    incarnation: u64,
    /// Version of `leaders` as fetched; `None` until first fetched.
    leaders_version: Option<u64>,
    leaders: HashSet<u64>,
    /// Came up, or restarted, since the driver last asked.
    returned: bool,
}

pub struct Peers {
    by_addr: HashMap<String, Peer>,
    failure_timeout: Duration,
}

/// What a ping reply asks the driver to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterPing {
    Nothing,
    FetchLeaders,
}

impl Peers {
    pub fn new(failure_timeout: Duration) -> Self {
        Self { by_addr: HashMap::new(), failure_timeout }
    }

    /// Forgets peers no group mentions any more and adds new ones.
    pub fn retain(&mut self, addrs: &HashSet<String>) {
        self.by_addr.retain(|a, _| addrs.contains(a));
        for a in addrs {
            self.by_addr.entry(a.clone()).or_default();
        }
    }

    pub fn is_up(&self, addr: &str, now: Instant) -> bool {
        self.by_addr
            .get(addr)
            .and_then(|p| p.last_ok)
            .is_some_and(|t| now.saturating_duration_since(t) < self.failure_timeout)
    }

    /// Whether `addr` is up and, as last fetched, leads `group`.
    pub fn leads(&self, addr: &str, group: u64, now: Instant) -> bool {
        self.is_up(addr, now) && self.by_addr.get(addr).is_some_and(|p| p.leaders.contains(&group))
    }

    pub fn record_ping(&mut self, addr: &str, incarnation: u64, leaders_version: u64, now: Instant) -> AfterPing {
        let was_up = self.is_up(addr, now);
        let p = self.by_addr.entry(addr.to_string()).or_default();
        if !was_up || p.incarnation != incarnation {
            p.returned = true;
        }
        if p.incarnation != incarnation {
            p.incarnation = incarnation;
            p.leaders_version = None;
            p.leaders.clear();
        }
        p.last_ok = Some(now);
        if p.leaders_version == Some(leaders_version) {
            AfterPing::Nothing
        } else {
            AfterPing::FetchLeaders
        }
    }

    pub fn record_leaders(&mut self, addr: &str, version: u64, groups: Vec<u64>) {
        if let Some(p) = self.by_addr.get_mut(addr) {
            p.leaders_version = Some(version);
            p.leaders = groups.into_iter().collect();
        }
    }

    /// Peers that came back (or restarted) since the last call.
    pub fn take_returned(&mut self) -> HashSet<String> {
        let mut out = HashSet::new();
        for (a, p) in &mut self.by_addr {
            if std::mem::take(&mut p.returned) {
                out.insert(a.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_down_after_the_failure_timeout() {
        let mut peers = Peers::new(Duration::from_millis(500));
        let t0 = Instant::now();
        assert!(!peers.is_up("a", t0), "unknown peers are down");
        assert_eq!(peers.record_ping("a", 7, 1, t0), AfterPing::FetchLeaders);
        assert!(peers.is_up("a", t0 + Duration::from_millis(499)));
        assert!(!peers.is_up("a", t0 + Duration::from_millis(500)));
    }

    #[test]
    fn leaders_are_refetched_when_the_version_or_incarnation_changes() {
        let mut peers = Peers::new(Duration::from_secs(1));
        let t0 = Instant::now();
        peers.record_ping("a", 7, 1, t0);
        peers.record_leaders("a", 1, vec![10, 11]);
        assert!(peers.leads("a", 10, t0));
        assert_eq!(peers.record_ping("a", 7, 1, t0), AfterPing::Nothing);
        assert_eq!(peers.record_ping("a", 7, 2, t0), AfterPing::FetchLeaders);
        assert!(peers.take_returned().contains("a"), "first contact counts as returning");
        assert!(peers.take_returned().is_empty());
        // Restart: same version number, new incarnation → the old set is void.
        assert_eq!(peers.record_ping("a", 8, 1, t0), AfterPing::FetchLeaders);
        assert!(!peers.leads("a", 10, t0));
        assert!(peers.take_returned().contains("a"));
    }

    #[test]
    fn down_peers_lead_nothing() {
        let mut peers = Peers::new(Duration::from_millis(100));
        let t0 = Instant::now();
        peers.record_ping("a", 1, 1, t0);
        peers.record_leaders("a", 1, vec![5]);
        assert!(!peers.leads("a", 5, t0 + Duration::from_millis(150)));
    }
}
