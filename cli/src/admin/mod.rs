//! Operator commands against the allocators' catalogue: cluster status,
//! topics, node decommissioning. Tables for people, `--json` for scripts.
//!
//! The operator acts as a cluster admin (`--user`, default `admin`): the
//! catalogue service listens on the cluster's internal network only.

mod table;

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use zya_client::catalogue_pb as pb;
use zya_client::CatalogueClient;

/// Where the allocators are and who acts.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Allocator addresses (host:port, comma separated).
    #[arg(
        long,
        env = "ZYA_ALLOCATORS",
        value_delimiter = ',',
        default_value = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
        global = true
    )]
    allocators: Vec<String>,
    /// The operator's user name (acts as a cluster admin).
    #[arg(long, env = "ZYA_USER", default_value = "admin", global = true)]
    user: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Members of the cluster with liveness and load.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic (global unless --local).
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        #[arg(long, default_value_t = 3)]
        replication_factor: u32,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long)]
        audited: bool,
        /// In the user's own namespace.
        #[arg(long)]
        local: bool,
    },
    /// Topics visible to the user, with message counts.
    List,
    /// A topic's partitions, leaders and backups.
    Describe {
        name: String,
        #[arg(long)]
        local: bool,
    },
    /// Delete a topic and free its storage.
    Delete {
        name: String,
        #[arg(long)]
        local: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Move every replica off a storage node, then leave it empty.
    Decommission { node_id: u64 },
}

const DEADLINE: Duration = Duration::from_secs(30);

fn caller(t: &Target) -> pb::Caller {
    pb::Caller { user: t.user.clone(), cluster_admin: true }
}

fn scope(local: bool) -> i32 {
    if local {
        pb::Scope::Local as i32
    } else {
        pb::Scope::Global as i32
    }
}

pub async fn cluster(cmd: ClusterCommand, t: Target) -> anyhow::Result<()> {
    let client = CatalogueClient::new(t.allocators.clone());
    match cmd {
        ClusterCommand::Status => {
            let st = client
                .call(DEADLINE, |mut s| async move { s.cluster_status(pb::ClusterStatusRequest {}).await })
                .await?
                .into_inner();
            if t.json {
                let members: Vec<_> = st.members.iter().map(table::member_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"catalogueLeader": st.catalogue_leader, "topics": st.topics, "members": members})
                    )?
                );
            } else {
                println!("catalogue leader: {:?}   topics: {}", st.catalogue_leader, st.topics);
                table::print_members(&st.members);
            }
        }
    }
    Ok(())
}

pub async fn topic(cmd: TopicCommand, t: Target) -> anyhow::Result<()> {
    let client = CatalogueClient::new(t.allocators.clone());
    let who = caller(&t);
    let topics: Vec<pb::TopicInfo> = match cmd {
        TopicCommand::Create { name, partitions, replication_factor, page_size, audited, local } => {
            let req = pb::CreateTopicRequest {
                caller: Some(who),
                topic: name,
                scope: scope(local),
                partitions,
                replication_factor,
                page_size,
                audited,
                ..Default::default()
            };
            let r = client.call(DEADLINE, |mut s| {
                let req = req.clone();
                async move { s.create_topic(req).await }
            });
            r.await?.into_inner().topic.into_iter().collect()
        }
        TopicCommand::List => {
            let req = pb::ListTopicsRequest { caller: Some(who) };
            let r = client.call(DEADLINE, |mut s| {
                let req = req.clone();
                async move { s.list_topics(req).await }
            });
            r.await?.into_inner().topics
        }
        TopicCommand::Describe { name, local } => {
            let req = pb::DescribeTopicRequest { caller: Some(who), topic: name, scope: scope(local) };
            let r = client.call(DEADLINE, |mut s| {
                let req = req.clone();
                async move { s.describe_topic(req).await }
            });
            r.await?.into_inner().topic.into_iter().collect()
        }
        TopicCommand::Delete { name, local } => {
            let req = pb::DeleteTopicRequest { caller: Some(who), topic: name, scope: scope(local) };
            let r = client.call(DEADLINE, |mut s| {
                let req = req.clone();
                async move { s.delete_topic(req).await }
            });
            r.await?.into_inner().topic.into_iter().collect()
        }
    };
    if t.json {
        let out: Vec<_> = topics.iter().map(table::topic_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        table::print_topics(&topics);
    }
    Ok(())
}

pub async fn node(cmd: NodeCommand, t: Target) -> anyhow::Result<()> {
    let client = CatalogueClient::new(t.allocators.clone());
    match cmd {
        NodeCommand::Decommission { node_id } => {
            let r = client
                .call(DEADLINE, |mut s| async move { s.decommission(pb::DecommissionRequest { node_id }).await })
                .await?
                .into_inner();
            if t.json {
                println!("{}", json!({"nodeId": node_id, "partitionsToMove": r.partitions_to_move}));
            } else {
                println!("node {node_id}: decommissioning, {} replicas to move", r.partitions_to_move);
            }
        }
    }
    Ok(())
}
