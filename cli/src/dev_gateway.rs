//! The local cluster's gateway: one `zya-gateway` process on loopback,
//! verifying development tokens with a secret kept in the data folder (made
//! once, readable only by its owner) so tokens minted by `zya token` keep
//! working across restarts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where `zya dev up` keeps the development secret, relative to its data folder.
pub const SECRET_FILE: &str = "dev-secret";

/// The secret in `folder`, created (32 random bytes, hex) when absent.
pub fn dev_secret(folder: &Path) -> anyhow::Result<String> {
    let path = folder.join(SECRET_FILE);
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(s.trim().to_string());
    }
    std::fs::create_dir_all(folder)?;
    let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    write_private(&path, &secret).with_context(|| format!("write {}", path.display()))?;
    Ok(secret)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

pub struct DevGateway {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

/// Starts the gateway and waits for its ready line.
pub async fn start(folder: &Path, port: u16, allocators: &[String], secret: &str) -> anyhow::Result<DevGateway> {
    let log = folder.join("gateway.log");
    let bin = zya_harness::bin_dir()?.join("zya-gateway");
    let mut child = Command::new(&bin)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--allocators", &allocators.join(",")])
        .env("ZYA_DEV_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let stdout = child.stdout.take().context("gateway stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.split_whitespace().find_map(|w| w.strip_prefix("url=")) {
                return Ok::<_, anyhow::Error>(Some(url.to_string()));
            }
        }
        Ok(None)
    })
    .await;
    match ready {
        Ok(Ok(Some(url))) => Ok(DevGateway { child, url, log }),
        _ => anyhow::bail!("the gateway did not start; see {}", log.display()),
    }
}
