//! `zya chaos`: a chaos run against a cluster of real processes started on
//! this machine, with a report of what the history checker found. Exits
//! non-zero when the checker finds an anomaly (with `--negative-control`:
//! when it finds none, because then the checker missed a planted bug).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use zya_chaos::{ChaosConfig, FaultKind, Holds};

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// How long faults are injected (then heal, drain, check).
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Seed of the fault schedule and the clients' choices; replay a run with it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    #[arg(long, default_value_t = 3)]
    partitions: u32,
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    #[arg(long, default_value_t = 2)]
    subscribers: usize,
    /// Fault kinds, comma-separated (default: all; the network ones need root, iproute2 and nftables).
    #[arg(long, value_delimiter = ',')]
    faults: Vec<FaultKind>,
    /// Longest hold of a fault (the shortest is 1 s).
    #[arg(long, default_value = "4s", value_parser = humantime::parse_duration)]
    hold_max: Duration,
    /// Longest SIGSTOP pause.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pause_max: Duration,
    /// Inject this many rounds of faults (each kind once per round) instead of running for --duration.
    #[arg(long)]
    rounds: Option<u64>,
    /// Plant a bug (nodes acknowledge before replicating) and expect the checker to catch it.
    #[arg(long)]
    negative_control: bool,
    /// Where to copy every process's log if the run fails.
    #[arg(long, default_value = "zya-chaos-logs")]
    keep_logs: PathBuf,
    /// Save the history as JSON lines (re-check it with the checker).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    // Progress (each fault as it heals) on stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "zya_chaos=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let defaults = ChaosConfig::default();
    let faults = match (args.negative_control, args.faults.is_empty()) {
        (true, true) => vec![FaultKind::LoseUnreplicatedLeader],
        (_, true) => defaults.faults.clone(),
        (_, false) => args.faults,
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let config = ChaosConfig {
        duration: args.duration,
        seed: args.seed,
        nodes: args.nodes,
        partitions: args.partitions,
        publishers: args.publishers,
        subscribers: args.subscribers,
        faults,
        holds: Holds {
            fault_ms: (1_000, ms(args.hold_max).max(1_000)),
            pause_ms: (1_000, ms(args.pause_max).max(1_000)),
        },
        negative_control: args.negative_control,
        rounds: args.rounds,
        keep_logs: Some(args.keep_logs.clone()),
        ..defaults
    };
    let outcome = zya_chaos::run(config).await?;
    if let Some(path) = &args.history {
        // Buffered: serde_json writes each field separately, and an unbuffered
        // file made a 30-minute run spend minutes in write syscalls.
        outcome.history.write_jsonl(std::io::BufWriter::new(std::fs::File::create(path)?))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.report)?);
    } else {
        println!("{outcome}");
    }
    let anomalies = outcome.report.total_anomalies();
    if !args.negative_control {
        if let Some(why) = &outcome.unhealthy {
            anyhow::bail!("the cluster did not recover after healing: {why}");
        }
    }
    match (args.negative_control, anomalies) {
        (false, 0) => Ok(()),
        (false, n) => anyhow::bail!("{n} anomalies found; replay with --seed {}", args.seed),
        (true, 0) => anyhow::bail!("negative control: the planted bug went unnoticed"),
        (true, n) => {
            println!("negative control: the checker caught the planted bug ({n} anomalies), as it must");
            Ok(())
        }
    }
}
