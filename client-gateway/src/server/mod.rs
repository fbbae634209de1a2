//! The gateway process: listen, upgrade `/v1/ws` connections, serve each in
//! its own task, and keep the gateway registered in the catalogue so it
//! appears in the service map.

mod registration;
mod users;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response as HttpResponse,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

pub use users::{UserCounts, UserSlot};

use crate::auth::TokenVerifier;
use crate::backend::Backend;
use crate::config::Config;

/// The protocol's one endpoint.
pub const WS_PATH: &str = "/v1/ws";
/// Longest time a client may take to complete the WebSocket upgrade.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection of this gateway shares.
pub struct Shared {
    pub config: Config,
    pub backend: Arc<Backend>,
    pub verifier: Arc<dyn TokenVerifier>,
    pub users: UserCounts,
}

/// Binds, announces readiness on stdout, and serves until `cancel`.
pub async fn run(
    mut config: Config,
    verifier: Arc<dyn TokenVerifier>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    if config.listen.port() == 0 && config.public_url.contains(":0/") {
        config.public_url = format!("ws://{local}{WS_PATH}");
    }
    let backend = Backend::new(config.allocators.clone());
    let users = UserCounts::new(config.max_connections_per_user);
    let shared = Arc::new(Shared { config, backend, verifier, users });
    tokio::spawn(registration::run(shared.clone(), cancel.clone()));
    println!("zya-gateway ready id={} url={}", shared.config.id, shared.config.public_url);
    tracing::info!(addr = %local, url = %shared.config.public_url, "serving the WebSocket protocol");
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (shared, cancel) = (shared.clone(), cancel.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, shared, cancel).await {
                tracing::debug!(%peer, error = %e, "connection not upgraded");
            }
        });
    }
    // Let connections send their close frames.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

/// Read buffer and write-batching target of each WebSocket.
const SOCKET_BUFFER: usize = 16 * 1024;

async fn connection(stream: TcpStream, shared: Arc<Shared>, cancel: CancellationToken) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let limit = shared.config.max_frame_bytes;
    // Small socket buffers: tungstenite's 128 KiB defaults (read buffer and
    // write batching) were most of an idle connection's memory; frames
    // larger than the buffer are still read whole, in more calls.
    let ws_config = WebSocketConfig::default()
        .max_frame_size(Some(limit))
        .max_message_size(Some(limit))
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER);
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, check_path, Some(ws_config));
    let ws = tokio::time::timeout(UPGRADE_TIMEOUT, upgrade).await??;
    crate::conn::serve(ws, shared, cancel).await;
    Ok(())
}

/// Only `/v1/ws` upgrades; anything else is a 404. (The signature is the
/// handshake library's callback type.)
#[allow(clippy::result_large_err)]
fn check_path(req: &HttpRequest, resp: HttpResponse) -> Result<HttpResponse, ErrorResponse> {
    if req.uri().path() == WS_PATH {
        return Ok(resp);
    }
    let mut not_found = ErrorResponse::new(Some(format!("not found; the WebSocket endpoint is {WS_PATH}\n")));
    *not_found.status_mut() = StatusCode::NOT_FOUND;
    Err(not_found)
}
