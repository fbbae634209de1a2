//! The set of groups this node leads, as peers see it through `Leaders`.

use std::sync::RwLock;

/// Led group ids and a version that changes whenever they change.
pub struct LocalLeaders {
    /// Random per process, so a restarted node is told apart.
    pub incarnation: u64,
    state: RwLock<(u64, Vec<u64>)>,
}

impl Default for LocalLeaders {
    fn default() -> Self {
        Self { incarnation: rand::random(), state: RwLock::new((0, Vec::new())) }
    }
}

impl LocalLeaders {
    /// Replaces the set (sorted ids); bumps the version if it changed.
    pub fn update(&self, mut led: Vec<u64>) {
        led.sort_unstable();
        let mut state = self.state.write().expect("leaders lock is never poisoned");
        if state.1 != led {
            state.0 += 1;
            state.1 = led;
        }
    }

    pub fn version(&self) -> u64 {
        self.state.read().expect("leaders lock is never poisoned").0
    }

    pub fn snapshot(&self) -> (u64, Vec<u64>) {
        self.state.read().expect("leaders lock is never poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_changes_only_with_the_set() {
        let l = LocalLeaders::default();
        l.update(vec![3, 1]);
        assert_eq!(l.snapshot(), (1, vec![1, 3]));
        l.update(vec![1, 3]);
        assert_eq!(l.version(), 1);
        l.update(vec![1]);
        assert_eq!(l.snapshot(), (2, vec![1]));
    }
}
