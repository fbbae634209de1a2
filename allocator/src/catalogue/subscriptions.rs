//! The durable subscriptions of each user: which consumer groups of which
//! topics they have subscribed to.
//!
//! A consumer group's positions live in the partitions, but a gateway needs
//! "this user's subscriptions" at login without asking every partition of
//! every topic, so the catalogue keeps the set. It is a registry, not a
//! source of positions: a subscription names a topic and a group, nothing
//! else. Deleting a topic deletes every subscription to it, so a topic
//! created again under the same name starts with none.
//!
//! Visibility rules are the catalogue's (see
//! [`Catalogue`](super::state::Catalogue)); this type only keeps the set
//! bounded and ordered.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::command::Rejection;
use super::model::TopicKey;

/// Most subscriptions one user may hold. Each is replicated state held in
/// memory by every catalogue replica and listed at every login, so one user
/// (or one runaway client) must not be able to grow it without bound.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 10_000;

/// Longest consumer group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 255;

/// One durable subscription of a user.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subscription {
    pub topic: TopicKey,
    pub group: String,
}

impl Subscription {
    /// Checks what needs no catalogue: a group name of 1 to
    /// [`MAX_GROUP_NAME_CHARS`] characters.
    pub fn check_shape(&self) -> Result<(), Rejection> {
        let chars = self.group.chars().count();
        if chars == 0 || chars > MAX_GROUP_NAME_CHARS {
            return Err(Rejection::bad_request(format!(
                "a group name has 1 to {MAX_GROUP_NAME_CHARS} characters, not {chars}"
            )));
        }
        Ok(())
    }
}

/// Every user's subscriptions, by user, in (topic, group) order.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscriptions {
    by_user: BTreeMap<String, BTreeSet<Subscription>>,
}

impl Subscriptions {
    /// `user`'s subscriptions in (topic, group) order.
    pub fn of<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a Subscription> + 'a {
        self.by_user.get(user).into_iter().flatten()
    }

    pub fn contains(&self, user: &str, subscription: &Subscription) -> bool {
        self.by_user.get(user).is_some_and(|s| s.contains(subscription))
    }

    /// Whether `user` may record one more subscription.
    pub fn has_room(&self, user: &str) -> bool {
        self.by_user.get(user).map_or(0, BTreeSet::len) < MAX_SUBSCRIPTIONS_PER_USER
    }

    /// Adds a subscription; false when it was already there. The caller
    /// checked [`Self::has_room`].
    pub fn insert(&mut self, user: &str, subscription: Subscription) -> bool {
        self.by_user.entry(user.to_owned()).or_default().insert(subscription)
    }

    /// Forgets every subscription to `topic`, whoever holds it.
    pub fn remove_topic(&mut self, topic: &TopicKey) {
        // Only a local topic's owner can subscribe to it; a global topic may
        // have subscribers anywhere.
        let scan: Vec<String> = match topic.local_owner() {
            Some(owner) => vec![owner.to_owned()],
            None => self.by_user.keys().cloned().collect(),
        };
        for user in scan {
            if let Some(set) = self.by_user.get_mut(&user) {
                set.retain(|s| &s.topic != topic);
                if set.is_empty() {
                    self.by_user.remove(&user);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(topic: TopicKey, group: &str) -> Subscription {
        Subscription { topic, group: group.into() }
    }

    #[test]
    fn group_names_are_checked() {
        assert!(sub(TopicKey::global("t"), "g").check_shape().is_ok());
        assert!(sub(TopicKey::global("t"), &"é".repeat(255)).check_shape().is_ok(), "characters, not bytes");
        for bad in [String::new(), "x".repeat(256)] {
            assert!(matches!(sub(TopicKey::global("t"), &bad).check_shape(), Err(Rejection::BadRequest { .. })));
        }
    }

    #[test]
    fn insert_is_idempotent_and_ordered() {
        let mut s = Subscriptions::default();
        assert!(s.insert("alice", sub(TopicKey::global("b"), "g")));
        assert!(s.insert("alice", sub(TopicKey::global("a"), "g")));
        assert!(!s.insert("alice", sub(TopicKey::global("a"), "g")));
        let names: Vec<_> = s.of("alice").map(|x| x.topic.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(s.of("bob").count(), 0);
        assert!(s.contains("alice", &sub(TopicKey::global("b"), "g")));
        assert!(!s.contains("bob", &sub(TopicKey::global("b"), "g")));
    }

    #[test]
    fn remove_topic_reaches_every_user_and_drops_empty_ones() {
        let mut s = Subscriptions::default();
        s.insert("alice", sub(TopicKey::global("news"), "g1"));
        s.insert("alice", sub(TopicKey::global("news"), "g2"));
        s.insert("bob", sub(TopicKey::global("news"), "g"));
        s.insert("bob", sub(TopicKey::local("bob", "news"), "g"));
        s.remove_topic(&TopicKey::global("news"));
        assert_eq!(s.of("alice").count(), 0);
        assert_eq!(s.of("bob").cloned().collect::<Vec<_>>(), [sub(TopicKey::local("bob", "news"), "g")]);
        s.remove_topic(&TopicKey::local("bob", "news"));
        assert_eq!(s, Subscriptions::default(), "no empty sets left behind");
    }

    #[test]
    fn room_is_bounded_per_user() {
        let mut s = Subscriptions::default();
        for i in 0..MAX_SUBSCRIPTIONS_PER_USER {
            assert!(s.has_room("alice"));
            s.insert("alice", sub(TopicKey::global("t"), &format!("g{i}")));
        }
        assert!(!s.has_room("alice"));
        assert!(s.has_room("bob"), "the bound is per user");
    }
}
