//! The cluster a chaos run attacks: real allocator, node and gateway
//! processes on this machine (the harness), and the faults it can inject
//! into them.
//!
//! Targets are found from the cluster's own view at the time: the
//! catalogue's placement of each partition and the replicas' own status for
//! its leader. Choices among candidates use the fault's seeded generator,
//! over candidates in a stable order, so a seed replays the same run as far
//! as the cluster behaves the same.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use zya_client::catalogue_pb as cpb;
use zya_client::PartitionClient;
use zya_harness::{AllocatorOptions, Allocators, Cluster, GatewayOptions, Gateways, NetLab, NodeOptions};

use crate::schedule::{FaultKind, Planned};

/// Everything one chaos run started.
pub struct ProcessCluster {
    pub allocators: Allocators,
    pub nodes: Cluster,
    pub gateways: Gateways,
    pub secret: String,
    /// Nodes this run paused and has not resumed yet.
    paused: std::collections::BTreeSet<usize>,
}

/// What the run needs of the cluster's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub nodes: usize,
    pub gateways: usize,
    /// Nodes acknowledge before replicating (the negative control).
    pub ack_before_replication: bool,
    /// Run each node in a network namespace of its own, so that network
    /// faults can cut links (needs root, `ip` and `nft`).
    pub network: bool,
}

const ADMIN: &str = "admin";

