//! What a logged-in connection knows: who the user is, their live
//! subscriptions and their per-partition publishers. It lives exactly as
//! long as the connection; nothing in it is needed to resume elsewhere
//! (positions and delivery counts are in the partitions, subscriptions are
//! recorded in the catalogue).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zya_client::catalogue_pb as cpb;

use super::publisher;
use super::rate::TokenBucket;
use crate::auth::Identity;
use crate::backend::TopicKey;
use crate::protocol::Timestamp;
use crate::server::UserSlot;

/// A commit seen by this connection, told to its subscriptions of that
/// topic and group so their flow control opens.
#[derive(Debug, Clone, Copy)]
pub struct CommitEvent {
    pub partition: u32,
    /// The single offset committed, for a one-message commit.
    pub one: Option<u64>,
    /// The group's position after the commit.
    pub committed_offset: u64,
}

pub struct SubscriptionHandle {
    pub id: String,
    pub key: TopicKey,
    pub group: String,
    pub commits: mpsc::Sender<CommitEvent>,
    /// Delivered, not yet committed: `messageId` → (partition, offset), so
    /// a commit by id finds its position.
    pub delivered: Arc<Mutex<HashMap<String, (u32, u64)>>>,
    pub cancel: CancellationToken,
}

pub struct Session {
    pub identity: Identity,
    pub caller: cpb::Caller,
    pub device: String,
    /// The `Login` request's timestamp (or the time of login): the default
    /// `timestamp` of this session's messages.
    pub timestamp: Timestamp,
    pub session_id: String,
    pub subscriptions: Mutex<HashMap<String, Arc<SubscriptionHandle>>>,
    pub publishers: Mutex<HashMap<u64, publisher::Handle>>,
    /// (topic, group) pairs already recorded in the catalogue.
    pub recorded: Mutex<HashSet<(TopicKey, String)>>,
    pub rate: Mutex<TokenBucket>,
    pub sequencer: Mutex<Option<super::sequencer::Sequencer>>,
    next_id: AtomicU64,
    _slot: UserSlot,
}

impl Session {
    pub fn new(identity: Identity, device: String, timestamp: Timestamp, rate: TokenBucket, slot: UserSlot) -> Self {
        let caller = crate::backend::caller(&identity);
        Self {
            identity,
            caller,
            device,
            timestamp,
            session_id: format!("s-{:016x}", rand::random::<u64>()),
            subscriptions: Mutex::new(HashMap::new()),
            publishers: Mutex::new(HashMap::new()),
            recorded: Mutex::new(HashSet::new()),
            rate: Mutex::new(rate),
            sequencer: Mutex::new(None),
            next_id: AtomicU64::new(1),
            _slot: slot,
        }
    }

    pub fn user(&self) -> &str {
        &self.identity.user
    }

    /// The partition consumer name of one of this user's groups. User names
    /// never contain `/`, so the pair is unambiguous.
    pub fn consumer(&self, group: &str) -> String {
        format!("{}/{}", self.identity.user, group)
    }

    pub fn next_subscription_id(&self) -> String {
        format!("{}-{}", self.session_id, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The live subscriptions of this connection to one topic and group.
    pub fn subscriptions_to(&self, key: &TopicKey, group: &str) -> Vec<Arc<SubscriptionHandle>> {
        let subs = self.subscriptions.lock().expect("lock is never poisoned");
        subs.values().filter(|s| &s.key == key && s.group == group).cloned().collect()
    }

    /// The group of this connection's (first) subscription to the topic.
    pub fn subscribed_group(&self, key: &TopicKey) -> Option<String> {
        let subs = self.subscriptions.lock().expect("lock is never poisoned");
        let mut found: Vec<&Arc<SubscriptionHandle>> = subs.values().filter(|s| &s.key == key).collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.first().map(|s| s.group.clone())
    }

    /// Stops every subscription and publisher of this session.
    pub fn shutdown(&self) {
        for (_, s) in self.subscriptions.lock().expect("lock is never poisoned").drain() {
            s.cancel.cancel();
        }
        self.publishers.lock().expect("lock is never poisoned").clear();
        self.sequencer.lock().expect("lock is never poisoned").take();
    }
}
