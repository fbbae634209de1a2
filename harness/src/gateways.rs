//! Real `zya-gateway` processes (the JSON WebSocket front door) on loopback.
//!
//! Each gateway gets a fixed port, so its URL — what clients hold and what the
//! service map lists — survives a restart. Logs go to
//! `<folder>/gateway-<i>.log`.
//!
//! ```text
//!   WebSocket client ──ws://127.0.0.1:PORT/v1/ws──> zya-gateway ──gRPC──> allocators, nodes
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cluster::bin_dir;
use crate::startup::{exited_early, free_port, not_ready};

/// Development secret the test gateways verify tokens with. At least 32
/// bytes, as the gateway requires of an HS256 key.
pub const TEST_DEV_SECRET: &str = "zya-test-development-secret-0123456789";

/// Member ids of gateways are `GATEWAY_ID_BASE + port`: unique among the
/// gateways of one machine, equal across restarts (the port is kept), and
/// far from the allocators' small ids.
const GATEWAY_ID_BASE: u64 = 1_000_000;

/// How long a gateway may take to print its ready line.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Flags of every gateway of a [`Gateways`]; `None` keeps the gateway's
/// own default.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// HS256 secret of development tokens (`--dev-secret`).
    pub dev_secret: String,
    /// Largest WebSocket frame; a larger one is closed with 1009.
    pub max_frame_bytes: Option<u64>,
    /// Largest single message payload; a larger one is `PayloadTooLarge`.
    pub max_message_bytes: Option<u64>,
    /// Published messages per second per connection.
    pub publish_rate: Option<u32>,
    /// Messages a connection may publish at once before the rate applies.
    pub publish_burst: Option<u32>,
    pub max_connections_per_user: Option<u32>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            dev_secret: TEST_DEV_SECRET.to_owned(),
            max_frame_bytes: None,
            max_message_bytes: None,
            publish_rate: None,
            publish_burst: None,
            max_connections_per_user: None,
        }
    }
}

pub struct GatewayProc {
    pub id: u64,
    /// `127.0.0.1:PORT`, where it listens.
    pub listen: String,
    /// `ws://127.0.0.1:PORT/v1/ws`, as the gateway announced it.
    pub url: String,
    pub log: PathBuf,
    child: Option<Child>,
}

pub struct Gateways {
    pub procs: Vec<GatewayProc>,
    allocators: Vec<String>,
    options: GatewayOptions,
    bin: PathBuf,
    /// Deleted on drop (logs with it).
    dir: tempfile::TempDir,
}

impl Gateways {
    /// Starts `n` gateways on free ports, each using `allocators`
    /// (`host:port`), and waits until each serves.
    pub async fn start(n: usize, allocators: Vec<String>, options: GatewayOptions) -> anyhow::Result<Self> {
        let bin = bin_dir()?.join("zya-gateway");
        if !bin.exists() {
            bail!("{} not found: build the binaries first (cargo build --bins)", bin.display());
        }
        let dir = tempfile::Builder::new().prefix("zya-gateways-").tempdir().context("create gateway folder")?;
        let mut procs = Vec::new();
        for i in 0..n {
            let port = free_port()?;
            procs.push(GatewayProc {
                id: GATEWAY_ID_BASE + u64::from(port),
                listen: format!("127.0.0.1:{port}"),
                url: format!("ws://127.0.0.1:{port}/v1/ws"),
                log: dir.path().join(format!("gateway-{i}.log")),
                child: None,
            });
        }
        let mut gateways = Self { procs, allocators, options, bin, dir };
        for i in 0..n {
            gateways.spawn(i).await?;
        }
        Ok(gateways)
    }

    /// The WebSocket URLs, in start order.
    pub fn urls(&self) -> Vec<String> {
        self.procs.iter().map(|p| p.url.clone()).collect()
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    /// The gateway's log so far (stderr of every run of it).
    pub fn log_text(&self, i: usize) -> String {
        std::fs::read_to_string(&self.procs[i].log).unwrap_or_default()
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.procs[i].child.is_some()
    }

    /// Process id of a running gateway.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.procs[i].child.as_ref().and_then(|c| c.id())
    }

    async fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let o = &self.options;
        let p = &mut self.procs[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&p.log)?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--listen", &p.listen, "--id", &p.id.to_string()])
            .args(["--allocators", &self.allocators.join(",")])
            .args(["--dev-secret", &o.dev_secret]);
        let limits = [
            ("--max-frame-bytes", o.max_frame_bytes),
            ("--max-message-bytes", o.max_message_bytes),
            ("--publish-rate", o.publish_rate.map(u64::from)),
            ("--publish-burst", o.publish_burst.map(u64::from)),
            ("--max-connections-per-user", o.max_connections_per_user.map(u64::from)),
        ];
        for (flag, value) in limits {
            if let Some(v) = value {
                cmd.args([flag, &v.to_string()]);
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", self.bin.display()))?;
        let stdout = child.stdout.take().context("gateway stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(READY_WITHIN, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("zya-gateway ready ") {
                    let url = rest.split_whitespace().find_map(|f| f.strip_prefix("url="));
                    return Ok::<String, anyhow::Error>(url.unwrap_or_default().to_owned());
                }
            }
            Err(exited_early(&format!("gateway {i}"), &p.log))
        })
        .await
        .map_err(|_| not_ready(&format!("gateway {i}"), READY_WITHIN, &p.log))??;
        if url != p.url {
            bail!("gateway {i} announced {url:?}, expected {:?}", p.url);
        }
        // Keep draining stdout so the gateway never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        p.child = Some(child);
        Ok(())
    }

    /// SIGKILL: the gateway dies at once; its clients see their sockets drop.
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut child) = self.procs[i].child.take() {
            child.start_kill().context("SIGKILL gateway")?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Kills the gateway if it runs and starts it again on the same port.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i).await?;
        self.spawn(i).await
    }
}
