//! The one shape every benchmark figure takes, whichever system produced it,
//! so that Zya's and JetStream's figures of the same workload can be joined
//! row by row (`zya bench compare`) and printed the same way.
//!
//! A figure is identified by `(figure, size, replicas, path, mode)`:
//! - `figure`: what was measured, e.g. `publish_pipelined`,
//!   `publish_one_in_flight_p99`, `end_to_end_p50`, `catch_up_read`;
//! - `path`: `grpc` is each system's native client protocol (Zya's gRPC
//!   node API; NATS's TCP client protocol), `websocket` its WebSocket path
//!   (Zya's gateway; NATS's WebSocket listener);
//! - `mode`: `default` is each system as shipped (Zya fsyncs before every
//!   acknowledgment; JetStream 2.9 acknowledges from the page cache). A
//!   `sync` mode (JetStream configured to fsync every write) needs
//!   nats-server 2.10's `sync_interval: always`; Debian's 2.9 has no such
//!   setting, so no `sync` rows are produced.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    Grpc,
    Websocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Default,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Path::Grpc => "grpc",
            Path::Websocket => "websocket",
        })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Default => "default",
        })
    }
}

/// Whether a larger value of the figure is better (throughputs) or worse
/// (latencies, times, CPU, memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured value.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub figure: String,
    /// Payload bytes per message (0 where it does not apply).
    pub size: usize,
    /// Replicas of the partition or stream (0 where it does not apply).
    pub replicas: u32,
    pub path: Path,
    pub mode: Mode,
    /// `msg/s`, `MB/s`, `ms`, `s`, `%core`, `KiB`.
    pub unit: &'static str,
    pub value: f64,
}

impl Figure {
    pub fn better(&self) -> Better {
        match self.unit {
            "msg/s" | "MB/s" => Better::Higher,
            _ => Better::Lower,
        }
    }

    pub fn key(&self) -> (String, usize, u32, Path, Mode) {
        (self.figure.clone(), self.size, self.replicas, self.path, self.mode)
    }
}

/// How much load each measurement applies; every loop stops at its count or
/// at `max_time`, whichever comes first.
#[derive(Debug, Clone)]
pub struct Load {
    /// Payload sizes in bytes.
    pub sizes: Vec<usize>,
    /// Replication factors (of a partition; of a JetStream stream).
    pub replicas: Vec<u32>,
    /// Messages of a one-in-flight publish run.
    pub one_in_flight: usize,
    /// Messages of a pipelined publish run.
    pub pipelined: usize,
    /// Publishes in flight in a pipelined run.
    pub window: usize,
    /// Messages of an end-to-end (publish → delivery) run, one at a time.
    pub end_to_end: usize,
    /// Messages written, then read back from the start with commits.
    pub catch_up: usize,
    /// Time limit of each run.
    pub max_time: Duration,
    /// Measure the native path (`grpc`) and the WebSocket path.
    pub grpc: bool,
    pub websocket: bool,
}

/// What one measurement ran: the same for both systems in a comparison.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub size: usize,
    pub replicas: u32,
    pub path: Path,
    pub mode: Mode,
}

impl Case {
    pub fn figure(&self, figure: impl Into<String>, unit: &'static str, value: f64) -> Figure {
        let Case { size, replicas, path, mode } = *self;
        Figure { figure: figure.into(), size, replicas, path, mode, unit, value }
    }

    /// Publish figures of one run: `stem` in msg/s (and `stem_mb` in MB/s
    /// when pipelined) and acknowledgment latency `stem_p50`, `_p99`,
    /// `_p999` in ms.
    pub fn publish_figures(
        &self,
        stem: &str,
        messages: u64,
        elapsed: Duration,
        latencies: &super::stats::Latencies,
    ) -> Vec<Figure> {
        let rate = messages as f64 / elapsed.as_secs_f64().max(1e-9);
        let mut out = vec![self.figure(stem, "msg/s", rate)];
        if stem.ends_with("pipelined") {
            out.push(self.figure(format!("{stem}_mb"), "MB/s", rate * self.size as f64 / 1e6));
        }
        out.extend(self.latency_figures(stem, latencies));
        out
    }

    /// `stem_p50`, `stem_p99`, `stem_p999` in ms.
    pub fn latency_figures(&self, stem: &str, latencies: &super::stats::Latencies) -> Vec<Figure> {
        [(0.5, "p50"), (0.99, "p99"), (0.999, "p999")]
            .into_iter()
            .map(|(q, name)| self.figure(format!("{stem}_{name}"), "ms", latencies.ms(q)))
            .collect()
    }
}
