//! The anchor's half of `zya bench compare`: NATS JetStream 2.9 (Debian's
//! `nats-server`), a 3-node cluster on loopback, driven from Rust with the
//! same workload as Zya's half ([`super::zya`]): every publish carries a
//! unique message id that the broker deduplicates (`Nats-Msg-Id` here; see
//! `native::with_id`).
//!
//! Each (replicas, size) pair gets a fresh stream (`BENCH`, file storage,
//! R1 or R3 on the same 3 servers). Only mode `default` is measured:
//! nats-server 2.9 acknowledges from the page cache and has no setting to
//! fsync each write (`sync_interval: always` came in 2.10), so a `sync`
//! row cannot be produced with the server this machine has.

mod cluster;
mod native;
mod ws;

use indicatif::ProgressBar;

use super::figures::{Case, Figure, Load, Mode, Path};

/// Progress steps [`measure`] takes (one per measurement).
pub fn steps(load: &Load) -> u64 {
    let per_pair = 4 * load.grpc as usize + 2 * load.websocket as usize;
    (load.sizes.len() * load.replicas.len() * per_pair) as u64
}

pub async fn measure(load: &Load, progress: &ProgressBar) -> anyhow::Result<Vec<Figure>> {
    progress.set_message("jetstream: starting 3 nats-server processes");
    let nats = cluster::NatsCluster::start().await?;
    let result = run(load, progress).await;
    nats.stop().await;
    result
}

async fn run(load: &Load, progress: &ProgressBar) -> anyhow::Result<Vec<Figure>> {
    let mut out = Vec::new();
    for &replicas in &load.replicas {
        for &size in &load.sizes {
            let step = |what: &str| progress.set_message(format!("jetstream: {what}, {size} B, {replicas} replica(s)"));
            let native = Case { size, replicas, path: Path::Grpc, mode: Mode::Default };
            let websocket = Case { path: Path::Websocket, ..native };

            if load.grpc {
                step("publish, one in flight");
                let (js, _, _) = native::fresh_stream(replicas).await?;
                out.extend(native::publish_one_in_flight(&js, native, load).await?);
                progress.inc(1);
                step("publish, pipelined");
                let (js, _, _) = native::fresh_stream(replicas).await?;
                out.extend(native::publish_pipelined(&js, native, load).await?);
                progress.inc(1);
                step("end to end");
                let (js, s, _) = native::fresh_stream(replicas).await?;
                out.extend(native::end_to_end(&js, &s, native, load).await?);
                progress.inc(1);
                step("catch-up read");
                let (js, s, _) = native::fresh_stream(replicas).await?;
                out.extend(native::catch_up_read(&js, &s, native, load).await?);
                progress.inc(1);
            }
            if load.websocket {
                step("websocket publish, one in flight");
                let (_, _, leader) = native::fresh_stream(replicas).await?;
                out.extend(ws::publish_one_in_flight(&cluster::ws_url(leader), websocket, load).await?);
                progress.inc(1);
                step("websocket publish, pipelined");
                let (_, _, leader) = native::fresh_stream(replicas).await?;
                out.extend(ws::publish_pipelined(&cluster::ws_url(leader), websocket, load).await?);
                progress.inc(1);
            }
        }
    }
    Ok(out)
}
