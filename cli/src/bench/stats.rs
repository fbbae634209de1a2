//! Latency histograms and figures.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Acknowledgment latencies in microseconds, 1 µs to 60 s.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        Self(Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid"))
    }

    pub fn record(&mut self, d: Duration) {
        self.0.saturating_record(d.as_micros() as u64);
    }

    pub fn merge(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("histograms of the same bounds merge");
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Starts `op(0)`, `op(1)`, … with at most `window` unfinished at once,
/// until `count` have started or `max_time` has passed, and waits for the
/// rest. Each op resolves to its own latency. Returns (completed, elapsed,
/// latencies); the first failed op ends the run with its error.
pub async fn windowed<F, Fut>(
    window: usize,
    count: usize,
    max_time: std::time::Duration,
    mut op: F,
) -> anyhow::Result<(u64, std::time::Duration, Latencies)>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Duration>>,
{
    use futures::StreamExt;
    let start = std::time::Instant::now();
    let deadline = start + max_time;
    let mut lat = Latencies::new();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut started = 0usize;
    loop {
        while in_flight.len() < window.max(1) && started < count && std::time::Instant::now() < deadline {
            in_flight.push(op(started));
            started += 1;
        }
        match in_flight.next().await {
            Some(r) => lat.record(r?),
            None => break,
        }
    }
    Ok((lat.len(), start.elapsed(), lat))
}
