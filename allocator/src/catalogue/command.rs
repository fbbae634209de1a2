//! Commands replicated through the catalogue's Raft log, and what applying
//! them answers.
//!
//! A command is a request that every replica applies in log order with
//! [`Catalogue::apply`](super::state::Catalogue::apply). Whatever the command
//! carries, apply answers deterministically: a refusal is a
//! [`Rejection`] in the response (the same on every replica), never a panic
//! or an IO error, so a bad command can never wedge the state machine.
//!
//! Both enums are stored in the Raft log with bincode, which identifies a
//! variant by its index: add variants at the end only, never reorder or
//! remove them.

use serde::{Deserialize, Serialize};

use super::model::{Member, NodeId, Topic, TopicKey};
use super::subscriptions::Subscription;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum CatalogueCommand {
    /// Adds a member, or updates the kind and address of a known id (keeping
    /// its first registration time and its decommissioning flag).
    RegisterMember {
        member: Member,
    },
    /// Forgets a member; refused while it still hosts replicas.
    RemoveMember {
        id: NodeId,
    },
    /// Starts or stops draining a member.
    SetDecommissioning {
        id: NodeId,
        on: bool,
    },
    /// Reserves `count` consecutive Raft group ids, answered with
    /// [`CatalogueResponse::GroupIds`]. Ids start at 1 and are never handed
    /// out twice.
    ReserveGroupIds {
        count: u32,
    },
    /// Creates a topic whose placement the allocator planned on reserved
    /// group ids. `topic.owner` is the creating user; they become an admin.
    CreateTopic {
        topic: Topic,
    },
    /// Deletes a topic on behalf of user `by`.
    DeleteTopic {
        key: TopicKey,
        by: String,
    },
    /// Puts `new` in `old`'s position in the replica list of the partition
    /// whose Raft group is `group_id` (re-replication, decommissioning).
    ReplaceReplica {
        group_id: u64,
        old: NodeId,
        new: NodeId,
    },
    /// Lets `user` create global topics.
    GrantCreateTopics {
        user: String,
    },
    RevokeCreateTopics {
        user: String,
    },
    /// Makes `user` a cluster admin: may create global topics and delete
    /// or administer any topic.
    GrantClusterAdmin {
        user: String,
    },
    /// Makes `user` an admin of the topic, on behalf of admin `by`.
    AddTopicAdmin {
        key: TopicKey,
        user: String,
        by: String,
    },
    /// Records a durable subscription of `user`, answered with
    /// [`CatalogueResponse::SubscriptionRecorded`]. The topic must exist and
    /// be visible to the user.
    RecordSubscription {
        user: String,
        subscription: Subscription,
    },
}

/// What openraft prints of an entry in its logs.
impl std::fmt::Display for CatalogueCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum CatalogueResponse {
    Done,
    /// Ids `first .. first + count` are now reserved for the caller.
    GroupIds {
        first: u64,
        count: u32,
    },
    /// The topic as stored (owner added to the admins).
    TopicCreated(Topic),
    /// The topic as it was before deletion (its subscriptions are gone
    /// with it); its groups are to be removed from their storage nodes.
    TopicDeleted(Topic),
    Rejected(Rejection),
    /// `created` is false when the user already had the subscription.
    SubscriptionRecorded {
        created: bool,
    },
}

impl CatalogueResponse {
    /// The response, or its rejection as an error.
    pub fn into_result(self) -> Result<CatalogueResponse, Rejection> {
        match self {
            CatalogueResponse::Rejected(rejection) => Err(rejection),
            other => Ok(other),
        }
    }
}

/// Why apply refused a command. Variants are stable (stored in the log and
/// mapped to client error codes); add new ones at the end.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("topic {key} already exists")]
    TopicExists { key: TopicKey },
    #[error("topic {key} does not exist")]
    TopicNotFound { key: TopicKey },
    #[error("user {user:?} may not {action}")]
    NotAuthorized { user: String, action: String },
    #[error("member {id} is not registered")]
    UnknownMember { id: NodeId },
    #[error("no partition has Raft group {group_id}")]
    UnknownGroup { group_id: u64 },
    #[error("bad request: {reason}")]
    BadRequest { reason: String },
}

impl Rejection {
    pub(crate) fn bad_request(reason: impl Into<String>) -> Self {
        Rejection::BadRequest { reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_is_an_error_of_the_response() {
        let rejected = CatalogueResponse::Rejected(Rejection::UnknownGroup { group_id: 7 });
        assert_eq!(rejected.into_result(), Err(Rejection::UnknownGroup { group_id: 7 }));
        assert_eq!(CatalogueResponse::Done.into_result(), Ok(CatalogueResponse::Done));
    }

    #[test]
    fn commands_round_trip_through_bincode() {
        let cmd = CatalogueCommand::AddTopicAdmin {
            key: TopicKey::local("alice", "notes"),
            user: "alice".into(),
            by: "root".into(),
        };
        let bytes = bincode::serialize(&cmd).expect("serializing to a Vec cannot fail");
        let back: CatalogueCommand = bincode::deserialize(&bytes).expect("just encoded");
        assert_eq!(back, cmd);
    }

    #[test]
    fn rejection_messages_name_the_subject() {
        let msg = Rejection::TopicExists { key: TopicKey::local("bob", "notes") }.to_string();
        assert_eq!(msg, r#"topic "notes" (local to "bob") already exists"#);
    }
}
