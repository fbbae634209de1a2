//! The client gateway end to end, through a WebSocket client this project did
//! not write: the Python suite in `tests/ws/` (`websockets`, PyJWT and
//! `jsonschema` from Debian, run with /usr/bin/python3) drives real gateways
//! in front of real allocators and nodes, mints its own tokens, and checks
//! every frame it receives against `client-gateway/schema/protocol.schema.json`.
//!
//! ```text
//!   pytest tests/ws ──ws──> zya-gateway ×2, + 1 with low limits ──gRPC──> zya-allocator ×3, zya-node ×3
//!        │  ▲
//!        │  └── this file: starts the processes, hands their addresses to pytest (ZYA_*),
//!        └───── and, for the failover test, kills the partition leader when pytest says so
//! ```
//!
//! `./dev test` installs the Python packages (see `ensure_deps` in `dev`).
//! One suite by hand, with the binaries built:
//! `cargo test -p zya-tests --test gateway -- --nocapture` (`ZYA_PYTEST_K`, a
//! pytest `-k` expression, narrows the suite, e.g. `flow_control`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, Mutex};
use zya_client::catalogue_pb as pb;
use zya_harness::{AllocatorOptions, Allocators, GatewayOptions, Gateways, TEST_DEV_SECRET};
use zya_tests::{phase, Cluster, NodeOptions};

/// Debian's interpreter, with python3-websockets, -jsonschema, -jwt and -pytest.
const PYTHON: &str = "/usr/bin/python3";
/// The whole non-failover suite (about 60 tests, each bounded by its own timeout).
const SUITE_WITHIN: Duration = Duration::from_secs(20 * 60);
/// Python's failover test, from start to verdict.
const FAILOVER_WITHIN: Duration = Duration::from_secs(5 * 60);
/// The line Python prints once publishing is under way.
const FAILOVER_CUE: &str = "ZYA-FAILOVER publishing topic=";
/// Limits of the extra gateway that `tests/ws/test_limits.py` floods.
const LIMITED_PUBLISH_RATE: u32 = 20;
const LIMITED_CONNECTIONS_PER_USER: u32 = 4;

/// Each test starts a whole cluster; on a 2-core machine two at once would
/// also make the suite's timing checks (flow control, rates) flaky.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Allocators, nodes and gateways of one test.
struct Stack {
    allocators: Allocators,
    cluster: Cluster,
    gateways: Gateways,
}

async fn start_stack(gateways: usize) -> anyhow::Result<Stack> {
    phase("3 allocators, 3 nodes");
    let allocators = Allocators::start(3, AllocatorOptions::default()).await?;
    allocators.leader(Duration::from_secs(20)).await?;
    let cluster = Cluster::start(3, NodeOptions { allocators: allocators.addrs(), ..Default::default() }).await?;
    wait_live_nodes(&allocators, 3).await?;
    phase(&format!("{gateways} gateways"));
    let gateways = Gateways::start(gateways, allocators.addrs(), GatewayOptions::default()).await?;
    Ok(Stack { allocators, cluster, gateways })
}

