//! The allocator's configuration, checked once at start-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::allocator::AllocatorConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub id: u64,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Every catalogue replica, self included: id → address.
    pub peers: BTreeMap<u64, String>,
    pub heartbeat_ms: u64,
    pub allocator: AllocatorConfig,
    /// Users who are cluster admins from the start.
    pub admins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("peer `{0}` is not of the form ID=HOST:PORT")]
    Peer(String),
    #[error("this allocator's id {0} is not among --peers")]
    SelfMissing(u64),
    #[error("replace-after ({replace:?}) must be at least down-after ({down:?})")]
    ReplaceBeforeDown { replace: Duration, down: Duration },
}

/// Parses `1=127.0.0.1:7001,2=…`.
pub fn parse_peers(specs: &[String]) -> Result<BTreeMap<u64, String>, ConfigError> {
    specs
        .iter()
        .map(|s| {
            let (id, addr) = s.split_once('=').ok_or_else(|| ConfigError::Peer(s.clone()))?;
            let id = id.trim().parse::<u64>().map_err(|_| ConfigError::Peer(s.clone()))?;
            if id == 0 || addr.trim().is_empty() {
                return Err(ConfigError::Peer(s.clone()));
            }
            Ok((id, addr.trim().to_string()))
        })
        .collect()
}

impl Config {
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !self.peers.contains_key(&self.id) {
            return Err(ConfigError::SelfMissing(self.id));
        }
        if self.allocator.replace_after < self.allocator.down_after {
            return Err(ConfigError::ReplaceBeforeDown {
                replace: self.allocator.replace_after,
                down: self.allocator.down_after,
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject_garbage() {
        let p = parse_peers(&["1=a:1".into(), "2 = b:2".into()]).expect("valid");
        assert_eq!(p.get(&2).map(String::as_str), Some("b:2"));
        assert!(parse_peers(&["x=a:1".into()]).is_err());
        assert!(parse_peers(&["3".into()]).is_err());
        assert!(parse_peers(&["0=a:1".into()]).is_err());
    }
}
