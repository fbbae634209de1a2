//! `zya dev`: a local cluster on loopback for development, and small tools
//! to append to and read from its partitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use zya_client::catalogue_pb as cpb;
use zya_client::{pb, Channels, PartitionClient};
use zya_harness::{AllocatorOptions, Allocators, Cluster, NodeOptions};

use crate::dev_gateway;

/// How long the nodes get to stop (and flush) before they are killed.
const NODE_STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Start a local cluster (3 allocators and storage nodes; data kept in
    /// --data-dir) and run until Ctrl-C.
    Up {
        #[arg(long, default_value = ".zya-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        nodes: u16,
        /// Port of the first node; the others follow.
        #[arg(long, default_value_t = 7101)]
        base_port: u16,
        /// Port of the first allocator; the other two follow.
        #[arg(long, default_value_t = 7001)]
        allocator_port: u16,
        /// Port of the WebSocket gateway.
        #[arg(long, default_value_t = 8080)]
        gateway_port: u16,
    },
    /// Append one message to a partition and print where it landed.
    Append {
        /// Any node of the partition (the leader is found from there).
        #[arg(long, default_value = "127.0.0.1:7101")]
        node: String,
        #[arg(long, default_value_t = 1)]
        group: u64,
        /// Message id (retrying with the same id never appends twice).
        #[arg(long)]
        id: String,
        payload: String,
    },
    /// Print a partition's committed messages.
    Read {
        #[arg(long, default_value = "127.0.0.1:7101")]
        node: String,
        #[arg(long, default_value_t = 1)]
        group: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
}

pub async fn run(cmd: DevCommand) -> anyhow::Result<()> {
    match cmd {
        DevCommand::Up { data_dir, nodes, base_port, allocator_port, gateway_port } => {
            up(data_dir, nodes, base_port, allocator_port, gateway_port).await
        }
        DevCommand::Append { node, group, id, payload } => {
            let client = PartitionClient::new(Channels::default(), group, vec![node]);
            let msg = pb::NewMessage {
                message_id: id,
                payload: payload.into_bytes(),
                user: "dev".into(),
                device: "cli".into(),
                ..Default::default()
            };
            let r = client.append(vec![msg], Duration::from_secs(10)).await?;
            println!("offset {} duplicate {}", r[0].offset, r[0].duplicate);
            Ok(())
        }
        DevCommand::Read { node, group, from } => {
            let client = PartitionClient::new(Channels::default(), group, vec![node.clone()]);
            for m in client.read_replica(&node, from, None).await? {
                println!("{}\t{}\t{}", m.offset, m.message_id, String::from_utf8_lossy(&m.payload));
            }
            Ok(())
        }
    }
}

async fn up(
    data_dir: PathBuf,
    nodes: u16,
    base_port: u16,
    allocator_port: u16,
    gateway_port: u16,
) -> anyhow::Result<()> {
    let folder = std::path::absolute(&data_dir)?;
    let alloc_ports: Vec<u16> = (0..3).map(|i| allocator_port + i).collect();
    let allocators = Allocators::start_in(
        folder.join("allocators"),
        alloc_ports,
        AllocatorOptions { create_timeout: "3s", down_after: "5s", replace_after: "60s", admins: "admin" },
    )
    .await?;
    allocators.leader(Duration::from_secs(20)).await?;
    let ports: Vec<u16> = (0..nodes).map(|i| base_port + i).collect();
    let options = NodeOptions {
        heartbeat: "200ms",
        failure_timeout: "800ms",
        allocators: allocators.addrs(),
        ..NodeOptions::default()
    };
    let mut cluster = Cluster::start_in(folder.join("nodes"), ports, options).await?;
    let catalogue = allocators.client();
    wait_registered(&catalogue, cluster.nodes.len()).await?;
    let rf = cluster.nodes.len().min(3) as u32;
    let req = cpb::CreateTopicRequest {
        caller: Some(cpb::Caller { user: "admin".into(), cluster_admin: true }),
        topic: "demo".into(),
        scope: cpb::Scope::Global as i32,
        partitions: 1,
        replication_factor: rf,
        ..Default::default()
    };
    let created = catalogue
        .call(Duration::from_secs(30), |mut s| {
            let req = req.clone();
            async move { s.create_topic(req).await }
        })
        .await;
    match created {
        Ok(_)
        | Err(zya_client::CatalogueError::Refused { code: cpb::catalogue_error_detail::Code::TopicExists, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let secret = dev_gateway::dev_secret(&folder)?;
    let mut gateway = dev_gateway::start(&folder, gateway_port, &allocators.addrs(), &secret).await?;
    println!("Zya local cluster is up (data in {}).", folder.display());
    println!("  WebSocket gateway: {}   (log {})", gateway.url, gateway.log.display());
    for p in &allocators.procs {
        println!("  allocator {}: {}", p.id, p.addr);
    }
    for (i, n) in cluster.nodes.iter().enumerate() {
        println!("  node-{i}: {} (node id {})", n.addr, n.node_id);
    }
    println!("Try:  zya cluster status    zya topic create orders --partitions 2    zya topic list");
    println!(
        "      zya token --user alice        (a development token; the secret is in {})",
        folder.join(dev_gateway::SECRET_FILE).display()
    );
    println!("      zya publish demo 'hello'      zya subscribe demo      (through the gateway, as alice)");
    println!("Ctrl-C stops the cluster; its data stays for the next start.");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    // The gateway first, so clients see it go before the nodes do. Then
    // the nodes, asked to stop so they flush their state machines (the
    // allocators' writes are synced as they happen).
    let _ = gateway.child.kill().await;
    println!("Stopping the nodes ...");
    let killed = cluster.stop_all(NODE_STOP_GRACE).await?;
    if killed > 0 {
        eprintln!("{killed} node(s) did not stop within {NODE_STOP_GRACE:?} and were killed");
    }
    Ok(())
}

async fn wait_registered(catalogue: &zya_client::CatalogueClient, nodes: usize) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = catalogue
            .call(Duration::from_secs(5), |mut s| async move { s.cluster_status(cpb::ClusterStatusRequest {}).await })
            .await
            .map(|r| r.into_inner().members.iter().filter(|m| m.live).count())
            .unwrap_or(0);
        if live >= nodes {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < until, "only {live} of {nodes} nodes registered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
