//! Running an allocator: open storage, join or bootstrap the catalogue
//! group, serve the catalogue and its Raft RPCs, run the background loops.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::BasicNode;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use zya_proto::catalogue::catalogue_server::CatalogueServer;
use zya_proto::raft::raft_peer_server::RaftPeerServer;
use zya_raftstore::{ChannelPool, Store, StoreError};

use crate::allocator::Allocator;
use crate::catalogue::command::CatalogueCommand;
use crate::catalogue::store::CatalogueStore;
use crate::config::Config;
use crate::peer::CataloguePeer;
use crate::raft::{self, LogStore, Raft, CATALOGUE_GROUP};
use crate::service::CatalogueService;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("storage")]
    Store(#[from] StoreError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("bind {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server")]
    Serve(#[from] tonic::transport::Error),
}

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServeError> {
    let store = Store::open(&config.data_dir, &[])?;
    let (sm, reader) = CatalogueStore::open(store.clone())?;
    let log = LogStore::new(store, CATALOGUE_GROUP);
    let raft_config =
        Arc::new(raft::config(config.heartbeat_ms).validate().map_err(|e| ServeError::Raft(e.to_string()))?);
    let network = raft::Network::new(CATALOGUE_GROUP, Arc::new(ChannelPool::default()));
    let raft =
        Raft::new(config.id, raft_config, network, log, sm).await.map_err(|e| ServeError::Raft(e.to_string()))?;

    // The lowest id bootstraps a fresh catalogue; the others wait to be
    // reached. Initializing twice is refused by openraft, so restarts are safe.
    if config.peers.keys().next() == Some(&config.id) {
        let members: BTreeMap<u64, BasicNode> =
            config.peers.iter().map(|(id, addr)| (*id, BasicNode::new(addr.clone()))).collect();
        match raft.initialize(members).await {
            Ok(()) => tracing::info!("catalogue bootstrapped"),
            Err(openraft::error::RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => {}
            Err(e) => return Err(ServeError::Raft(e.to_string())),
        }
    }

    let alloc = Arc::new(Allocator::new(
        config.id,
        raft.clone(),
        reader,
        zya_client::Channels::default(),
        config.allocator.clone(),
    ));
    let tracker = TaskTracker::new();
    tracker.spawn(crate::rereplicate::run(alloc.clone(), shutdown.child_token()));
    tracker.spawn(crate::reconcile::run(alloc.clone(), shutdown.child_token()));
    tracker.spawn(seed_admins(alloc.clone(), config.admins.clone(), shutdown.child_token()));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    println!("zya-allocator ready id={} addr={}", config.id, config.peers[&config.id]);
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(RaftPeerServer::new(CataloguePeer {
            id: config.id,
            raft: raft.clone(),
            incoming: Default::default(),
        }))
        .add_service(CatalogueServer::new(CatalogueService { alloc }))
        // `tcp_nodelay` above applies only to listeners tonic binds itself:
        // accepted sockets need it here, or small replies wait for the
        // peer's delayed ACK (about 40 ms) behind Nagle's algorithm.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled(),
        )
        .await?;
    tracker.close();
    tracker.wait().await;
    if let Err(e) = raft.shutdown().await {
        tracing::warn!(error = %e, "raft shutdown");
    }
    Ok(())
}

/// Makes the configured admins cluster admins once this replica leads.
async fn seed_admins(alloc: Arc<Allocator>, admins: Vec<String>, cancel: CancellationToken) {
    let mut pending = admins;
    while !pending.is_empty() {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        if alloc.ensure_leader().is_err() {
            continue;
        }
        let mut left = Vec::new();
        for user in pending {
            if alloc.reader.read(|c| c.is_cluster_admin(&user)) {
                continue;
            }
            if alloc.propose(CatalogueCommand::GrantClusterAdmin { user: user.clone() }).await.is_err() {
                left.push(user);
            }
        }
        pending = left;
    }
}