impl ProcessCluster {
    pub async fn start(shape: Shape) -> anyhow::Result<Self> {
        let lab = match shape.network {
            true => Some(NetLab::create(shape.nodes).context(
                "network faults need a network lab (root, iproute2 and nftables); leave isolate-leader and \
                 split-minority out of --faults to run without one",
            )?),
            false => None,
        };
        let allocator_options =
            AllocatorOptions { create_timeout: "3s", down_after: "2s", replace_after: "5s", admins: ADMIN };
        let allocators = match &lab {
            Some(lab) => Allocators::start_on(lab.root_ip().into(), 3, allocator_options).await?,
            None => Allocators::start(3, allocator_options).await?,
        };
        allocators.leader(Duration::from_secs(30)).await?;
        let options = NodeOptions {
            heartbeat: "150ms",
            failure_timeout: "600ms",
            allocators: allocators.addrs(),
            fault_ack_before_replication: shape.ack_before_replication,
            ..NodeOptions::default()
        };
        let nodes = match lab {
            Some(lab) => Cluster::start_in_lab(lab, options).await?,
            None => Cluster::start(shape.nodes, options).await?,
        };
        let gw_options = GatewayOptions::default();
        let secret = gw_options.dev_secret.clone();
        let gateways = Gateways::start(shape.gateways, allocators.addrs(), gw_options).await?;
        let cluster = Self { allocators, nodes, gateways, secret, paused: Default::default() };
        cluster.allocators.wait_live_storage_nodes(shape.nodes, Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    fn caller() -> cpb::Caller {
        cpb::Caller { user: ADMIN.into(), cluster_admin: true }
    }

    pub async fn create_topic(&self, topic: &str, partitions: u32) -> anyhow::Result<()> {
        let req = cpb::CreateTopicRequest {
            caller: Some(Self::caller()),
            topic: topic.into(),
            scope: cpb::Scope::Global as i32,
            partitions,
            replication_factor: 3,
            ..Default::default()
        };
        self.allocators
            .client()
            .call(Duration::from_secs(30), |mut s| {
                let r = req.clone();
                async move { s.create_topic(r).await }
            })
            .await?;
        Ok(())
    }

    /// The topic's partitions as the catalogue places them now.
    pub async fn placement(&self, topic: &str) -> anyhow::Result<Vec<cpb::PartitionInfo>> {
        let req = cpb::DescribeTopicRequest {
            caller: Some(Self::caller()),
            topic: topic.into(),
            scope: cpb::Scope::Global as i32,
        };
        let info = self
            .allocators
            .client()
            .call(Duration::from_secs(10), |mut s| {
                let r = req.clone();
                async move { s.describe_topic(r).await }
            })
            .await?
            .into_inner()
            .topic
            .context("catalogue answered without a topic")?;
        let mut parts = info.partitions;
        parts.sort_by_key(|p| p.partition);
        Ok(parts)
    }

    /// A client of one partition over its current replicas.
    pub fn partition_client(&self, p: &cpb::PartitionInfo) -> PartitionClient {
        PartitionClient::new(self.nodes.channels.clone(), p.group_id, p.replica_addrs.clone())
    }

    /// Node indexes of a partition's replicas that this cluster runs.
    fn replica_indexes(&self, p: &cpb::PartitionInfo) -> Vec<usize> {
        p.replica_addrs.iter().filter_map(|a| self.nodes.index_of_addr(a)).collect()
    }

    async fn leader_of(&self, p: &cpb::PartitionInfo) -> anyhow::Result<usize> {
        self.nodes.wait_leader(&self.partition_client(p), Duration::from_secs(20)).await
    }

    /// Waits until every partition has 3 replicas on live nodes and a leader.
    pub async fn wait_healthy(&self, topic: &str, within: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + within;
        let mut last = String::new();
        loop {
            if let (Ok(parts), Ok(live)) = (self.placement(topic).await, self.allocators.live_storage_nodes().await) {
                last = format!(
                    "live nodes {live:?}; replicas {:?}",
                    parts.iter().map(|p| (p.partition, p.replicas.clone())).collect::<Vec<_>>()
                );
                let placed = parts.iter().all(|p| p.replicas.len() == 3 && p.replicas.iter().all(|r| live.contains(r)));
                // The catalogue may still count a wiped node's old id as live
                // (it is back at the same address under a new id): ask each
                // replica itself whether it hosts the group as that node.
                let mut hosted = placed;
                for p in parts.iter().filter(|_| placed) {
                    let client = self.partition_client(p);
                    for (id, addr) in p.replicas.iter().zip(&p.replica_addrs) {
                        let ok = client.status(addr).await.is_ok_and(|s| s.node_id == *id);
                        if !ok {
                            last.push_str(&format!("; {addr} does not host group {} as node {id}", p.group_id));
                            hosted = false;
                        }
                    }
                }
                if hosted {
                    let mut led = true;
                    for p in &parts {
                        led &= self.nodes.wait_leader(&self.partition_client(p), Duration::from_secs(2)).await.is_ok();
                    }
                    if led {
                        return Ok(());
                    }
                    last.push_str("; some partition has no leader");
                }
            }
            if tokio::time::Instant::now() > until {
                bail!("topic {topic} not fully replicated with leaders after {within:?}: {last}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Injects one fault, holds it, heals it. Returns its description.
    /// `on_injected` is called with the description right after injection
    /// (the run records the fault there), `on_healed` right after healing.
    pub async fn inject(
        &mut self,
        topic: &str,
        planned: Planned,
        on_injected: impl Fn(&str),
        on_healed: impl Fn(),
    ) -> anyhow::Result<String> {
        let mut rng = StdRng::seed_from_u64(planned.target_seed);
        let parts = self.placement(topic).await?;
        let part = parts.choose(&mut rng).context("the topic has no partitions")?.clone();
        let leader = self.leader_of(&part).await?;
        let followers: Vec<usize> = self.replica_indexes(&part).into_iter().filter(|&i| i != leader).collect();
        let follower = *followers.choose(&mut rng).context("the partition has no follower here")?;
        let p = part.partition;
        let hold = planned.hold;
        let description = match planned.kind {
            FaultKind::KillLeader | FaultKind::KillFollower => {
                let (who, i) =
                    if planned.kind == FaultKind::KillLeader { ("leader", leader) } else { ("follower", follower) };
                let d = format!("kill {who} node {i} of partition {p} for {hold:?}");
                self.nodes.kill(i).await?;
                on_injected(&d);
                tokio::time::sleep(hold).await;
                self.nodes.restart(i).await?;
                d
            }
            FaultKind::PauseLeader => {
                let d = format!("pause leader node {leader} of partition {p} for {hold:?}");
                self.pause(leader)?;
                on_injected(&d);
                tokio::time::sleep(hold).await;
                self.resume(leader)?;
                d
            }
            FaultKind::WipeRestart => {
                let d = format!("kill follower node {follower} of partition {p}, wipe its data, restart it");
                self.nodes.kill(follower).await?;
                on_injected(&d);
                self.nodes.wipe(follower)?;
                tokio::time::sleep(hold).await;
                self.nodes.restart(follower).await?;
                d
            }
            FaultKind::RemoveAddNode => {
                let node_id = self.nodes.nodes[follower].node_id;
                let d =
                    format!("decommission node {follower} (id {node_id}), then wipe it and add it back as a new node");
                self.decommission(node_id).await?;
                on_injected(&d);
                self.wait_drained(topic, node_id, Duration::from_secs(60)).await?;
                self.nodes.kill(follower).await?;
                self.nodes.wipe(follower)?;
                self.nodes.restart(follower).await?;
                d
            }
            FaultKind::LoseUnreplicatedLeader => {
                let d = format!("freeze the followers of partition {p}, then kill and wipe its leader node {leader}");
                for &f in &followers {
                    self.pause(f)?;
                }
                on_injected(&d);
                tokio::time::sleep(hold).await;
                self.nodes.kill(leader).await?;
                self.nodes.wipe(leader)?;
                for &f in &followers {
                    self.resume(f)?;
                }
                self.nodes.restart(leader).await?;
                d
            }
            FaultKind::IsolateLeader => {
                let lab = self.lab()?;
                let d = format!("isolate leader node {leader} of partition {p} for {hold:?}");
                lab.isolate(leader)?;
                on_injected(&d);
                tokio::time::sleep(hold).await;
                lab.heal()?;
                d
            }
            FaultKind::SplitMinority => {
                let lab = self.lab()?;
                // The leader and as many others as keep its side a minority.
                let mut others: Vec<usize> = (0..self.nodes.nodes.len()).filter(|&i| i != leader).collect();
                others.shuffle(&mut rng);
                let mut minority = vec![leader];
                minority.extend(others.into_iter().take(((self.nodes.nodes.len() - 1) / 2).saturating_sub(1)));
                minority.sort_unstable();
                let d = format!(
                    "split nodes {minority:?} (with leader {leader} of partition {p}) from the rest for {hold:?}"
                );
                lab.split(&minority)?;
                on_injected(&d);
                tokio::time::sleep(hold).await;
                lab.heal()?;
                d
            }
        };
        on_healed();
        Ok(description)
    }

    fn lab(&self) -> anyhow::Result<Arc<NetLab>> {
        self.nodes.lab().cloned().context("network faults need the nodes in a network lab (Shape::network)")
    }

    fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes.pause(i)?;
        self.paused.insert(i);
        Ok(())
    }

    fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        self.nodes.resume(i)?;
        self.paused.remove(&i);
        Ok(())
    }

    async fn decommission(&self, node_id: u64) -> anyhow::Result<()> {
        self.allocators
            .client()
            .call(
                Duration::from_secs(10),
                |mut s| async move { s.decommission(cpb::DecommissionRequest { node_id }).await },
            )
            .await?;
        Ok(())
    }

    /// Waits until no partition of the topic keeps a replica on `node_id`.
    async fn wait_drained(&self, topic: &str, node_id: u64, within: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + within;
        loop {
            if let Ok(parts) = self.placement(topic).await {
                if parts.iter().all(|p| !p.replicas.contains(&node_id)) {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > until {
                bail!("node {node_id} still holds replicas after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Copies every process's log (`*.log` of the allocators', nodes' and
    /// gateways' folders) into `dir`; returns how many files.
    pub fn copy_logs(&self, dir: &std::path::Path) -> anyhow::Result<usize> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut n = 0;
        for folder in [self.allocators.folder(), self.nodes.folder(), self.gateways.folder()] {
            for entry in std::fs::read_dir(folder)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "log") {
                    let name = path.file_name().context("a log file has a name")?;
                    std::fs::copy(&path, dir.join(name))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Undoes anything left: mends cut links, resumes paused nodes and
    /// starts stopped ones.
    pub async fn heal_all(&mut self) -> anyhow::Result<()> {
        if let Some(lab) = self.nodes.lab() {
            lab.heal()?;
        }
        for i in std::mem::take(&mut self.paused) {
            self.nodes.resume(i)?;
        }
        for i in 0..self.nodes.nodes.len() {
            if !self.nodes.is_up(i) {
                self.nodes.restart(i).await?;
            }
        }
        Ok(())
    }
}
