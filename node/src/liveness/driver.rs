//! The liveness task of a node (see the module doc for the picture).
//!
//! Cost is kept proportional to what happens, not to how many groups are
//! hosted: every tick pings the peer nodes; all groups are examined only
//! when a peer changed state, an election wait is pending, or once per
//! `FULL_SCAN_PERIOD`; otherwise only groups that applied something since
//! the last tick are looked at (their followers need the new commit index),
//! which `activity` records as it happens instead of the tick polling every
//! group.

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::Rng;
use tokio_util::sync::CancellationToken;
use zya_proto::raft::raft_peer_client::RaftPeerClient;
use zya_proto::raft::{LeadersRequest, PingRequest};

use super::activity::Activity;
use super::decide::{ElectionTimers, Health};
use super::peers::{AfterPing, Peers};
use super::prevote;
use super::LocalLeaders;
use crate::group::{Group, Registry};
use zya_raftstore::ChannelPool;

/// Every group is examined at least this often (lagging followers, lost
/// leaders that no peer event revealed).
const FULL_SCAN_PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct LivenessConfig {
    /// How often peers are pinged.
    pub interval: Duration,
    /// A peer not answering for this long is down.
    pub failure_timeout: Duration,
    /// Random wait, after a group is found leaderless, before this replica
    /// stands for election.
    pub election_delay_min: Duration,
    pub election_delay_max: Duration,
}

/// State the driver keeps between ticks.
struct Driver {
    registry: Arc<Registry>,
    local: Arc<LocalLeaders>,
    cfg: LivenessConfig,
    pool: Arc<ChannelPool>,
    peers: Peers,
    timers: ElectionTimers,
    /// Which groups applied entries since the last tick.
    activity: Activity,
    addrs: HashSet<String>,
    up: HashSet<String>,
    /// Groups this node leads, as of the last time each was examined (a new
    /// leader applies an entry at once, so it is examined at once).
    led: HashSet<u64>,
    /// Groups whose openraft tick is on (a leader removed from the voters
    /// steps down on a tick). Switching it costs a lock and a watch send in
    /// openraft 0.10, so it is switched only when this changes, not for
    /// every group on every scan (~1 % of the machine at 10,000 idle
    /// groups).
    ticking: HashSet<u64>,
    last_full_scan: Instant,
}

pub async fn run(registry: Arc<Registry>, local: Arc<LocalLeaders>, cfg: LivenessConfig, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pool = registry.pool();
    let peers = Peers::new(cfg.failure_timeout);
    let mut d = Driver {
        registry,
        local,
        cfg,
        pool,
        peers,
        timers: ElectionTimers::default(),
        activity: Activity::default(),
        addrs: HashSet::new(),
        up: HashSet::new(),
        led: HashSet::new(),
        ticking: HashSet::new(),
        last_full_scan: Instant::now() - FULL_SCAN_PERIOD,
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        d.tick().await;
    }
}

impl Driver {
    async fn tick(&mut self) {
        let now = Instant::now();
        let full = now.duration_since(self.last_full_scan) >= FULL_SCAN_PERIOD || self.timers.pending();
        let all = full.then(|| self.registry.all());
        // A full scan learns the peers' addresses from every group's
        // membership in the same pass that examines the groups: a pass of
        // its own read 10,000 groups' Raft state a second time, each group a
        // few cache misses, and was a quarter of an idle node's CPU. Only
        // while no peer is known (the first tick) is it a pass of its own,
        // before the pings, so that they reach every peer at once; a peer
        // that later appears in a membership is pinged from the next tick.
        let learned_before = match &all {
            Some(all) if self.addrs.is_empty() => {
                self.refresh_groups(all);
                true
            }
            _ => false,
        };
        let mut learning = (full && !learned_before).then(HashSet::new);
        let peers_changed = self.ping_peers().await;
        let returned = self.peers.take_returned();
        let now = Instant::now();
        let scan_all = full || peers_changed || !returned.is_empty();
        if scan_all {
            self.last_full_scan = now;
        }
        let node_id = self.registry.node_id;
        let changed = self.activity.take();
        let mut hosted = HashSet::new();
        let groups = if scan_all {
            let groups = all.unwrap_or_else(|| self.registry.all());
            hosted = groups.iter().map(|g| g.id).collect();
            self.led.retain(|id| hosted.contains(id));
            groups
        } else {
            changed.iter().filter_map(|id| self.registry.get(*id)).collect()
        };
        for g in &groups {
            if let Some(addrs) = &mut learning {
                self.learn_group(g, addrs);
            }
            let active = changed.contains(&g.id);
            let view = examine(g, node_id, &self.peers, &returned, active, now);
            if view.health == Health::Led {
                self.led.insert(g.id);
            } else {
                self.led.remove(&g.id);
            }
            let leader = {
                let m = g.raft.metrics();
                let m = m.borrow_watched();
                (m.current_term, m.current_leader)
            };
            let jitter = rand::thread_rng().gen::<f64>();
            let grace = self.cfg.failure_timeout * 2;
            if self.timers.observe(g.id, view.health, leader, now, random_delay(&self.cfg), grace, jitter) {
                self.stand(g, now);
            }
            if view.heartbeat {
                if let Err(e) = g.raft.trigger().heartbeat().await {
                    tracing::warn!(group = g.id, error = %e, "could not send a heartbeat");
                }
            }
            // A leader that removed itself from the voters steps down on a
            // tick; groups only tick while that is pending.
            let switch = if view.removed_leader { self.ticking.insert(g.id) } else { self.ticking.remove(&g.id) };
            if switch {
                g.raft.runtime_config().tick(view.removed_leader);
            }
        }
        if let Some(addrs) = learning {
            // A full scan examined every hosted group.
            self.forget_others(&hosted, addrs);
        }
        self.local.update(self.led.iter().copied().collect());
    }

