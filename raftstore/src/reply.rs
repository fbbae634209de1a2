//! Building replies of the Raft peer service (`zya.raft.v1`), shared by the
//! storage nodes' and the catalogue's servers.

use serde::Serialize;
use zya_proto::raft::peer_failure::Code;
use zya_proto::raft::raft_reply::Result as ReplyResult;
use zya_proto::raft::{PeerFailure, RaftReply};

/// The node could not hand the request to a Raft group.
pub fn failure(code: Code, message: String) -> RaftReply {
    RaftReply { result: Some(ReplyResult::Failure(PeerFailure { code: code as i32, message })) }
}

/// The group's answer: its response, or the error it returned.
pub fn encode_result<T: Serialize, E: Serialize>(r: Result<T, E>) -> RaftReply {
    let result = match r {
        Ok(v) => ReplyResult::Ok(bincode::serialize(&v).expect("serializing to a Vec cannot fail")),
        Err(e) => ReplyResult::RaftError(bincode::serialize(&e).expect("serializing to a Vec cannot fail")),
    };
    RaftReply { result: Some(result) }
}
