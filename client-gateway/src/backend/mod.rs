//! The gateway's view of the cluster: the catalogue (topics, rights, the
//! service map) and the partitions' replicas, shared by every connection.
//!
//! Gateways keep no state that matters: everything here is a cache of the
//! catalogue (topic placements, refreshed on expiry or on a failure that
//! suggests they moved) and of who leads each partition (learned from the
//! nodes' `NOT_LEADER` answers). Losing it costs a few round trips.

mod error;
mod routing;
mod topics;

use std::sync::Arc;

use zya_client::{catalogue_pb as cpb, CatalogueClient, Channels};

pub use error::Failure;
pub use routing::partition_for;
pub use topics::{wire_scope, Topic, TopicKey};

use crate::auth::Identity;

pub struct Backend {
    pub catalogue: CatalogueClient,
    pub channels: Channels,
    topics: topics::TopicCache,
}

impl Backend {
    pub fn new(allocators: Vec<String>) -> Arc<Self> {
        let channels = Channels::default();
        Arc::new(Self {
            catalogue: CatalogueClient::new(allocators),
            topics: topics::TopicCache::new(channels.clone()),
            channels,
        })
    }
}

/// The catalogue's notion of who is asking.
pub fn caller(identity: &Identity) -> cpb::Caller {
    cpb::Caller { user: identity.user.clone(), cluster_admin: identity.cluster_admin }
}