async fn wait_live_nodes(allocators: &Allocators, nodes: usize) -> anyhow::Result<()> {
    let client = allocators.client();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let live = client
            .call(Duration::from_secs(2), |mut s| async move { s.cluster_status(pb::ClusterStatusRequest {}).await })
            .await
            .map(|r| {
                r.into_inner().members.iter().filter(|m| m.live && m.kind == pb::MemberKind::StorageNode as i32).count()
            })
            .unwrap_or(0);
        if live >= nodes {
            return Ok(());
        }
        if Instant::now() > until {
            bail!("nodes did not register: {live} of {nodes} live");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

/// Fails (never skips) when Debian's Python or its packages are missing.
async fn check_python() -> anyhow::Result<()> {
    let out = Command::new(PYTHON)
        .args(["-c", "import websockets, jsonschema, jwt, pytest"])
        .output()
        .await
        .with_context(|| format!("run {PYTHON}"))?;
    if !out.status.success() {
        bail!(
            "{PYTHON} lacks the suite's packages (./dev test installs python3-websockets, python3-jsonschema, \
             python3-jwt, python3-pytest): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// pytest with the environment the suite reads (see `tests/ws/conftest.py`).
fn pytest(stack: &Stack, limited: Option<&Gateways>, args: &[&str]) -> anyhow::Result<Command> {
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-m", "pytest"])
        .args(args)
        .current_dir(workspace_root())
        .env("ZYA_GATEWAYS", stack.gateways.urls().join(","))
        .env("ZYA_DEV_SECRET", TEST_DEV_SECRET)
        .env("ZYA_BIN_DIR", zya_harness::bin_dir()?)
        .env("ZYA_ALLOCATORS", stack.allocators.addrs().join(","))
        .env("ZYA_NODES", (0..3).map(|i| stack.cluster.addr(i).to_owned()).collect::<Vec<_>>().join(","))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(limited) = limited {
        cmd.env("ZYA_LIMITED_GATEWAY", limited.urls().join(","));
    }
    Ok(cmd)
}

/// The tail of every gateway log, for a failure message.
fn gateway_logs(gateways: &[&Gateways]) -> String {
    let mut text = String::new();
    for g in gateways {
        for i in 0..g.procs.len() {
            let log = g.log_text(i);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            text.push_str(&format!("\n--- {} (last {} lines)\n", g.procs[i].url, tail.len()));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_gateways_when_a_foreign_websocket_client_speaks_the_protocol_then_every_frame_conforms(
) -> anyhow::Result<()> {
    zya_tests::init_tracing();
    let _one = ONE_AT_A_TIME.lock().await;
    check_python().await?;
    let mut stack = start_stack(2).await?;
    let limited = Gateways::start(
        1,
        stack.allocators.addrs(),
        GatewayOptions {
            publish_rate: Some(LIMITED_PUBLISH_RATE),
            publish_burst: Some(LIMITED_PUBLISH_RATE),
            max_connections_per_user: Some(LIMITED_CONNECTIONS_PER_USER),
            ..Default::default()
        },
    )
    .await?;

    phase("pytest tests/ws -m 'not failover'");
    // ZYA_PYTEST_K narrows a run by hand: a pytest -k expression.
    let only = std::env::var("ZYA_PYTEST_K").unwrap_or_default();
    let mut args = vec!["-q", "-rfEs", "tests/ws", "-m", "not failover"];
    if !only.is_empty() {
        args.extend(["-k", &only]);
    }
    let suite = run_suite(&stack, &limited, &args).await?;

    phase("restart a gateway: it serves again at its URL and rejoins the service map");
    stack.gateways.restart(1).await?;
    let args = ["-q", "-rfEs", "tests/ws/test_discovery.py", "-k", "handshake_before_login"];
    let rejoined = run_suite(&stack, &limited, &args).await?;

    let failures: Vec<String> = [suite, rejoined].into_iter().flatten().collect();
    if !failures.is_empty() {
        panic!("{}\n{}", failures.join("\n"), gateway_logs(&[&stack.gateways, &limited]));
    }
    Ok(())
}

/// Runs pytest and prints its output; `Some(summary)` when it did not pass
/// cleanly (a failure, an error, a skip, or no test at all).
async fn run_suite(stack: &Stack, limited: &Gateways, args: &[&str]) -> anyhow::Result<Option<String>> {
    let started = Instant::now();
    let run = pytest(stack, Some(limited), args)?.output();
    let out = tokio::time::timeout(SUITE_WITHIN, run).await.context("the Python suite ran too long")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("pytest {} took {:?}", args.join(" "), started.elapsed());
    let summary = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    if out.status.success() && summary.contains("passed") && !summary.contains("skipped") {
        return Ok(None);
    }
    Ok(Some(format!("pytest {} ({}): {summary}", args.join(" "), out.status)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_partition_leader_killed_while_publishing_through_gateways_then_every_published_message_is_delivered(
) -> anyhow::Result<()> {
    zya_tests::init_tracing();
    let _one = ONE_AT_A_TIME.lock().await;
    check_python().await?;
    let mut stack = start_stack(2).await?;
    let signal = stack.gateways.folder().join("leader-killed");

    phase("pytest -m failover: create a topic, subscribe, publish");
    let mut child = pytest(&stack, None, &["-q", "-s", "-rfEs", "tests/ws/test_failover.py", "-m", "failover"])?
        .env("ZYA_FAILOVER_SIGNAL", &signal)
        .spawn()
        .context("start pytest")?;
    let (cue_tx, cue_rx) = oneshot::channel();
    let stdout = collect_lines(child.stdout.take().context("pytest stdout is piped")?, Some(cue_tx));
    let stderr = collect_lines(child.stderr.take().context("pytest stderr is piped")?, None);

    let outcome = async {
        let topic = tokio::time::timeout(Duration::from_secs(120), cue_rx)
            .await
            .context("pytest never reported that publishing is under way")?
            .context("pytest ended before publishing")?;
        phase(&format!("find and SIGKILL the leader of {topic}"));
        let leader = partition_leader(&stack, &topic).await?;
        stack.cluster.kill(leader).await?;
        eprintln!("killed node {leader} ({}), leader of {topic}", stack.cluster.addr(leader));
        std::fs::write(&signal, format!("killed node {leader}\n")).context("write the signal file")?;

        phase("publishing goes on; every Published message must be delivered");
        let status = tokio::time::timeout(FAILOVER_WITHIN, child.wait()).await.context("pytest ran too long")??;
        anyhow::Ok(status)
    }
    .await;
    let printed = format!("{}{}", stdout.lock().expect("lines").join("\n"), stderr.lock().expect("lines").join("\n"));
    eprintln!("{printed}");
    let status = outcome?;
    if printed.contains("ZYA-FAILOVER NOTE") {
        eprintln!("!!! the subscriber had to resubscribe after the failover (see NOTE above)");
    }
    if !status.success() {
        panic!("the failover test failed ({status})\n{}", gateway_logs(&[&stack.gateways]));
    }
    Ok(())
}

/// Collects the lines of a child's pipe; sends the topic of the failover cue
/// on `cue` when that line appears.
fn collect_lines(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    mut cue: Option<oneshot::Sender<String>>,
) -> Arc<StdMutex<Vec<String>>> {
    let lines = Arc::new(StdMutex::new(Vec::new()));
    let keep = lines.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some(topic) = line.trim().strip_prefix(FAILOVER_CUE) {
                if let Some(tx) = cue.take() {
                    let _ = tx.send(topic.trim().to_owned());
                }
            }
            keep.lock().expect("lines").push(line);
        }
    });
    lines
}

/// Index of the node leading the only partition of global `topic`, as its
/// replicas report it (the catalogue's view may lag an election).
async fn partition_leader(stack: &Stack, topic: &str) -> anyhow::Result<usize> {
    let req = pb::DescribeTopicRequest {
        caller: Some(pb::Caller { user: "admin".into(), cluster_admin: true }),
        topic: topic.into(),
        scope: pb::Scope::Global as i32,
    };
    let info = stack
        .allocators
        .client()
        .call(Duration::from_secs(10), |mut s| {
            let req = req.clone();
            async move { s.describe_topic(req).await }
        })
        .await
        .context("describe the topic")?
        .into_inner()
        .topic
        .context("DescribeTopic answered without a topic")?;
    let [p] = info.partitions.as_slice() else { bail!("{topic} should have one partition: {info:?}") };
    let on = p
        .replica_addrs
        .iter()
        .map(|a| stack.cluster.index_of_addr(a).with_context(|| format!("replica {a} is not one of our nodes")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(on.len() == 3, "{topic} should have 3 replicas: {on:?}");
    let client = stack.cluster.client(p.group_id, &on);
    stack.cluster.wait_leader(&client, Duration::from_secs(10)).await
}
