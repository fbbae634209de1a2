//! `zya bench`: measurements that print figures (never pass/fail tests).
//!
//! Each benchmark starts its own cluster of real processes on loopback from
//! the binaries next to `zya`, bounds every load loop by count and by time,
//! and prints a table (or `--json`). Figures share one shape
//! ([`figures::Figure`]) so that Zya's and the anchor's join row by row.

pub mod figures;
mod idle;
mod jetstream;
mod load_args;
mod report;
mod rounds;
mod stats;
mod zya;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use load_args::LoadArgs;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Zya's figures: publish throughput and latency (one in flight and
    /// pipelined), end-to-end latency and catch-up reads, over gRPC and
    /// over the WebSocket gateway, for each size and replication factor.
    Run(RunArgs),
    /// CPU used by idle nodes hosting many partitions, and the time to
    /// create them.
    Idle(idle::IdleArgs),
    /// The side-by-side run: a 3-node NATS JetStream cluster (Debian's
    /// `nats-server`, file storage) and a 3-node Zya cluster on this
    /// machine, one after the other, driven by the same workload; prints
    /// each figure of both and the ratio Zya / JetStream.
    Compare(CompareArgs),
    /// JetStream's figures only (the anchor's half of `compare`).
    Jetstream(JetstreamArgs),
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    extras: ExtrasArgs,
    /// Rounds of the message path, alternating the two systems; each
    /// figure is the median of its rounds. The extras run in the last round.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Print one JSON array of rows instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct JetstreamArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    extras: ExtrasArgs,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExtrasArgs {
    /// Leader SIGKILLs under a steady writer, for write unavailability (0: skip).
    #[arg(long, default_value_t = 5)]
    leader_kills: usize,
    /// Bytes a node holds when restarted, e.g. 1GiB (0: skip).
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    restart_bytes: u64,
    /// Gateway connections (then one subscription each) for its memory figures (0: skip).
    #[arg(long, default_value_t = 1000)]
    memory_connections: usize,
    /// Partitions for the idle-CPU figures, on a cluster of their own (0: skip).
    #[arg(long, default_value_t = 10_000)]
    idle_partitions: u64,
}

impl ExtrasArgs {
    /// Nothing beyond the message path.
    fn none() -> Self {
        Self { leader_kills: 0, restart_bytes: 0, memory_connections: 0, idle_partitions: 0 }
    }

    fn extras(&self) -> zya::Extras {
        zya::Extras {
            leader_kills: self.leader_kills,
            restart_bytes: self.restart_bytes,
            memory_connections: self.memory_connections,
        }
    }
}

/// `1GiB`, `512MiB`, `100KiB` or plain bytes.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let shift = match unit {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(format!("unknown unit in {s:?} (B, KiB, MiB, GiB)")),
    };
    Ok(n << shift)
}

/// Zya's figures: the message path and the extras, then idle partitions.
async fn zya_figures(load: &figures::Load, extras: &ExtrasArgs) -> anyhow::Result<Vec<figures::Figure>> {
    let progress = bar(zya::steps(load, &extras.extras()));
    let figures = zya::measure(load, &extras.extras(), &progress).await;
    progress.finish_and_clear();
    let mut figures = figures?;
    if extras.idle_partitions > 0 {
        let window = std::time::Duration::from_secs(10);
        match idle::measure(extras.idle_partitions, "200ms", std::time::Duration::from_secs(5), window).await {
            Ok(f) => figures.extend(f),
            Err(e) => eprintln!("zya bench: idle partitions FAILED, no figures: {e:#}"),
        }
    }
    Ok(figures)
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Run(args) => {
            let figures = zya_figures(&args.load.load(), &args.extras).await?;
            report::print_figures(&figures, args.json)
        }
        BenchCommand::Idle(args) => idle::run(args).await,
        BenchCommand::Jetstream(args) => {
            let figures = jetstream_figures(&args.load.load()).await?;
            report::print_figures(&figures, args.json)
        }
        BenchCommand::Compare(args) => {
            let load = args.load.load();
            let (mut anchor, mut ours) = (Vec::new(), Vec::new());
            for round in 1..=args.rounds {
                if args.rounds > 1 {
                    eprintln!("zya bench compare: round {round} of {}", args.rounds);
                }
                anchor.push(jetstream_figures(&load).await?);
                let extras = if round == args.rounds { args.extras.clone() } else { ExtrasArgs::none() };
                ours.push(zya_figures(&load, &extras).await?);
            }
            report::print_rows(&report::join(&rounds::median(ours), &rounds::median(anchor)), args.json)
        }
    }
}

async fn jetstream_figures(load: &figures::Load) -> anyhow::Result<Vec<figures::Figure>> {
    let progress = bar(jetstream::steps(load));
    let figures = jetstream::measure(load, &progress).await;
    progress.finish_and_clear();
    figures
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn bar(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
