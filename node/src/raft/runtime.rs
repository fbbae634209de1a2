//! openraft's async runtime for partition groups: tokio, less the per-group
//! tick timer.
//!
//! openraft 0.9 gives every group a tick task that wakes every 1.5 × the
//! heartbeat interval even while ticks are disabled (it reads the flag after
//! waking). Partition groups never tick: the node's liveness task drives
//! their elections and heartbeats (`crate::liveness`). At 10,000 groups a
//! node took about 22,000 timer wake-ups a second for nothing.
//!
//! In openraft 0.9.25 (pinned) `sleep_until` is called by that tick loop
//! only; replication and snapshots use `sleep`, `timeout` and `timeout_at`,
//! which are tokio's here. So `sleep_until` sleeps a day past its deadline.
//! The tick loop still stops at once on shutdown: it selects its cancel
//! signal against the sleep.

use std::future::Future;
use std::time::Duration;

use openraft::async_runtime::TokioOneShotSender;
use openraft::{AsyncRuntime, OptionalSend, TokioInstant, TokioRuntime};

/// How far past its deadline `sleep_until` wakes.
const TICK_SILENCE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct QuietTicks;

impl AsyncRuntime for QuietTicks {
    type JoinError = tokio::task::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = tokio::task::JoinHandle<T>;
    type Sleep = tokio::time::Sleep;
    type Instant = TokioInstant;
    type TimeoutError = tokio::time::error::Elapsed;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = tokio::time::Timeout<T>;
    type ThreadLocalRng = <TokioRuntime as AsyncRuntime>::ThreadLocalRng;
    type OneshotSender<T: OptionalSend> = TokioOneShotSender<T>;
    type OneshotReceiverError = tokio::sync::oneshot::error::RecvError;
    type OneshotReceiver<T: OptionalSend> = tokio::sync::oneshot::Receiver<T>;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        TokioRuntime::spawn(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        TokioRuntime::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        TokioRuntime::sleep_until(deadline + TICK_SILENCE)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(duration: Duration, future: F) -> Self::Timeout<R, F> {
        TokioRuntime::timeout(duration, future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(deadline: Self::Instant, future: F) -> Self::Timeout<R, F> {
        TokioRuntime::timeout_at(deadline, future)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        TokioRuntime::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        TokioRuntime::thread_rng()
    }

    fn oneshot<T: OptionalSend>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>) {
        TokioRuntime::oneshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_sleep_until_is_silenced() {
        let now = tokio::time::Instant::now();
        let tick = tokio::time::timeout(Duration::from_millis(50), QuietTicks::sleep_until(now)).await;
        assert!(tick.is_err(), "a tick deadline that has passed does not wake");
        let backoff = tokio::time::timeout(Duration::from_secs(5), QuietTicks::sleep(Duration::from_millis(1))).await;
        assert!(backoff.is_ok(), "sleeps by duration are tokio's");
        let t = QuietTicks::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
        assert!(t.is_err(), "timeouts are tokio's");
    }
}
