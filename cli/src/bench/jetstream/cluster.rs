//! A 3-node NATS JetStream cluster on loopback, configured as the anchor
//! measurements of `../shared/bench/nats/` were (file storage, a WebSocket
//! listener without TLS or compression, 1 MB max payload), from Debian's
//! `nats-server`. Ports are our own (24221.., 26221.., 28221.., 28081..).
//!
//! The servers are children of this process; dropping the cluster stops
//! them (SIGTERM, then SIGKILL after a bound) and deletes their data, also
//! when a measurement fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

pub const NODES: usize = 3;
const CLIENT_PORT: u16 = 24221;
const CLUSTER_PORT: u16 = 26221;
const HTTP_PORT: u16 = 28221;
const WS_PORT: u16 = 28081;
const READY_WITHIN: Duration = Duration::from_secs(60);
const STOP_WITHIN: Duration = Duration::from_secs(15);

pub struct NatsCluster {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

/// Server name (`n1`..) of node `i`.
pub fn name(i: usize) -> String {
    format!("n{}", i + 1)
}

pub fn client_url(i: usize) -> String {
    format!("nats://127.0.0.1:{}", CLIENT_PORT + i as u16)
}

pub fn ws_url(i: usize) -> String {
    format!("ws://127.0.0.1:{}", WS_PORT + i as u16)
}

/// Node index of a server name.
pub fn index_of(server: &str) -> Option<usize> {
    (0..NODES).find(|&i| name(i) == server)
}

fn config(i: usize, store: &std::path::Path) -> String {
    let routes: Vec<String> =
        (0..NODES).map(|k| format!("\"nats-route://127.0.0.1:{}\"", CLUSTER_PORT + k as u16)).collect();
    format!(
        "server_name: \"{name}\"\nlisten: \"127.0.0.1:{client}\"\nhttp: \"127.0.0.1:{http}\"\nmax_payload: 1MB\n\
         jetstream {{ store_dir: \"{store}\", max_memory_store: 1GB, max_file_store: 20GB }}\n\
         websocket {{ host: \"127.0.0.1\", port: {ws}, no_tls: true, compression: false }}\n\
         cluster {{ name: \"zyabench\", listen: \"127.0.0.1:{cluster}\", routes: [{routes}] }}\n",
        name = name(i),
        client = CLIENT_PORT + i as u16,
        http = HTTP_PORT + i as u16,
        ws = WS_PORT + i as u16,
        cluster = CLUSTER_PORT + i as u16,
        store = store.display(),
        routes = routes.join(", "),
    )
}

fn binary() -> anyhow::Result<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/sbin", "/usr/bin"]) {
        let p = PathBuf::from(dir).join("nats-server");
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("nats-server not found: install Debian's package nats-server (./dev bench installs it)")
}

impl NatsCluster {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = binary()?;
        let dir = tempfile::Builder::new().prefix("zya-bench-nats-").tempdir()?;
        let mut children = Vec::new();
        for i in 0..NODES {
            let store = dir.path().join(name(i));
            std::fs::create_dir_all(&store)?;
            let conf = dir.path().join(format!("{}.conf", name(i)));
            std::fs::write(&conf, config(i, &store))?;
            let log = std::fs::File::create(dir.path().join(format!("{}.log", name(i))))?;
            let child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("start {}", bin.display()))?;
            children.push(child);
        }
        let cluster = Self { children, _dir: dir };
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    /// Until every server's `/healthz` answers ok (JetStream with a meta
    /// leader).
    async fn wait_ready(&self) -> anyhow::Result<()> {
        let until = Instant::now() + READY_WITHIN;
        for i in 0..NODES {
            loop {
                if healthz(HTTP_PORT + i as u16).await {
                    break;
                }
                if Instant::now() > until {
                    bail!("nats-server {} not healthy within {READY_WITHIN:?}", name(i));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// SIGTERM every server, then SIGKILL what is left after a bound.
    pub async fn stop(mut self) {
        for c in &self.children {
            if let Some(pid) = c.id() {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
            }
        }
        for c in &mut self.children {
            if tokio::time::timeout(STOP_WITHIN, c.wait()).await.is_err() {
                let _ = c.start_kill();
                let _ = c.wait().await;
            }
        }
    }
}

/// A bare HTTP/1.0 GET of `/healthz` (no HTTP client needed for one probe).
async fn healthz(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).await.ok()?;
        Some(body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(1), probe).await.ok().flatten().unwrap_or(false)
}
