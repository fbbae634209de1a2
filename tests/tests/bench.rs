//! `zya bench run` through the real binary, on a small load: it starts its
//! own cluster and gateway, and every message-path figure it prints comes
//! from messages that really went through (each publish acknowledged, each
//! catch-up message read), over gRPC and over the WebSocket gateway.

#[tokio::test]
async fn given_a_small_load_when_benchmarked_then_every_path_reports_real_figures() -> anyhow::Result<()> {
    let bin = zya_harness::bin_dir()?.join("zya");
    let args = [
        "bench",
        "run",
        "--sizes",
        "128",
        "--replicas",
        "1",
        "--one-in-flight",
        "20",
        "--pipelined",
        "500",
        "--end-to-end",
        "20",
        "--catch-up",
        "500",
        "--leader-kills",
        "0",
        "--restart-bytes",
        "0",
        "--memory-connections",
        "0",
        "--idle-partitions",
        "0",
        "--json",
    ];
    let out = tokio::process::Command::new(bin).args(args).output().await?;
    anyhow::ensure!(out.status.success(), "zya bench run failed: {}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    for path in ["grpc", "websocket"] {
        for figure in ["publish_one_in_flight", "publish_pipelined", "end_to_end_p50", "catch_up_read"] {
            let row = rows
                .iter()
                .find(|r| r["path"] == path && r["figure"] == figure)
                .ok_or_else(|| anyhow::anyhow!("no {figure} over {path} in {rows:?}"))?;
            let value = row["value"].as_f64().unwrap_or(0.0);
            assert!(value > 0.0, "{figure} over {path} is {value}: {row}");
        }
    }
    Ok(())
}
