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
