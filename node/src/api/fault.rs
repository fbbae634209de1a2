//! Test-only fault injection, off unless the node is started with a hidden
//! flag. It exists so the history checker can be shown to catch real loss:
//! a checker that never fails proves nothing (see the negative control in
//! the reliability tests).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Faults {
    /// Answer appends as soon as the leader has queued them, before they are
    /// replicated or even fsynced, with offsets predicted from the leader's
    /// log end. This is the bug the reliability promise forbids.
    pub ack_before_replication: bool,
    predicted: Mutex<HashMap<u64, u64>>,
}

impl Faults {
    pub fn ack_before_replication() -> Self {
        Self { ack_before_replication: true, predicted: Mutex::new(HashMap::new()) }
    }

    /// Offsets the faulty leader claims for `n` messages of `group`.
    pub fn predict(&self, group: u64, next_offset: u64, n: u64) -> u64 {
        let mut map = self.predicted.lock().expect("fault lock is never poisoned");
        let base = map.get(&group).copied().unwrap_or(0).max(next_offset);
        map.insert(group, base + n);
        base
    }
}
