//! The chaos runner in CI: a short run against a cluster of real processes
//! with every fault kind a process cluster supports injected ten times, and
//! the negative control, which the checker must catch.
//!
//! The two runs go one after the other (a chaos run wants the machine's
//! cores to itself): one test function.

use std::time::Duration;

use zya_chaos::{ChaosConfig, FaultKind, Holds};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_run_finds_nothing_and_the_negative_control_is_caught() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt().with_env_filter("zya_chaos=info").with_test_writer().try_init();
    // Wipe-restart is left out here while a known stall is open: a follower
    // wiped and back at the same address under a new id sometimes keeps its
    // old id in the catalogue for over 90 s (re-replication does not finish),
    // found by `zya chaos --rounds 10 --seed 20261128`. Network faults need
    // the namespace lab, not yet wired into the runner. Both are tracked in
    // the chaos issue; `zya chaos` runs them all by default.
    let faults = vec![FaultKind::KillLeader, FaultKind::KillFollower, FaultKind::PauseLeader, FaultKind::RemoveAddNode];
    let rounds = 10;
    let config = ChaosConfig {
        seed: 20261128,
        faults: faults.clone(),
        rounds: Some(rounds),
        holds: Holds { fault_ms: (1_000, 2_000), pause_ms: (1_000, 4_000) },
        ..ChaosConfig::default()
    };
    let outcome = zya_chaos::run(config).await?;
    println!("{outcome}");
    for kind in &faults {
        let n = outcome.injected.get(kind).copied().unwrap_or(0);
        assert!(n >= rounds, "{kind} injected {n} times, wanted {rounds}; not injected: {:?}", outcome.skipped);
    }
    assert!(outcome.unhealthy.is_none(), "the cluster did not recover: {:?}", outcome.unhealthy);
    assert!(outcome.report.totals.acknowledged_messages > 1000, "too little traffic to mean anything");
    assert!(outcome.report.totals.deliveries > 1000, "too few deliveries to mean anything");
    assert_eq!(outcome.report.total_anomalies(), 0, "anomalies found (see the report above)");

    let negative = ChaosConfig {
        seed: 7,
        duration: Duration::from_secs(20),
        faults: vec![FaultKind::LoseUnreplicatedLeader],
        negative_control: true,
        ..ChaosConfig::default()
    };
    let outcome = zya_chaos::run(negative).await?;
    println!("{outcome}");
    assert!(
        outcome.report.total_anomalies() > 0,
        "negative control: nodes acknowledged before replicating and lost their leader, yet the checker found nothing"
    );
    Ok(())
}
