//! A shared, thread-safe log that clients append their operations to.
//!
//! Chaos tests run many clients at once; each holds a clone of one
//! [`Recorder`] and calls [`Recorder::record`] when an operation completes.
//! The timestamp is taken while the lock is held, so the recorded order and the
//! timestamps agree.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::history::{Event, History};
use crate::op::Op;

/// Cheap to clone: clones share one log and one start instant.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The run's time zero; `at_ms` is measured from here.
    start: Instant,
    /// Every event recorded so far, in recording order. Held only for a push
    /// or a copy, never across an await or an IO.
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self { start: Instant::now(), events: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Records a completed operation of `process`, stamped with the time now.
    pub fn record(&self, process: u64, op: Op) {
        let mut events = self.lock();
        let at_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        events.push(Event { at_ms, process, op });
    }

    /// Milliseconds since the recorder was created.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A copy of everything recorded so far.
    pub fn history(&self) -> History {
        History::new(self.lock().clone())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Event>> {
        // A panicking client thread cannot leave a half-pushed Vec behind, so
        // the log stays usable after poisoning.
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_log_across_threads() {
        let recorder = Recorder::new();
        let handles: Vec<_> = (0..4u64)
            .map(|process| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        recorder.record(process, Op::Healed);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("recording thread");
        }
        let history = recorder.history();
        assert_eq!(history.events.len(), 100);
        assert_eq!(recorder.len(), 100);
        for process in 0..4 {
            let n = history.events.iter().filter(|e| e.process == process).count();
            assert_eq!(n, 25);
        }
        assert!(history.events.windows(2).all(|pair| pair[0].at_ms <= pair[1].at_ms));
    }

    #[test]
    fn history_is_a_snapshot() {
        let recorder = Recorder::default();
        assert!(recorder.is_empty());
        recorder.record(1, Op::Healed);
        let snapshot = recorder.history();
        recorder.record(1, Op::Healed);
        assert_eq!(snapshot.events.len(), 1);
        assert_eq!(recorder.history().events.len(), 2);
        assert!(recorder.elapsed_ms() >= snapshot.events[0].at_ms);
    }
}
