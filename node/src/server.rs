//! Running a node: open storage, reopen hosted groups, serve gRPC, stop.
//!
//! The node owns a `CancellationToken`; every group and background task holds
//! a child of it. Shutdown cancels it, stops accepting requests, then stops
//! every Raft group.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use zya_proto::node::partition_server::PartitionServer;
use zya_proto::raft::raft_peer_server::RaftPeerServer;

use crate::api::{Appends, Faults, PartitionService};
use crate::config::Config;
use crate::group::{run_retention, Registry};
use crate::liveness::{self, LocalLeaders};
use crate::raft::peer_service::PeerService;
use crate::storage::{Store, StoreError};

/// Largest gRPC message a node accepts (an append batch, a snapshot chunk).
pub const MAX_GRPC_MESSAGE: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("storage")]
    Store(#[from] StoreError),
    #[error("open groups")]
    Groups(#[from] crate::error::NodeError),
    #[error("bind {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server")]
    Serve(#[from] tonic::transport::Error),
}

/// Runs the node until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServeError> {
    let store = Store::open(&config.data_dir, &crate::storage::NODE_COLUMN_FAMILIES)?;
    crate::storage::migrate::records_to_own_family(&store)?;
    let node_id = store.node_id()?;
    let span = tracing::info_span!("node", node_id);
    let _enter = span.enter();
    let registry = Registry::open(store, node_id, config.timing.clone(), shutdown.child_token()).await?;
    tracing::info!(groups = registry.all().len(), addr = %config.advertise, "node storage open");

    let faults = if config.fault_ack_before_replication {
        tracing::warn!("TEST FAULT ENABLED: appends are acknowledged before replication; data WILL be lost");
        Faults::ack_before_replication()
    } else {
        Faults::default()
    };
    let tracker = TaskTracker::new();
    tracker.spawn(run_retention(registry.clone(), config.retention_interval, shutdown.child_token()));
    let leaders = Arc::new(LocalLeaders::default());
    tracker.spawn(liveness::run(registry.clone(), leaders.clone(), config.liveness.clone(), shutdown.child_token()));

    if !config.allocators.is_empty() {
        tracker.spawn(crate::catalogue_link::run(
            registry.clone(),
            config.advertise.clone(),
            config.allocators.clone(),
            config.report_interval,
            shutdown.child_token(),
        ));
    }
    let partition = PartitionService {
        registry: registry.clone(),
        addr: config.advertise.clone(),
        appends: Appends { registry: registry.clone(), faults: Arc::new(faults), write_timeout: config.write_timeout },
        cancel: shutdown.child_token(),
    };
    let peer = PeerService { node_id, registry: registry.clone(), leaders };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    // Line read by test harnesses and scripts to learn the node is serving.
    println!("zya-node ready node_id={node_id} addr={}", config.advertise);
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .max_frame_size(zya_proto::http2::MAX_FRAME)
        .initial_stream_window_size(zya_proto::http2::STREAM_WINDOW)
        .initial_connection_window_size(zya_proto::http2::CONNECTION_WINDOW)
        .add_service(
            RaftPeerServer::new(peer)
                .max_decoding_message_size(MAX_GRPC_MESSAGE)
                .max_encoding_message_size(MAX_GRPC_MESSAGE),
        )
        .add_service(
            PartitionServer::new(partition)
                .max_decoding_message_size(MAX_GRPC_MESSAGE)
                .max_encoding_message_size(MAX_GRPC_MESSAGE),
        )
        // `tcp_nodelay` above applies only to listeners tonic binds itself:
        // accepted sockets need it here, or small replies wait for the
        // peer's delayed ACK (about 40 ms) behind Nagle's algorithm.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled(),
        )
        .await?;
    tracing::info!("stopping groups");
    registry.shutdown().await;
    tracker.close();
    tracker.wait().await;
    tracing::info!("node stopped; state machines flushed");
    Ok(())
}
