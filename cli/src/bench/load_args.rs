//! The command-line form of [`Load`], shared by every benchmark command
//! that drives the message path.

use std::time::Duration;

use super::figures::Load;

#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Message payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "128,1024")]
    pub sizes: Vec<usize>,
    /// Replication factors.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub replicas: Vec<u32>,
    /// Messages of a one-in-flight publish run (at most).
    #[arg(long, default_value_t = 2_000)]
    pub one_in_flight: usize,
    /// Messages of a pipelined publish run (at most).
    #[arg(long, default_value_t = 50_000)]
    pub pipelined: usize,
    /// Publishes in flight in a pipelined run.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Messages of an end-to-end run (publish, then wait for its delivery).
    #[arg(long, default_value_t = 1_000)]
    pub end_to_end: usize,
    /// Messages written, then read back from the start with commits.
    #[arg(long, default_value_t = 50_000)]
    pub catch_up: usize,
    /// Paths to measure: grpc (each system's native protocol), websocket.
    #[arg(long, value_delimiter = ',', default_value = "grpc,websocket")]
    pub paths: Vec<String>,
    /// Time limit of each run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub max_time: Duration,
}

impl LoadArgs {
    pub fn load(&self) -> Load {
        Load {
            sizes: self.sizes.clone(),
            replicas: self.replicas.clone(),
            one_in_flight: self.one_in_flight,
            pipelined: self.pipelined,
            window: self.window,
            end_to_end: self.end_to_end,
            catch_up: self.catch_up,
            max_time: self.max_time,
            grpc: self.paths.iter().any(|p| p == "grpc"),
            websocket: self.paths.iter().any(|p| p == "websocket"),
        }
    }
}
