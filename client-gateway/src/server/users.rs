//! Connections per user on this gateway, capped: one user cannot take all
//! of a gateway's sockets and memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct UserCounts {
    max: u32,
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// One logged-in connection of a user; dropping it frees the place.
pub struct UserSlot {
    user: String,
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl UserCounts {
    pub fn new(max: u32) -> Self {
        Self { max, counts: Arc::new(Mutex::new(HashMap::new())) }
    }

    pub fn try_acquire(&self, user: &str) -> Option<UserSlot> {
        let mut counts = self.counts.lock().expect("lock is never poisoned");
        let n = counts.entry(user.to_string()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(UserSlot { user: user.to_string(), counts: self.counts.clone() })
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("lock is never poisoned");
        if let Some(n) = counts.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_user_and_freed_on_drop() {
        let users = UserCounts::new(2);
        let a1 = users.try_acquire("alice").expect("first");
        let _a2 = users.try_acquire("alice").expect("second");
        assert!(users.try_acquire("alice").is_none());
        assert!(users.try_acquire("bob").is_some(), "other users are not affected");
        drop(a1);
        assert!(users.try_acquire("alice").is_some());
    }
}