    /// Starts an election for `g` on a task of its own, unless a live voter
    /// has a newer log (the pre-vote asks them, so the tick does not wait).
    fn stand(&self, g: &Arc<Group>, now: Instant) {
        let others: Vec<(u64, String)> = {
            let metrics = g.raft.metrics();
            let m = metrics.borrow_watched();
            let membership = m.membership_config.membership();
            membership
                .voter_ids()
                .filter(|id| *id != self.registry.node_id)
                .filter_map(|id| membership.get_node(&id).map(|n| (id, n.addr.clone())))
                .filter(|(_, addr)| self.peers.is_up(addr, now))
                .collect()
        };
        let (g, pool) = (g.clone(), self.pool.clone());
        let timeout = self.peer_timeout();
        tokio::spawn(async move {
            if let Some(ahead) = prevote::voter_ahead(&g, &pool, &others, timeout).await {
                tracing::info!(group = g.id, ahead = %ahead, "leader lost; a voter with a newer log stands instead");
                return;
            }
            tracing::info!(group = g.id, "leader lost; standing for election");
            if let Err(e) = g.raft.trigger().elect(false).await {
                tracing::warn!(group = g.id, error = %e, "could not start an election");
            }
        });
    }

    /// How long a call to a peer may take. Generous: a busy peer answering
    /// late is not a dead one.
    fn peer_timeout(&self) -> Duration {
        (self.cfg.failure_timeout / 2).max(self.cfg.interval)
    }

    /// Re-reads the peer addresses and activity receivers of all groups.
    fn refresh_groups(&mut self, groups: &[Arc<Group>]) {
        let mut addrs = HashSet::new();
        for g in groups {
            self.learn_group(g, &mut addrs);
        }
        self.forget_others(&groups.iter().map(|g| g.id).collect(), addrs);
    }

    /// Adds the addresses of `g`'s other members to `addrs`, and watches
    /// `g`'s activity if it is new.
    fn learn_group(&mut self, g: &Group, addrs: &mut HashSet<String>) {
        let node_id = self.registry.node_id;
        let metrics = g.raft.metrics();
        let m = metrics.borrow_watched();
        for (id, node) in m.membership_config.membership().nodes() {
            if *id != node_id && !addrs.contains(node.addr.as_str()) {
                addrs.insert(node.addr.clone());
            }
        }
        self.activity.watch(g.id, || g.reader.watch());
    }

    /// Ends a refresh: `hosted` are the ids of all hosted groups and `addrs`
    /// their peers; state kept for anything else is dropped.
    fn forget_others(&mut self, hosted: &HashSet<u64>, addrs: HashSet<String>) {
        // Set lookups, not scans of `groups`: with 10,000 groups a scan per
        // entry cost 10^8 comparisons a second, most of an idle node's CPU.
        self.activity.retain(hosted);
        self.timers.retain(|g| hosted.contains(&g));
        self.ticking.retain(|g| hosted.contains(g));
        self.peers.retain(&addrs);
        self.addrs = addrs;
    }

