//! Real `zya-allocator` processes (the catalogue's Raft group) on loopback,
//! or on another address of this machine (a [`crate::NetLab`]'s root address).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zya_client::{catalogue_pb as pb, CatalogueClient};

use crate::cluster::bin_dir;
use crate::startup::{exited_early, free_port, not_ready};

/// Settings of every allocator of a test cluster.
#[derive(Debug, Clone)]
pub struct AllocatorOptions {
    pub create_timeout: &'static str,
    pub down_after: &'static str,
    pub replace_after: &'static str,
    pub admins: &'static str,
}

impl Default for AllocatorOptions {
    fn default() -> Self {
        Self { create_timeout: "2s", down_after: "2s", replace_after: "60s", admins: "admin" }
    }
}

pub struct AllocatorProc {
    pub id: u64,
    pub addr: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

pub struct Allocators {
    pub procs: Vec<AllocatorProc>,
    options: AllocatorOptions,
    bin: PathBuf,
    /// Deleted on drop unless `None` (a kept development folder).
    _temp: Option<tempfile::TempDir>,
    dir: PathBuf,
}

impl Allocators {
    /// Starts `n` allocators on free ports in a temporary folder.
    pub async fn start(n: usize, options: AllocatorOptions) -> anyhow::Result<Self> {
        Self::start_on(IpAddr::from([127, 0, 0, 1]), n, options).await
    }

    /// Starts `n` allocators listening on `ip` (an address of this machine,
    /// e.g. [`crate::NetLab::root_ip`] so that nodes in a lab reach them) on
    /// free ports, in a temporary folder.
    pub async fn start_on(ip: IpAddr, n: usize, options: AllocatorOptions) -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new().prefix("zya-allocators-").tempdir()?;
        let ports = (0..n).map(|_| free_port()).collect::<anyhow::Result<Vec<_>>>()?;
        let addrs = ports.into_iter().map(|p| std::net::SocketAddr::new(ip, p).to_string()).collect();
        let dir = temp.path().to_path_buf();
        Self::start_with(dir, Some(temp), addrs, options).await
    }

    /// Starts allocators on fixed ports with data kept in `folder`.
    pub async fn start_in(folder: PathBuf, ports: Vec<u16>, options: AllocatorOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&folder)?;
        let addrs = ports.into_iter().map(|p| format!("127.0.0.1:{p}")).collect();
        Self::start_with(folder, None, addrs, options).await
    }

    async fn start_with(
        dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        addrs: Vec<String>,
        options: AllocatorOptions,
    ) -> anyhow::Result<Self> {
        let bin = bin_dir()?.join("zya-allocator");
        if !bin.exists() {
            bail!("{} not found: build the binaries first (cargo build --bins)", bin.display());
        }
        let n = addrs.len();
        let mut procs = Vec::new();
        for (i, addr) in addrs.into_iter().enumerate() {
            procs.push(AllocatorProc {
                id: i as u64 + 1,
                addr,
                data_dir: dir.join(format!("allocator-{}", i + 1)),
                log: dir.join(format!("allocator-{}.log", i + 1)),
                child: None,
            });
        }
        let mut a = Self { procs, options, bin, _temp: temp, dir };
        for i in 0..n {
            a.spawn(i).await?;
        }
        Ok(a)
    }

    pub fn addrs(&self) -> Vec<String> {
        self.procs.iter().map(|p| p.addr.clone()).collect()
    }

    pub fn client(&self) -> CatalogueClient {
        CatalogueClient::new(self.addrs())
    }

    pub fn folder(&self) -> &std::path::Path {
        &self.dir
    }

    /// Ids of the storage nodes the catalogue counts as live now.
    pub async fn live_storage_nodes(&self) -> anyhow::Result<Vec<u64>> {
        let status = self
            .client()
            .call(Duration::from_secs(5), |mut s| async move { s.cluster_status(pb::ClusterStatusRequest {}).await })
            .await?
            .into_inner();
        Ok(status
            .members
            .iter()
            .filter(|m| m.live && m.kind == pb::MemberKind::StorageNode as i32)
            .map(|m| m.id)
            .collect())
    }

    /// Waits until at least `n` storage nodes are live in the catalogue.
    pub async fn wait_live_storage_nodes(&self, n: usize, within: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let live = self.live_storage_nodes().await.map(|ids| ids.len()).unwrap_or(0);
            if live >= n {
                return Ok(());
            }
            if tokio::time::Instant::now() > until {
                bail!("only {live} of {n} storage nodes live in the catalogue after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let peers: Vec<String> = self.procs.iter().map(|p| format!("{}={}", p.id, p.addr)).collect();
        let o = self.options.clone();
        let p = &mut self.procs[i];
        std::fs::create_dir_all(&p.data_dir)?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&p.log)?;
        let mut child = Command::new(&self.bin)
            .args(["--id", &p.id.to_string()])
            .arg("--data-dir")
            .arg(&p.data_dir)
            .args(["--listen", &p.addr, "--peers", &peers.join(",")])
            .args(["--create-timeout", o.create_timeout, "--down-after", o.down_after])
            .args(["--replace-after", o.replace_after, "--admins", o.admins])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", self.bin.display()))?;
        let stdout = child.stdout.take().context("allocator stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("zya-allocator ready") {
                    return Ok::<(), anyhow::Error>(());
                }
            }
            Err(exited_early(&format!("allocator {}", p.id), &p.log))
        })
        .await
        .map_err(|_| not_ready(&format!("allocator {}", p.id), Duration::from_secs(30), &p.log))??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        p.child = Some(child);
        Ok(())
    }

    /// Index of the current catalogue leader, as the cluster reports it.
    pub async fn leader(&self, within: Duration) -> anyhow::Result<usize> {
        let client = self.client();
        let until = tokio::time::Instant::now() + within;
        loop {
            let status = client
                .call(
                    Duration::from_secs(2),
                    |mut s| async move { s.cluster_status(pb::ClusterStatusRequest {}).await },
                )
                .await;
            if let Ok(st) = status {
                if let Some(l) = st.into_inner().catalogue_leader {
                    if let Some(i) = self.procs.iter().position(|p| p.id == l && p.child.is_some()) {
                        return Ok(i);
                    }
                }
            }
            if tokio::time::Instant::now() > until {
                bail!("no catalogue leader after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut c) = self.procs[i].child.take() {
            c.start_kill()?;
            c.wait().await?;
        }
        Ok(())
    }

    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i).await?;
        self.spawn(i).await
    }
}
