//! A cluster of real `zya-node` processes.
//!
//! Each node gets a fixed loopback port (its address is part of the Raft
//! membership, so it survives restarts) and a data directory in a temporary
//! folder. Logs go to `<folder>/node-<i>.log`; a node that exits before it
//! is ready has the end of its log in the error.
//!
//! A cluster started with [`Cluster::start_in_lab`] runs node `i` inside host
//! `i` of a [`NetLab`] instead, listening on that host's address, so the
//! network between nodes (and between a node and everything else) can be cut.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zya_client::{pb, Channels, PartitionClient};

use crate::netlab::NetLab;
use crate::startup::{exited_early, free_port, not_ready};

/// Port of every node of a lab cluster: each host has its own address and
/// port space, so one well-known port serves all.
pub const LAB_NODE_PORT: u16 = 7000;

/// Longest wait for one replica's status while looking for a leader or
/// convergence: a paused or cut-off node never answers.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// Options every node of the cluster starts with.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub heartbeat: &'static str,
    pub failure_timeout: &'static str,
    pub election_delay_min: &'static str,
    pub election_delay_max: &'static str,
    pub snapshot_every: u64,
    pub log_keep: u64,
    pub retention_interval: &'static str,
    pub fault_ack_before_replication: bool,
    /// Allocators the nodes register with (none: standalone nodes).
    pub allocators: Vec<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            heartbeat: "100ms",
            failure_timeout: "400ms",
            election_delay_min: "20ms",
            election_delay_max: "300ms",
            snapshot_every: 20_000,
            log_keep: 1000,
            retention_interval: "30s",
            fault_ack_before_replication: false,
            allocators: Vec::new(),
        }
    }
}

pub struct NodeProc {
    pub addr: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// The node id announced by the running process (changes after a wipe).
    pub node_id: u64,
    child: Option<Child>,
    paused: bool,
}

pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub channels: Channels,
    options: NodeOptions,
    bin: PathBuf,
    dir: Folder,
    /// Node `i` runs in host `i` of this lab (`None`: on loopback).
    lab: Option<Arc<NetLab>>,
}

/// Where the cluster keeps its data and logs.
enum Folder {
    /// Deleted when the cluster is dropped (tests, benchmarks).
    Temp(tempfile::TempDir),
    /// Kept (the development cluster).
    Fixed(PathBuf),
}

impl Folder {
    fn path(&self) -> &Path {
        match self {
            Folder::Temp(t) => t.path(),
            Folder::Fixed(p) => p,
        }
    }
}

/// The folder holding the project's binaries: `ZYA_BIN_DIR`, or the cargo
/// target folder the running test or tool was built into.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("ZYA_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("find the running executable")?;
    let mut dir = exe.parent().context("executable has a folder")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

impl Cluster {
    /// Starts `n` nodes on free ports in a temporary folder and waits until
    /// each serves.
    pub async fn start(n: usize, options: NodeOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("zya-cluster-").tempdir().context("create cluster folder")?;
        let ports = (0..n).map(|_| free_port()).collect::<anyhow::Result<Vec<_>>>()?;
        let addrs = ports.into_iter().map(|p| format!("127.0.0.1:{p}")).collect();
        Self::start_with(Folder::Temp(dir), addrs, None, options).await
    }

    /// Starts one node in each host of `lab` (node `i` in host `i`, at
    /// `<lab.ip(i)>:LAB_NODE_PORT`) in a temporary folder. Allocators the
    /// nodes register with must listen where the hosts reach them: on
    /// `lab.root_ip()` (see [`crate::Allocators::start_on`]).
    pub async fn start_in_lab(lab: Arc<NetLab>, options: NodeOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("zya-cluster-").tempdir().context("create cluster folder")?;
        let addrs = (0..lab.hosts()).map(|i| format!("{}:{LAB_NODE_PORT}", lab.ip(i))).collect();
        Self::start_with(Folder::Temp(dir), addrs, Some(lab), options).await
    }

