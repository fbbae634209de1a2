//! One lazily connected channel per node address, shared by all clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use zya_proto::http2;
use zya_proto::node::partition_client::PartitionClient as Stub;

use crate::ClientError;

/// Largest gRPC message exchanged with a node.
pub const MAX_MESSAGE: usize = 64 << 20;

#[derive(Clone, Default)]
pub struct Channels {
    inner: Arc<Mutex<HashMap<String, Channel>>>,
}

impl Channels {
    pub fn stub(&self, addr: &str) -> Result<Stub<Channel>, ClientError> {
        let mut map = self.inner.lock().expect("channel map lock is never poisoned");
        let channel = match map.get(addr) {
            Some(c) => c.clone(),
            None => {
                let c = Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| ClientError::BadAddress { addr: addr.to_string(), reason: e.to_string() })?
                    .connect_timeout(Duration::from_millis(500))
                    .tcp_nodelay(true)
                    .max_frame_size(http2::MAX_FRAME)
                    .initial_stream_window_size(http2::STREAM_WINDOW)
                    .initial_connection_window_size(http2::CONNECTION_WINDOW)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .connect_lazy();
                map.insert(addr.to_string(), c.clone());
                c
            }
        };
        Ok(Stub::new(channel).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE))
    }
}
