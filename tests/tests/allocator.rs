//! The catalogue and the TopicAllocator through real processes: three
//! `zya-allocator` replicas and four `zya-node`s on loopback.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zya_checker::{check, Recorder};
use zya_client::catalogue_pb as pb;
use zya_client::catalogue_pb::catalogue_error_detail::Code;
use zya_client::{CatalogueClient, CatalogueError, Channels, PartitionClient};
use zya_harness::{AllocatorOptions, Allocators};
use zya_tests::{phase, workload, Cluster, NodeOptions};

fn admin() -> pb::Caller {
    pb::Caller { user: "admin".into(), cluster_admin: true }
}

fn user(name: &str) -> pb::Caller {
    pb::Caller { user: name.into(), cluster_admin: false }
}

async fn start(nodes: usize, options: AllocatorOptions) -> anyhow::Result<(Allocators, Cluster)> {
    let allocators = Allocators::start(3, options).await?;
    allocators.leader(Duration::from_secs(20)).await?;
    let cluster = Cluster::start(nodes, NodeOptions { allocators: allocators.addrs(), ..Default::default() }).await?;
    let client = allocators.client();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let live = client
            .call(Duration::from_secs(2), |mut s| async move { s.cluster_status(pb::ClusterStatusRequest {}).await })
            .await
            .map(|r| r.into_inner().members.iter().filter(|m| m.live).count())
            .unwrap_or(0);
        if live == nodes {
            return Ok((allocators, cluster));
        }
        assert!(Instant::now() < until, "nodes did not register: {live} of {nodes} live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create(
    client: &CatalogueClient,
    caller: pb::Caller,
    topic: &str,
    scope: pb::Scope,
    partitions: u32,
    rf: u32,
) -> Result<pb::TopicInfo, CatalogueError> {
    let req = pb::CreateTopicRequest {
        caller: Some(caller),
        topic: topic.into(),
        scope: scope as i32,
        partitions,
        replication_factor: rf,
        ..Default::default()
    };
    let r = client.call(Duration::from_secs(30), |mut s| {
        let req = req.clone();
        async move { s.create_topic(req).await }
    });
    Ok(r.await?.into_inner().topic.expect("topic in reply"))
}

async fn describe(client: &CatalogueClient, topic: &str) -> anyhow::Result<pb::TopicInfo> {
    let req = pb::DescribeTopicRequest { caller: Some(admin()), topic: topic.into(), scope: pb::Scope::Global as i32 };
    let r = client
        .call(Duration::from_secs(10), |mut s| {
            let req = req.clone();
            async move { s.describe_topic(req).await }
        })
        .await?;
    Ok(r.into_inner().topic.expect("topic in reply"))
}

fn refused(r: Result<pb::TopicInfo, CatalogueError>) -> Code {
    match r {
        Err(CatalogueError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_topics_when_created_then_placement_follows_load_and_survives_allocator_leader_loss() -> anyhow::Result<()>
{
    zya_tests::init_tracing();
    phase("3 allocators, 4 nodes");
    let (mut allocators, cluster) = start(4, AllocatorOptions::default()).await?;
    let client = allocators.client();

    phase("4 partitions × 3 replicas spread evenly; each node leads one");
    let t1 = create(&client, admin(), "orders", pb::Scope::Global, 4, 3).await?;
    let mut per_node = std::collections::HashMap::<u64, (u32, u32)>::new();
    for p in &t1.partitions {
        assert_eq!(p.replicas.len(), 3);
        let distinct: std::collections::HashSet<_> = p.replicas.iter().collect();
        assert_eq!(distinct.len(), 3, "replicas of a partition on distinct nodes");
        for (k, r) in p.replicas.iter().enumerate() {
            let e = per_node.entry(*r).or_default();
            e.0 += 1;
            e.1 += (k == 0) as u32;
        }
    }
    assert!(per_node.values().all(|&(replicas, leads)| replicas == 3 && leads == 1), "{per_node:?}");

    phase("the next topics go to the least loaded nodes");
    let t2 = create(&client, admin(), "a", pb::Scope::Global, 1, 2).await?;
    let t3 = create(&client, admin(), "b", pb::Scope::Global, 1, 2).await?;
    let (r2, r3) = (&t2.partitions[0].replicas, &t3.partitions[0].replicas);
    assert!(r3.iter().all(|n| !r2.contains(n)), "b avoids a's nodes, now busier: {r2:?} {r3:?}");

    phase("publish through the placement the catalogue describes");
    let info = describe(&client, "orders").await?;
    let p0 = &info.partitions[0];
    let part = PartitionClient::new(Channels::default(), p0.group_id, p0.replica_addrs.clone());
    let msg = zya_client::pb::NewMessage { message_id: "x".into(), payload: b"y".to_vec(), ..Default::default() };
    assert_eq!(part.append(vec![msg], Duration::from_secs(10)).await?[0].offset, 0);

    phase("errors and rights");
    assert_eq!(refused(create(&client, admin(), "orders", pb::Scope::Global, 1, 3).await), Code::TopicExists);
    assert_eq!(refused(create(&client, user("bob"), "bobs", pb::Scope::Global, 1, 3).await), Code::NotAuthorized);
    create(&client, user("bob"), "notes", pb::Scope::Local, 1, 3).await?;
    create(&client, user("alice"), "notes", pb::Scope::Local, 1, 3).await?;
    let list = |caller: pb::Caller| {
        let client = &client;
        async move {
            let req = pb::ListTopicsRequest { caller: Some(caller) };
            let r = client
                .call(Duration::from_secs(10), |mut s| {
                    let req = req.clone();
                    async move { s.list_topics(req).await }
                })
                .await?;
            Ok::<_, anyhow::Error>(r.into_inner().topics)
        }
    };
    let bobs = list(user("bob")).await?;
    assert_eq!(bobs.iter().filter(|t| t.topic == "notes").count(), 1, "bob sees his own notes only");
    assert!(bobs.iter().any(|t| t.topic == "orders" && t.page_size == 100));
    // Message counts come with the nodes' next load report.
    let until = Instant::now() + Duration::from_secs(10);
    while !list(user("bob")).await?.iter().any(|t| t.topic == "orders" && t.message_count == 1) {
        assert!(Instant::now() < until, "message count of orders never reached 1");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delete = |caller: pb::Caller, topic: &str, scope: pb::Scope| {
        let req = pb::DeleteTopicRequest { caller: Some(caller), topic: topic.into(), scope: scope as i32 };
        let client = &client;
        async move {
            client
                .call(Duration::from_secs(10), |mut s| {
                    let req = req.clone();
                    async move { s.delete_topic(req).await }
                })
                .await
        }
    };
    assert!(matches!(
        delete(user("bob"), "orders", pb::Scope::Global).await,
        Err(CatalogueError::Refused { code: Code::NotAuthorized, .. })
    ));
    delete(admin(), "a", pb::Scope::Global).await?;
    assert!(matches!(
        delete(admin(), "a", pb::Scope::Global).await,
        Err(CatalogueError::Refused { code: Code::TopicNotFound, .. })
    ));
    let gone = t2.partitions[0].group_id;
    let until = Instant::now() + Duration::from_secs(20);
    for i in 0..4 {
        loop {
            let mut stub = cluster.channels.stub(cluster.addr(i))?;
            let groups = stub.node_info(zya_client::pb::NodeInfoRequest {}).await?.into_inner().groups;
            if !groups.contains(&gone) {
                break;
            }
            assert!(Instant::now() < until, "deleted topic's group still on node {i}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    phase("kill the catalogue leader: topics are created again within seconds");
    let leader = allocators.leader(Duration::from_secs(10)).await?;
    allocators.kill(leader).await?;
    let t0 = Instant::now();
    create(&client, admin(), "after-failover", pb::Scope::Global, 2, 3).await?;
    eprintln!("created a topic {:?} after killing the catalogue leader", t0.elapsed());
    assert!(describe(&client, "orders").await?.partitions.len() == 4, "catalogue kept everything");
    allocators.restart(leader).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_a_frozen_node_when_creating_a_topic_then_round_robin_places_it_elsewhere() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    let (allocators, mut cluster) = start(4, AllocatorOptions { create_timeout: "2s", ..Default::default() }).await?;
    let client = allocators.client();

    phase("freeze the node placement by load would pick first (lowest id on a tie)");
    let frozen = (0..4).min_by_key(|&i| cluster.nodes[i].node_id).expect("4 nodes");
    let frozen_id = cluster.nodes[frozen].node_id;
    cluster.pause(frozen)?;
    let t0 = Instant::now();
    let t = create(&client, admin(), "fallback", pb::Scope::Global, 1, 3).await?;
    let took = t0.elapsed();
    eprintln!("created with the fallback in {took:?}");
    assert!(!t.partitions[0].replicas.contains(&frozen_id), "placed away from the frozen node: {t:?}");
    cluster.resume(frozen)?;

    phase("the placed partition works");
    let p = &t.partitions[0];
    let part = PartitionClient::new(Channels::default(), p.group_id, p.replica_addrs.clone());
    let msg = zya_client::pb::NewMessage { message_id: "m".into(), payload: b"p".to_vec(), ..Default::default() };
    part.append(vec![msg], Duration::from_secs(10)).await?;

    phase("the frozen node's replica of the abandoned attempt is cleaned up");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let mut stub = cluster.channels.stub(cluster.addr(frozen))?;
        let groups = stub.node_info(zya_client::pb::NodeInfoRequest {}).await?.into_inner().groups;
        if groups.iter().all(|g| *g == p.group_id) {
            break;
        }
        assert!(Instant::now() < until, "leftover groups on the frozen node: {groups:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_a_node_killed_for_good_when_time_passes_then_its_partitions_are_re_replicated() -> anyhow::Result<()> {
    zya_tests::init_tracing();
    let options = AllocatorOptions { down_after: "2s", replace_after: "4s", ..Default::default() };
    let (allocators, mut cluster) = start(4, options).await?;
    let client = allocators.client();
    let t = create(&client, admin(), "durable", pb::Scope::Global, 2, 3).await?;
    let recorder = Recorder::new();

    phase("publish to both partitions; kill a node holding replicas of both, keep publishing");
    let victim_id = t.partitions[0].replicas.iter().find(|r| t.partitions[1].replicas.contains(r)).copied();
    let victim_id = victim_id.unwrap_or(t.partitions[0].replicas[0]);
    let victim = cluster.nodes.iter().position(|n| n.node_id == victim_id).expect("victim is a node");
    let clients: Vec<Arc<PartitionClient>> = t
        .partitions
        .iter()
        .map(|p| Arc::new(PartitionClient::new(Channels::default(), p.group_id, p.replica_addrs.clone())))
        .collect();
    for (k, c) in clients.iter().enumerate() {
        let topic = format!("durable/{k}");
        workload::publish(c.clone(), recorder.clone(), &topic, 2, 300, 50, Arc::new(AtomicU64::new(0))).await;
    }
    cluster.kill(victim).await?;
    let killed_at = Instant::now();
    let mut writers = Vec::new();
    for (k, c) in clients.iter().enumerate() {
        let (c, recorder, topic) = (c.clone(), recorder.clone(), format!("durable/{k}"));
        writers.push(tokio::spawn(async move {
            workload::publish(c, recorder, &topic, 2, 1500, 50, Arc::new(AtomicU64::new(0))).await
        }));
    }

    phase("the dead node leaves the service map");
    let victim_addr = cluster.addr(victim).to_string();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let map = client
            .call(Duration::from_secs(5), |mut s| async move { s.service_map(pb::ServiceMapRequest {}).await })
            .await?
            .into_inner();
        if !map.nodes.contains(&victim_addr) {
            assert_eq!(map.nodes.len(), 3, "{map:?}");
            assert_eq!(map.allocators.len(), 3, "{map:?}");
            break;
        }
        assert!(Instant::now() < until, "dead node still in the service map: {map:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    phase("wait for the catalogue to move every replica off the dead node");
    let until = Instant::now() + Duration::from_secs(90);
    let moved = loop {
        let info = describe(&client, "durable").await?;
        if info.partitions.iter().all(|p| p.replicas.len() == 3 && !p.replicas.contains(&victim_id)) {
            eprintln!("replicas moved off the dead node {:?} after it was killed", killed_at.elapsed());
            break info;
        }
        assert!(Instant::now() < until, "replicas not moved: {info:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for w in writers {
        w.await?;
    }

    phase("every current replica holds every acknowledged message");
    for (k, p) in moved.partitions.iter().enumerate() {
        let c = PartitionClient::new(Channels::default(), p.group_id, p.replica_addrs.clone());
        cluster.wait_converged(&c, Duration::from_secs(60)).await?;
        for addr in &p.replica_addrs {
            let entries = c.read_replica(addr, 0, None).await?.into_iter().map(|m| (m.offset, m.message_id)).collect();
            recorder.record(
                1000,
                zya_checker::Op::FinalRead {
                    topic: format!("durable/{k}"),
                    partition: 0,
                    replica: addr.clone(),
                    entries,
                },
            );
        }
    }
    let report = check(&recorder.history());
    eprintln!("{report}");
    assert!(report.is_valid(), "anomalies:\n{report}");
    Ok(())
}

/// Runs the `zya` binary and returns its standard output.
async fn zya(allocators: &Allocators, args: &[&str]) -> anyhow::Result<String> {
    let bin = zya_harness::bin_dir()?.join("zya");
    let out = tokio::process::Command::new(&bin)
        .args(args)
        .args(["--allocators", &allocators.addrs().join(",")])
        .output()
        .await?;
    anyhow::ensure!(out.status.success(), "zya {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_the_admin_cli_when_managing_topics_and_decommissioning_then_the_catalogue_follows() -> anyhow::Result<()>
{
    zya_tests::init_tracing();
    let (allocators, cluster) = start(4, AllocatorOptions::default()).await?;

    phase("create, list and describe through the zya command");
    let table =
        zya(&allocators, &["topic", "create", "events", "--partitions", "3", "--replication-factor", "2"]).await?;
    assert!(table.contains("events") && table.contains("global"), "{table}");
    let listed: serde_json::Value = serde_json::from_str(&zya(&allocators, &["topic", "list", "--json"]).await?)?;
    assert_eq!(listed[0]["topic"], "events");
    assert_eq!(listed[0]["partitions"].as_array().map(Vec::len), Some(3));
    let status: serde_json::Value = serde_json::from_str(&zya(&allocators, &["cluster", "status", "--json"]).await?)?;
    let members = status["members"].as_array().expect("members");
    assert_eq!(members.iter().filter(|m| m["live"] == true && m["kind"] == "node").count(), 4);

    phase("decommission the node holding the most replicas: all move away, the node ends empty");
    let described: serde_json::Value =
        serde_json::from_str(&zya(&allocators, &["topic", "describe", "events", "--json"]).await?)?;
    let mut count = std::collections::HashMap::<u64, usize>::new();
    for p in described[0]["partitions"].as_array().expect("partitions") {
        for r in p["replicas"].as_array().expect("replicas") {
            *count.entry(r.as_u64().expect("id")).or_default() += 1;
        }
    }
    let (&drained, _) = count.iter().max_by_key(|(_, c)| **c).expect("some replica");
    let out = zya(&allocators, &["node", "decommission", &drained.to_string()]).await?;
    assert!(out.contains("decommissioning"), "{out}");
    let client = allocators.client();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let info = describe(&client, "events").await?;
        if info.partitions.iter().all(|p| p.replicas.len() == 2 && !p.replicas.contains(&drained)) {
            break;
        }
        assert!(Instant::now() < until, "replicas still on the drained node: {info:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let i = cluster.nodes.iter().position(|n| n.node_id == drained).expect("drained node");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let mut stub = cluster.channels.stub(cluster.addr(i))?;
        if stub.node_info(zya_client::pb::NodeInfoRequest {}).await?.into_inner().groups.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "the drained node still hosts groups");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_gateway_registered_when_it_stops_heartbeating_then_it_leaves_the_service_map() -> anyhow::Result<()> {
    let (allocators, _cluster) = start(1, AllocatorOptions::default()).await?;
    let client = allocators.client();
    let url = "ws://127.0.0.1:18080/v1/ws".to_string();
    let register = pb::RegisterMemberRequest { id: 4242, kind: pb::MemberKind::Gateway as i32, addr: url.clone() };
    client
        .call(Duration::from_secs(10), |mut s| {
            let r = register.clone();
            async move { s.register_member(r).await }
        })
        .await?;
    let map = || {
        let client = &client;
        async move {
            let r = client
                .call(Duration::from_secs(5), |mut s| async move { s.service_map(pb::ServiceMapRequest {}).await })
                .await?;
            Ok::<_, anyhow::Error>(r.into_inner())
        }
    };
    assert!(!map().await?.gateways.contains(&url), "registered but never heard from: not in the map yet");

    phase("heartbeats put the gateway in the map; silence takes it out");
    let beat = pb::HeartbeatRequest {
        id: 4242,
        kind: pb::MemberKind::Gateway as i32,
        addr: url.clone(),
        ..Default::default()
    };
    client
        .call(Duration::from_secs(5), |mut s| {
            let b = beat.clone();
            async move { s.heartbeat(b).await }
        })
        .await?;
    assert!(map().await?.gateways.contains(&url));
    let until = Instant::now() + Duration::from_secs(15);
    while map().await?.gateways.contains(&url) {
        assert!(Instant::now() < until, "a silent gateway stayed in the service map");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
