//! `zya dev`: a local cluster on loopback for development, and small tools
//! to append to and read from its partitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use zya_client::{pb, Channels, PartitionClient};
use zya_harness::{Cluster, NodeOptions};

#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Start a local cluster (data kept in --data-dir) and run until Ctrl-C.
    Up {
        #[arg(long, default_value = ".zya-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        nodes: u16,
        /// Port of the first node; the others follow.
        #[arg(long, default_value_t = 7101)]
        base_port: u16,
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

const DEMO_GROUP: u64 = 1;

pub async fn run(cmd: DevCommand) -> anyhow::Result<()> {
    match cmd {
        DevCommand::Up { data_dir, nodes, base_port } => up(data_dir, nodes, base_port).await,
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

async fn up(data_dir: PathBuf, nodes: u16, base_port: u16) -> anyhow::Result<()> {
    let ports: Vec<u16> = (0..nodes).map(|i| base_port + i).collect();
    let options = NodeOptions { heartbeat: "200ms", failure_timeout: "800ms", ..NodeOptions::default() };
    let folder = std::path::absolute(&data_dir)?;
    let cluster = Cluster::start_in(folder.clone(), ports, options).await?;
    let mut stub = cluster.channels.stub(cluster.addr(0))?;
    let hosted = stub.node_info(pb::NodeInfoRequest {}).await?.into_inner().groups;
    let on: Vec<usize> = (0..cluster.nodes.len().min(3)).collect();
    let client = if hosted.contains(&DEMO_GROUP) {
        let client = cluster.client(DEMO_GROUP, &on);
        cluster.wait_leader(&client, Duration::from_secs(20)).await?;
        client
    } else {
        let config = pb::PartitionConfig { topic: "demo".into(), ..Default::default() };
        cluster.create_group(DEMO_GROUP, &on, config).await?
    };
    let status = client.status(cluster.addr(0)).await?;
    println!("Zya local cluster is up (data in {}).", folder.display());
    for (i, n) in cluster.nodes.iter().enumerate() {
        println!("  node-{i}: {} (node id {})", n.addr, n.node_id);
    }
    println!(
        "  partition {DEMO_GROUP} 'demo': {} messages, leader node id {:?}",
        status.message_count, status.leader_id
    );
    println!("Try:  zya dev append --id hello-1 'hello'   and   zya dev read");
    println!("Ctrl-C stops the cluster; its data stays for the next start.");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
