//! The chaos runner in CI: a short run against a cluster of real processes
//! with every fault kind injected ten times (kills, pauses, network
//! partitions between namespaces, wiped restarts, a node removed and added
//! back), and the negative control, which the checker must catch.
//!
//! The two runs go one after the other (a chaos run wants the machine's
//! cores to itself): one test function.

use std::time::Duration;

use zya_chaos::{ChaosConfig, FaultKind, Holds};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_run_finds_nothing_and_the_negative_control_is_caught() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt().with_env_filter("zya_chaos=info").with_test_writer().try_init();
    // Every kind, the network ones (isolate-leader, split-minority) on
    // nodes in network namespaces (the test runs as root, like CI).
    let faults = FaultKind::ALL.to_vec();
    let rounds = 10;
    let config = ChaosConfig {
        seed: 20261128,
        faults: faults.clone(),
        rounds: Some(rounds),
        holds: Holds { fault_ms: (1_000, 2_000), pause_ms: (1_000, 4_000) },
        keep_logs: Some(std::env::temp_dir().join("zya-chaos-ci-logs")),
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
