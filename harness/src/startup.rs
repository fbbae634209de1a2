//! What every process the harness starts needs: a port to listen on, and
//! the reason when it exits before it is ready.
//!
//! Ports are picked before the process starts, because its address goes
//! into Raft memberships and peer lists and must survive restarts. So
//! between the pick and the process binding it, something else may take the
//! port. `bind(127.0.0.1:0)` hands out ports from the kernel's ephemeral
//! range, which is also where every outgoing connection's source port comes
//! from, and the tests open thousands of connections in parallel. A CI run
//! once had a node exit before it was ready, and its log was gone with its
//! temporary folder. Hence both halves here: ports come from below the
//! ephemeral range, where only other listeners compete, and a process that
//! exits early has the end of its log in the error.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::bail;

/// Lowest port handed out.
const LOWEST_PORT: u32 = 10_000;
/// Start of the ephemeral range where `/proc` cannot be read (Linux's default).
const DEFAULT_EPHEMERAL_START: u32 = 32_768;
/// Log lines quoted when a process exits before it is ready.
const TAIL_LINES: usize = 20;

/// A loopback port nothing listens on now, below the kernel's ephemeral
/// range. Each process walks the range from its own random start, so
/// concurrent tests and concurrent test processes rarely try the same port,
/// and each candidate is checked by binding it.
pub fn free_port() -> anyhow::Result<u16> {
    let top = ephemeral_start().unwrap_or(DEFAULT_EPHEMERAL_START).min(u32::from(u16::MAX));
    if top <= LOWEST_PORT + 1_000 {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        return Ok(l.local_addr()?.port());
    }
    let span = top - LOWEST_PORT;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(random_start(span)));
    for _ in 0..span {
        let port = (LOWEST_PORT + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port between {LOWEST_PORT} and {top}")
}

fn ephemeral_start() -> Option<u32> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

fn random_start(span: u32) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() % u64::from(span)) as u32
}

/// The error for a process that exited before it was ready: its last log
/// lines, since the log may be deleted with its folder before anyone reads it.
pub fn exited_early(what: &str, log: &Path) -> anyhow::Error {
    anyhow::anyhow!("{what} exited before it was ready; the end of {}:\n{}", log.display(), log_tail(log))
}

/// The error for a process still not ready after `within`, with the same
/// log lines.
pub fn not_ready(what: &str, within: Duration, log: &Path) -> anyhow::Error {
    anyhow::anyhow!("{what} not ready within {within:?}; the end of {}:\n{}", log.display(), log_tail(log))
}

fn log_tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(its log could not be read: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let top = ephemeral_start().unwrap_or(DEFAULT_EPHEMERAL_START);
        let ports: Vec<u16> = (0..50).map(|_| free_port().expect("a free port")).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!((LOWEST_PORT..top).contains(&u32::from(p)), "{p} outside {LOWEST_PORT}..{top}");
            std::net::TcpListener::bind(("127.0.0.1", p)).expect("the port is free");
        }
    }

    #[test]
    fn an_early_exit_quotes_the_end_of_the_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("node-0.log");
        let text: String = (0..30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).expect("write log");
        let e = exited_early("node 0", &log).to_string();
        assert!(e.contains("line 29") && e.contains("line 10"), "{e}");
        assert!(!e.contains("line 9\n"), "{e}");
        let e = not_ready("node 0", Duration::from_secs(30), &log).to_string();
        assert!(e.contains("30s") && e.contains("line 29") && !e.contains("line 9\n"), "{e}");
    }
}