    /// Pings every peer; returns whether any peer's state changed (went
    /// down, or changed the set of groups it leads).
    async fn ping_peers(&mut self) -> bool {
        let node_id = self.registry.node_id;
        let timeout = self.peer_timeout();
        let addrs: Vec<&String> = self.addrs.iter().collect();
        let pings = futures::future::join_all(addrs.iter().map(|a| ping(&self.pool, a, node_id, timeout))).await;
        let now = Instant::now();
        let mut fetch = Vec::new();
        for (addr, reply) in addrs.iter().zip(pings) {
            if let Some((incarnation, version)) = reply {
                if self.peers.record_ping(addr, incarnation, version, now) == AfterPing::FetchLeaders {
                    fetch.push((*addr).clone());
                }
            }
        }
        let fetched = futures::future::join_all(fetch.iter().map(|a| leaders(&self.pool, a, timeout))).await;
        for (addr, reply) in fetch.iter().zip(fetched) {
            if let Some((version, ids)) = reply {
                self.peers.record_leaders(addr, version, ids);
            }
        }
        let up: HashSet<String> = self.addrs.iter().filter(|a| self.peers.is_up(a, now)).cloned().collect();
        let changed = up != self.up || !fetch.is_empty();
        self.up = up;
        changed
    }
}

fn random_delay(cfg: &LivenessConfig) -> Duration {
    let (lo, hi) = (cfg.election_delay_min.as_millis() as u64, cfg.election_delay_max.as_millis() as u64);
    Duration::from_millis(if hi > lo { rand::thread_rng().gen_range(lo..=hi) } else { lo })
}

/// What the driver should do for one group.
struct View {
    health: Health,
    /// As leader: send a heartbeat now (followers have a new commit index
    /// to learn, a reachable follower lags, or a peer just came back).
    heartbeat: bool,
    /// Leader no longer among the voters: let it tick so it steps down.
    removed_leader: bool,
}

fn examine(g: &Group, node_id: u64, peers: &Peers, returned: &HashSet<String>, active: bool, now: Instant) -> View {
    let metrics = g.raft.metrics();
    let m = metrics.borrow_watched();
    let membership = m.membership_config.membership();
    let is_voter = membership.voter_ids().any(|v| v == node_id);
    if m.state == ServerState::Leader {
        let last = m.last_log_index.unwrap_or(0);
        let lagging = m.replication.as_ref().is_some_and(|r| {
            r.iter().any(|(id, matched)| {
                *id != node_id
                    && matched.map_or(0, |l| l.index) < last
                    && membership.get_node(id).is_some_and(|n| peers.is_up(&n.addr, now))
            })
        });
        let back = membership.nodes().any(|(id, n)| *id != node_id && returned.contains(&n.addr));
        return View { health: Health::Led, heartbeat: active || lagging || back, removed_leader: !is_voter };
    }
    if !is_voter {
        return View { health: Health::NotVoter, heartbeat: false, removed_leader: false };
    }
    let healthy = match m.current_leader {
        Some(l) if l != node_id && membership.voter_ids().any(|v| v == l) => {
            membership.get_node(&l).is_some_and(|n| peers.leads(&n.addr, g.id, now))
        }
        _ => false,
    };
    View { health: if healthy { Health::Healthy } else { Health::Leaderless }, heartbeat: false, removed_leader: false }
}

async fn ping(pool: &ChannelPool, addr: &str, node_id: u64, timeout: Duration) -> Option<(u64, u64)> {
    let channel = pool.channel(addr).ok()?;
    let mut client = RaftPeerClient::new(channel);
    let mut req = tonic::Request::new(PingRequest { from_node: node_id });
    req.set_timeout(timeout);
    let reply = tokio::time::timeout(timeout, client.ping(req)).await.ok()?.ok()?.into_inner();
    Some((reply.incarnation, reply.leaders_version))
}

async fn leaders(pool: &ChannelPool, addr: &str, timeout: Duration) -> Option<(u64, Vec<u64>)> {
    let channel = pool.channel(addr).ok()?;
    let mut client = RaftPeerClient::new(channel).max_decoding_message_size(64 << 20);
    let mut req = tonic::Request::new(LeadersRequest {});
    req.set_timeout(timeout);
    let reply = tokio::time::timeout(timeout, client.leaders(req)).await.ok()?.ok()?.into_inner();
    Some((reply.leaders_version, reply.group_ids))
}
