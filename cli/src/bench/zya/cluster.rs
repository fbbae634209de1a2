//! The Zya cluster a benchmark measures: 3 allocators, 3 storage nodes and
//! one gateway, real processes on loopback started from the binaries next to
//! `zya`, the same shape as the JetStream cluster it is compared with.
//!
//! The gateway runs without its per-connection publish rate limit (a
//! production safeguard, not a property of the path being measured).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use zya_client::catalogue_pb as cpb;
use zya_client::PartitionClient;
use zya_harness::{AllocatorOptions, Allocators, Cluster, GatewayOptions, Gateways, NodeOptions};

const ADMIN: &str = "admin";
/// The benchmark's user on the gateway.
pub const USER: &str = "bench";

pub struct BenchCluster {
    pub allocators: Allocators,
    pub nodes: Cluster,
    pub gateways: Gateways,
    secret: String,
}

/// One single-partition topic and a client of its replicas.
pub struct BenchTopic {
    pub name: String,
    pub client: PartitionClient,
}

impl BenchCluster {
    pub async fn start(nodes: usize) -> anyhow::Result<Self> {
        let allocators = Allocators::start(3, AllocatorOptions { admins: ADMIN, ..AllocatorOptions::default() })
            .await
            .context("start allocators")?;
        allocators.leader(Duration::from_secs(30)).await?;
        let options = NodeOptions {
            heartbeat: "200ms",
            failure_timeout: "800ms",
            election_delay_min: "50ms",
            election_delay_max: "400ms",
            allocators: allocators.addrs(),
            ..NodeOptions::default()
        };
        let cluster = Cluster::start(nodes, options).await.context("start nodes")?;
        let gw_options = GatewayOptions {
            publish_rate: Some(10_000_000),
            max_connections_per_user: Some(1_000_000),
            ..GatewayOptions::default()
        };
        let secret = gw_options.dev_secret.clone();
        let gateways = Gateways::start(1, allocators.addrs(), gw_options).await.context("start the gateway")?;
        let this = Self { allocators, nodes: cluster, gateways, secret };
        this.allocators.wait_live_storage_nodes(nodes, Duration::from_secs(30)).await?;
        Ok(this)
    }

    /// Creates a global topic of `partitions` partitions with `replicas`
    /// replicas each and waits until its first partition has a leader.
    pub async fn create_topic(&self, name: &str, partitions: u32, replicas: u32) -> anyhow::Result<BenchTopic> {
        let req = cpb::CreateTopicRequest {
            caller: Some(cpb::Caller { user: ADMIN.into(), cluster_admin: true }),
            topic: name.into(),
            scope: cpb::Scope::Global as i32,
            partitions,
            replication_factor: replicas,
            ..Default::default()
        };
        let info = self
            .allocators
            .client()
            .call(Duration::from_secs(60), |mut s| {
                let r = req.clone();
                async move { s.create_topic(r).await }
            })
            .await
            .with_context(|| format!("create topic {name}"))?
            .into_inner()
            .topic
            .context("CreateTopic answered without a topic")?;
        let partition =
            info.partitions.into_iter().min_by_key(|p| p.partition).context("a topic without partitions")?;
        let client =
            PartitionClient::new(self.nodes.channels.clone(), partition.group_id, partition.replica_addrs.clone());
        self.nodes.wait_leader(&client, Duration::from_secs(30)).await?;
        Ok(BenchTopic { name: name.into(), client })
    }

    /// A development token of the benchmark's user for the gateway.
    pub fn token(&self) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        Ok(zya_gateway::auth::mint_dev_token(
            self.secret.as_bytes(),
            zya_gateway::auth::DEFAULT_DEV_ISSUER,
            USER,
            false,
            24 * 3600,
            now,
        )?)
    }

    pub fn gateway_url(&self) -> String {
        self.gateways.urls()[0].clone()
    }
}
