//! Per-connection publish rate: a token bucket.
//!
//! A flood of publishes is answered `RateLimited` at once instead of being
//! queued: queues only hide overload until memory runs out, while an
//! immediate, retryable refusal tells the client to slow down.

use std::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_second: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: f64::from(rate_per_second.max(1)), burst, tokens: burst, last: Instant::now() }
    }

    /// Takes `n` tokens if there are that many; a request larger than the
    /// burst is allowed when the bucket is full, so big batches still pass.
    pub fn try_take(&mut self, n: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        let n = f64::from(n).min(self.burst);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn refuses_past_the_burst_and_refills_with_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5);
        assert!((0..5).all(|_| b.try_take(1, t0)));
        assert!(!b.try_take(1, t0));
        assert!(b.try_take(1, t0 + Duration::from_millis(100)));
        assert!(!b.try_take(1, t0 + Duration::from_millis(100)));
        assert!(b.try_take(5, t0 + Duration::from_secs(10)), "refills up to the burst");
        assert!(!b.try_take(1, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn a_batch_larger_than_the_burst_needs_a_full_bucket() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, 10);
        assert!(b.try_take(50, t0));
        assert!(!b.try_take(50, t0 + Duration::from_millis(50)));
        assert!(b.try_take(50, t0 + Duration::from_millis(100)));
    }
}
