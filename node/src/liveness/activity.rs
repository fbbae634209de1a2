//! Which groups applied entries since the liveness driver last looked.
//!
//! The driver used to poll one watch receiver per hosted group on every
//! tick: with 10,000 groups and a 200 ms tick, 50,000 hash lookups and
//! atomic loads a second, each on a different group's memory. In a profile
//! of idle nodes that polling, with the hashing, was most of their CPU.
//! Instead a parked task per group waits on the group's counters and
//! records its id when they change; a tick takes the recorded ids. An idle
//! group then costs nothing between the driver's full scans.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::partition::apply::PartitionMeta;

#[derive(Default)]
pub struct Activity {
    changed: Arc<Mutex<HashSet<u64>>>,
    watchers: HashMap<u64, AbortHandle>,
}

impl Activity {
    /// Starts recording `group`'s changes, unless that is already done.
    pub fn watch(&mut self, group: u64, rx: impl FnOnce() -> watch::Receiver<PartitionMeta>) {
        if self.watchers.contains_key(&group) {
            return;
        }
        // Changes the receiver has not seen yet count: a group that applied
        // entries just before it was found is active at its first tick.
        let mut rx = rx();
        let changed = self.changed.clone();
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                changed.lock().expect("activity lock is never poisoned").insert(group);
            }
        });
        self.watchers.insert(group, task.abort_handle());
    }

    /// Stops watching groups no longer hosted.
    pub fn retain(&mut self, hosted: &HashSet<u64>) {
        self.watchers.retain(|id, task| {
            let keep = hosted.contains(id);
            if !keep {
                task.abort();
            }
            keep
        });
    }

    /// The groups that changed since the last call.
    pub fn take(&self) -> HashSet<u64> {
        std::mem::take(&mut *self.changed.lock().expect("activity lock is never poisoned"))
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        for task in self.watchers.values() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change is recorded once until taken; a group no longer hosted is
    /// not recorded any more.
    #[tokio::test]
    async fn records_changed_groups_until_taken_and_forgets_removed_ones() {
        let (tx1, rx1) = watch::channel(PartitionMeta::default());
        let (tx2, rx2) = watch::channel(PartitionMeta::default());
        let mut activity = Activity::default();
        activity.watch(1, || rx1);
        activity.watch(2, || rx2);
        tokio::task::yield_now().await;
        assert!(activity.take().is_empty(), "nothing changed yet");

        tx1.send_modify(|m| m.next_offset += 1);
        tx1.send_modify(|m| m.next_offset += 1);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(activity.take(), HashSet::from([1]));
        assert!(activity.take().is_empty(), "taken");

        activity.retain(&HashSet::from([1]));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        tx2.send_modify(|m| m.next_offset += 1);
        tx1.send_modify(|m| m.next_offset += 1);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(activity.take(), HashSet::from([1]), "group 2 is no longer watched");
    }
}