    /// Starts nodes on the given ports with data kept in `folder` (reused
    /// by the next start with the same folder and ports).
    pub async fn start_in(folder: PathBuf, ports: Vec<u16>, options: NodeOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&folder).with_context(|| format!("create {}", folder.display()))?;
        let addrs = ports.into_iter().map(|p| format!("127.0.0.1:{p}")).collect();
        Self::start_with(Folder::Fixed(folder), addrs, None, options).await
    }

    async fn start_with(
        dir: Folder,
        addrs: Vec<String>,
        lab: Option<Arc<NetLab>>,
        options: NodeOptions,
    ) -> anyhow::Result<Self> {
        let bin = bin_dir()?.join("zya-node");
        if !bin.exists() {
            bail!("{} not found: build the binaries first (cargo build --bins)", bin.display());
        }
        let n = addrs.len();
        let mut cluster = Self { nodes: Vec::new(), channels: Channels::default(), options, bin, dir, lab };
        for (i, addr) in addrs.into_iter().enumerate() {
            cluster.nodes.push(NodeProc {
                addr,
                data_dir: cluster.dir.path().join(format!("node-{i}")),
                log: cluster.dir.path().join(format!("node-{i}.log")),
                node_id: 0,
                child: None,
                paused: false,
            });
        }
        for i in 0..n {
            cluster.spawn(i).await?;
        }
        Ok(cluster)
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    /// The lab the nodes run in, if any.
    pub fn lab(&self) -> Option<&Arc<NetLab>> {
        self.lab.as_ref()
    }

    async fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let o = self.options.clone();
        let node = &mut self.nodes[i];
        std::fs::create_dir_all(&node.data_dir)?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log)?;
        let mut cmd = match &self.lab {
            Some(lab) => lab.command(i, &self.bin),
            None => Command::new(&self.bin),
        };
        cmd.arg("--data-dir")
            .arg(&node.data_dir)
            .args(["--listen", &node.addr, "--advertise", &node.addr])
            .args(["--heartbeat", o.heartbeat])
            .args(["--failure-timeout", o.failure_timeout])
            .args(["--election-delay-min", o.election_delay_min])
            .args(["--election-delay-max", o.election_delay_max])
            .args(["--snapshot-every", &o.snapshot_every.to_string()])
            .args(["--log-keep", &o.log_keep.to_string()])
            .args(["--retention-interval", o.retention_interval])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if !o.allocators.is_empty() {
            cmd.args(["--allocators", &o.allocators.join(","), "--report-interval", "200ms"]);
        }
        if o.fault_ack_before_replication {
            cmd.arg("--test-fault-ack-before-replication");
        }
        let mut child = cmd.spawn().with_context(|| format!("start {}", self.bin.display()))?;
        let stdout = child.stdout.take().context("node stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("zya-node ready node_id=") {
                    let id = rest.split_whitespace().next().unwrap_or_default();
                    return Ok::<u64, anyhow::Error>(id.parse()?);
                }
            }
            Err(exited_early(&format!("node {i}"), &node.log))
        })
        .await
        .map_err(|_| not_ready(&format!("node {i}"), Duration::from_secs(30), &node.log))??;
        // Keep draining stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        node.node_id = ready;
        node.child = Some(child);
        node.paused = false;
        Ok(())
    }

    /// SIGKILL: the process dies at once, without flushing anything.
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut child) = self.nodes[i].child.take() {
            if self.nodes[i].paused {
                self.signal(&child, nix::sys::signal::Signal::SIGCONT)?;
            }
            child.start_kill().context("SIGKILL node")?;
            child.wait().await?;
        }
        Ok(())
    }

    /// SIGTERM to every running node, then up to `grace` for each to exit
    /// (a node flushes its state machines on the way out); one still
    /// running after that is killed. Returns how many had to be killed.
    pub async fn stop_all(&mut self, grace: Duration) -> anyhow::Result<usize> {
        for i in 0..self.nodes.len() {
            if let Some(child) = self.nodes[i].child.as_ref() {
                if self.nodes[i].paused {
                    self.signal(child, nix::sys::signal::Signal::SIGCONT)?;
                }
                self.signal(child, nix::sys::signal::Signal::SIGTERM)?;
            }
        }
        let until = tokio::time::Instant::now() + grace;
        let mut killed = 0;
        for node in &mut self.nodes {
            let Some(mut child) = node.child.take() else { continue };
            node.paused = false;
            if tokio::time::timeout_at(until, child.wait()).await.is_err() {
                child.start_kill().context("SIGKILL node")?;
                child.wait().await?;
                killed += 1;
            }
        }
        Ok(killed)
    }

    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i).await?;
        self.spawn(i).await
    }

    /// Deletes the node's data directory (it must be down).
    pub fn wipe(&mut self, i: usize) -> anyhow::Result<()> {
        if self.nodes[i].child.is_some() {
            bail!("wipe node {i} while it runs");
        }
        std::fs::remove_dir_all(&self.nodes[i].data_dir).context("wipe data dir")?;
        Ok(())
    }

    /// Process id of a running node.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().and_then(|c| c.id())
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    /// Whether this process can talk to node `i` now: it runs, is not
    /// paused, and no lab cut separates it from the root namespace.
    pub fn is_reachable(&self, i: usize) -> bool {
        self.is_up(i) && !self.nodes[i].paused && self.lab.as_ref().is_none_or(|l| l.reaches_root(i))
    }

    fn signal(&self, child: &Child, sig: nix::sys::signal::Signal) -> anyhow::Result<()> {
        let pid = child.id().context("child has a pid")?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).context("signal node")?;
        Ok(())
    }

    /// SIGSTOP: the process freezes, sockets stay open.
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        let child = self.nodes[i].child.as_ref().context("node is down")?;
        self.signal(child, nix::sys::signal::Signal::SIGSTOP)?;
        self.nodes[i].paused = true;
        Ok(())
    }

    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        let child = self.nodes[i].child.as_ref().context("node is down")?;
        self.signal(child, nix::sys::signal::Signal::SIGCONT)?;
        self.nodes[i].paused = false;
        Ok(())
    }

    /// The node's log so far (stderr of every run of it).
    pub fn log_text(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    pub fn addr(&self, i: usize) -> &str {
        &self.nodes[i].addr
    }

    pub fn index_of_addr(&self, addr: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == addr)
    }

    /// Creates a group on the given nodes (the first bootstraps it) and
    /// returns a client for it once it has a leader.
    pub async fn create_group(
        &self,
        group_id: u64,
        on: &[usize],
        config: pb::PartitionConfig,
    ) -> anyhow::Result<PartitionClient> {
        let members: Vec<pb::Replica> = on
            .iter()
            .map(|&i| pb::Replica { node_id: self.nodes[i].node_id, addr: self.nodes[i].addr.clone() })
            .collect();
        // The bootstrapping replica goes last: it starts an election at
        // once, and its peers must already host the group to vote.
        for (k, &i) in on.iter().enumerate().rev() {
            let mut stub = self.channels.stub(self.addr(i))?;
            stub.create_replica(pb::CreateReplicaRequest {
                group_id,
                config: Some(config.clone()),
                members: members.clone(),
                bootstrap: k == 0,
            })
            .await
            .with_context(|| format!("create replica of group {group_id} on node {i}"))?;
        }
        let client = self.client(group_id, on);
        self.wait_leader(&client, Duration::from_secs(20)).await?;
        Ok(client)
    }

    pub fn client(&self, group_id: u64, on: &[usize]) -> PartitionClient {
        PartitionClient::new(self.channels.clone(), group_id, on.iter().map(|&i| self.nodes[i].addr.clone()).collect())
    }

    /// Waits until some replica reports a leader among the client's
    /// replicas that says so itself; returns the leader's index. A client of
    /// a subset of the replicas thus waits for a leader inside that subset
    /// (e.g. the majority side of a split, while the old leader still claims
    /// the role).
    pub async fn wait_leader(&self, client: &PartitionClient, within: Duration) -> anyhow::Result<usize> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let replicas = client.replicas();
            for addr in &replicas {
                let Some(i) = self.index_of_addr(addr) else { continue };
                if !self.is_reachable(i) {
                    continue;
                }
                if let Ok(s) = status(client, addr).await {
                    if let Some(l) = s.leader_id {
                        let among = |n: &NodeProc| n.node_id == l && replicas.contains(&n.addr);
                        if let Some(li) = self.nodes.iter().position(among) {
                            if self.is_reachable(li) && s.leader_id == Some(self.nodes[li].node_id) {
                                if let Ok(ls) = status(client, self.addr(li)).await {
                                    if ls.leader_id == Some(l) && ls.role == "Leader" {
                                        return Ok(li);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if tokio::time::Instant::now() > until {
                bail!("group {} has no leader after {within:?}", client.group);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every running replica of the group has applied the same
    /// log end, and returns it.
    pub async fn wait_converged(&self, client: &PartitionClient, within: Duration) -> anyhow::Result<u64> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let mut ends = Vec::new();
            for addr in client.replicas() {
                let up = self.index_of_addr(&addr).is_some_and(|i| self.is_up(i));
                if up {
                    ends.push(status(client, &addr).await.map(|s| (s.next_offset, s.last_applied_index)).ok());
                }
            }
            let first = ends.first().cloned().flatten();
            if first.is_some() && ends.iter().all(|e| *e == first) {
                return Ok(first.map(|f| f.0).unwrap_or_default());
            }
            if tokio::time::Instant::now() > until {
                bail!("replicas of group {} did not converge: {ends:?}", client.group);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One replica's status, or an error if it does not answer in
/// [`STATUS_TIMEOUT`].
async fn status(client: &PartitionClient, addr: &str) -> anyhow::Result<pb::StatusReply> {
    match tokio::time::timeout(STATUS_TIMEOUT, client.status(addr)).await {
        Ok(reply) => Ok(reply?),
        Err(_) => bail!("{addr} did not answer within {STATUS_TIMEOUT:?}"),
    }
}
