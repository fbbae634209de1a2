//! What a node remembers about a group it hosts, so it reopens the group
//! after a restart. Stored versioned in `raft_meta` under `group ‖ 4`.

use serde::{Deserialize, Serialize};

use zya_raftstore::{decode, encode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescriptor {
    pub group_id: u64,
    pub topic: String,
    pub partition: u32,
    /// 0 = keep forever.
    pub retention_ms: u64,
    /// 0 = no size limit.
    pub retention_bytes: u64,
    pub audited: bool,
}

impl GroupDescriptor {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, std::io::Error> {
        decode(bytes)
    }
}
