//! The liveness task of a node (see the module doc for the picture).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::Rng;
use tokio_util::sync::CancellationToken;
use zya_proto::raft::raft_peer_client::RaftPeerClient;
use zya_proto::raft::{LeadersRequest, PingRequest};

use super::decide::{ElectionTimers, Health};
use super::peers::{AfterPing, Peers};
use super::LocalLeaders;
use crate::group::{Group, Registry};
use crate::raft::network::ChannelPool;

#[derive(Debug, Clone)]
pub struct LivenessConfig {
    /// How often peers are pinged and groups examined.
    pub interval: Duration,
    /// A peer not answering for this long is down.
    pub failure_timeout: Duration,
    /// Random wait, after a group is found leaderless, before this replica
    /// stands for election.
    pub election_delay_min: Duration,
    pub election_delay_max: Duration,
}

pub async fn run(registry: Arc<Registry>, local: Arc<LocalLeaders>, cfg: LivenessConfig, cancel: CancellationToken) {
    let node_id = registry.node_id;
    let pool = registry.pool();
    let mut peers = Peers::new(cfg.failure_timeout);
    let mut timers = ElectionTimers::default();
    let mut heartbeat_applied: HashMap<u64, Option<u64>> = HashMap::new();
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let groups = registry.all();
        local.update(groups.iter().filter(|g| g.is_leader()).map(|g| g.id).collect());

        let addrs = peer_addrs(&groups, node_id);
        peers.retain(&addrs);
        let timeout = cfg.interval.max(Duration::from_millis(100));
        let pings = futures::future::join_all(addrs.iter().map(|a| ping(&pool, a, node_id, timeout))).await;
        let now = Instant::now();
        let mut fetch = Vec::new();
        for (addr, reply) in addrs.iter().zip(pings) {
            if let Some((incarnation, version)) = reply {
                if peers.record_ping(addr, incarnation, version, now) == AfterPing::FetchLeaders {
                    fetch.push(addr.clone());
                }
            }
        }
        let fetched = futures::future::join_all(fetch.iter().map(|a| leaders(&pool, a, timeout))).await;
        for (addr, reply) in fetch.iter().zip(fetched) {
            if let Some((version, ids)) = reply {
                peers.record_leaders(addr, version, ids);
            }
        }
        let returned = peers.take_returned();

        let now = Instant::now();
        timers.retain(|g| registry.get(g).is_some());
        heartbeat_applied.retain(|g, _| registry.get(*g).is_some());
        for g in &groups {
            let (health, heartbeat) = examine(g, node_id, &peers, &returned, &mut heartbeat_applied, now);
            let delay = random_delay(&cfg);
            if timers.observe(g.id, health, now, delay) {
                tracing::info!(group = g.id, "leader lost; standing for election");
                if let Err(e) = g.raft.trigger().elect().await {
                    tracing::warn!(group = g.id, error = %e, "could not start an election");
                }
            }
            if heartbeat {
                if let Err(e) = g.raft.trigger().heartbeat().await {
                    tracing::warn!(group = g.id, error = %e, "could not send a heartbeat");
                }
            }
        }
    }
}

fn random_delay(cfg: &LivenessConfig) -> Duration {
    let (lo, hi) = (cfg.election_delay_min.as_millis() as u64, cfg.election_delay_max.as_millis() as u64);
    Duration::from_millis(if hi > lo { rand::thread_rng().gen_range(lo..=hi) } else { lo })
}

/// Addresses of every other replica of every hosted group.
fn peer_addrs(groups: &[Arc<Group>], node_id: u64) -> HashSet<String> {
    let mut addrs = HashSet::new();
    for g in groups {
        let metrics = g.raft.metrics();
        let m = metrics.borrow();
        for (id, node) in m.membership_config.membership().nodes() {
            if *id != node_id {
                addrs.insert(node.addr.clone());
            }
        }
    }
    addrs
}

/// The group's health from this replica, and whether (as its leader) it
/// should send a heartbeat now: followers have news to learn (a new commit),
/// a follower lags and is reachable, or a peer just came back.
fn examine(
    g: &Group,
    node_id: u64,
    peers: &Peers,
    returned: &HashSet<String>,
    heartbeat_applied: &mut HashMap<u64, Option<u64>>,
    now: Instant,
) -> (Health, bool) {
    let metrics = g.raft.metrics();
    let m = metrics.borrow();
    let membership = m.membership_config.membership();
    if m.state == ServerState::Leader {
        let applied = m.last_applied.map(|l| l.index);
        let news = heartbeat_applied.insert(g.id, applied) != Some(applied);
        let last = m.last_log_index.unwrap_or(0);
        let lagging = m.replication.as_ref().is_some_and(|r| {
            r.iter().any(|(id, matched)| {
                *id != node_id
                    && matched.map_or(0, |l| l.index) < last
                    && membership.get_node(id).is_some_and(|n| peers.is_up(&n.addr, now))
            })
        });
        let back = membership.nodes().any(|(id, n)| *id != node_id && returned.contains(&n.addr));
        return (Health::Led, news || lagging || back);
    }
    heartbeat_applied.remove(&g.id);
    if !membership.voter_ids().any(|v| v == node_id) {
        return (Health::NotVoter, false);
    }
    let healthy = match m.current_leader {
        Some(l) if l != node_id && membership.voter_ids().any(|v| v == l) => {
            membership.get_node(&l).is_some_and(|n| peers.leads(&n.addr, g.id, now))
        }
        _ => false,
    };
    (if healthy { Health::Healthy } else { Health::Leaderless }, false)
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
