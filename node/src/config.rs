//! The node's configuration, checked once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::liveness::LivenessConfig;
use crate::raft::RaftTiming;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Address peers and clients use to reach this node (host:port).
    pub advertise: String,
    pub timing: RaftTiming,
    pub liveness: LivenessConfig,
    pub write_timeout: Duration,
    pub retention_interval: Duration,
    /// Allocators to register with and report load to (none: standalone).
    pub allocators: Vec<String>,
    pub report_interval: Duration,
    /// Test-only: acknowledge appends before replication (negative control).
    pub fault_ack_before_replication: bool,
}

/// Unchecked settings, as given on the command line or by a test.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub advertise: Option<String>,
    pub heartbeat: Duration,
    pub failure_timeout: Duration,
    pub election_delay_min: Duration,
    pub election_delay_max: Duration,
    pub snapshot_every: u64,
    pub log_keep: u64,
    pub write_timeout: Duration,
    pub retention_interval: Duration,
    pub allocators: Vec<String>,
    pub report_interval: Duration,
    pub fault_ack_before_replication: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failure timeout ({failure:?}) must be at least 2 × heartbeat ({heartbeat:?})")]
    FailureTimeout { heartbeat: Duration, failure: Duration },
    #[error("election delay min ({min:?}) must not exceed max ({max:?})")]
    ElectionDelay { min: Duration, max: Duration },
    #[error("heartbeat must be at least 10 ms, got {0:?}")]
    Heartbeat(Duration),
    #[error("listen address {0} has port 0: peers need a stable address in the Raft membership")]
    EphemeralPort(SocketAddr),
    #[error("snapshot interval must be at least 100 entries")]
    SnapshotEvery,
}

impl Settings {
    pub fn validate(self) -> Result<Config, ConfigError> {
        if self.heartbeat < Duration::from_millis(10) {
            return Err(ConfigError::Heartbeat(self.heartbeat));
        }
        if self.failure_timeout < self.heartbeat * 2 {
            return Err(ConfigError::FailureTimeout { heartbeat: self.heartbeat, failure: self.failure_timeout });
        }
        if self.election_delay_min > self.election_delay_max {
            return Err(ConfigError::ElectionDelay { min: self.election_delay_min, max: self.election_delay_max });
        }
        if self.listen.port() == 0 {
            return Err(ConfigError::EphemeralPort(self.listen));
        }
        if self.snapshot_every < 100 {
            return Err(ConfigError::SnapshotEvery);
        }
        let advertise = self.advertise.unwrap_or_else(|| self.listen.to_string());
        Ok(Config {
            data_dir: self.data_dir,
            listen: self.listen,
            advertise,
            timing: RaftTiming {
                rpc_timeout_ms: crate::raft::RAFT_RPC_TIMEOUT_MS,
                snapshot_every: self.snapshot_every,
                log_keep: self.log_keep,
            },
            liveness: LivenessConfig {
                interval: self.heartbeat,
                failure_timeout: self.failure_timeout,
                election_delay_min: self.election_delay_min,
                election_delay_max: self.election_delay_max,
            },
            write_timeout: self.write_timeout,
            retention_interval: self.retention_interval,
            allocators: self.allocators,
            report_interval: self.report_interval,
            fault_ack_before_replication: self.fault_ack_before_replication,
        })
    }
}
