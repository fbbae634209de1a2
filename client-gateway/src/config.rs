//! The gateway's command line: flags (or `ZYA_*` environment variables, as
//! containers prefer) checked once into a [`Config`], so the rest of the
//! gateway never sees an unchecked setting.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::auth::{DevConfig, DevVerifier, DEFAULT_DEV_ISSUER, DEFAULT_LEEWAY_SECONDS};
use crate::protocol::limits::DEFAULT_MAX_FRAME_BYTES;

#[derive(Debug, Parser)]
#[command(name = "zya-gateway", about = "Zya client gateway: the JSON WebSocket protocol at /v1/ws")]
pub struct Settings {
    /// Address to listen on; the WebSocket endpoint is `/v1/ws`.
    #[arg(long, env = "ZYA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// URL clients should use to reach this gateway (published in the
    /// service map). Default: `ws://<listen>/v1/ws`.
    #[arg(long, env = "ZYA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The allocators (catalogue replicas), comma-separated `host:port`.
    #[arg(long, env = "ZYA_ALLOCATORS", value_delimiter = ',', required = true)]
    pub allocators: Vec<String>,
    /// Member id in the catalogue; random when not given.
    #[arg(long, env = "ZYA_GATEWAY_ID")]
    pub id: Option<u64>,
    /// Development mode: verify HS256 tokens signed with this secret (at
    /// least 32 bytes).
    #[arg(long, env = "ZYA_DEV_SECRET", hide_env_values = true)]
    pub dev_secret: String,
    /// `iss` that development tokens must carry.
    #[arg(long, env = "ZYA_DEV_ISSUER", default_value = DEFAULT_DEV_ISSUER)]
    pub dev_issuer: String,
    /// Largest WebSocket frame (one JSON request), in bytes; larger frames
    /// close the connection with 1009.
    #[arg(long, env = "ZYA_MAX_FRAME_BYTES", default_value_t = DEFAULT_MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,
    /// Largest message payload, in bytes; larger ones get `PayloadTooLarge`.
    #[arg(long, env = "ZYA_MAX_MESSAGE_BYTES", default_value_t = 256 * 1024)]
    pub max_message_bytes: usize,
    /// Messages a connection may publish per second (sustained).
    #[arg(long, env = "ZYA_PUBLISH_RATE", default_value_t = 10_000)]
    pub publish_rate: u32,
    /// Messages a connection may publish in a burst; default: one second's worth.
    #[arg(long, env = "ZYA_PUBLISH_BURST")]
    pub publish_burst: Option<u32>,
    /// Open connections one user may hold on this gateway.
    #[arg(long, env = "ZYA_MAX_CONNECTIONS_PER_USER", default_value_t = 64)]
    pub max_connections_per_user: u32,
    /// Requests one connection may have in progress at once; more are
    /// answered `RateLimited`.
    #[arg(long, env = "ZYA_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: u32,
    /// Bytes of frames queued for one connection's socket; a client that
    /// does not read stalls its own subscriptions at this bound.
    #[arg(long, env = "ZYA_SEND_BUFFER_BYTES", default_value_t = 4 << 20)]
    pub send_buffer_bytes: usize,
    /// Default `timeoutMs` of a `Publish` (and deadline of other requests).
    #[arg(long, env = "ZYA_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// How often the gateway reports itself to the catalogue.
    #[arg(long, env = "ZYA_REPORT_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub report_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--dev-secret: {0}")]
    Secret(crate::auth::AuthError),
    #[error("--{flag} must be at least {min}")]
    TooSmall { flag: &'static str, min: u64 },
    #[error("--max-message-bytes ({message}) must not exceed --max-frame-bytes ({frame})")]
    MessageOverFrame { message: usize, frame: usize },
    #[error("--allocators is empty")]
    NoAllocators,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub allocators: Vec<String>,
    pub id: u64,
    pub max_frame_bytes: usize,
    pub max_message_bytes: usize,
    pub publish_rate: u32,
    pub publish_burst: u32,
    pub max_connections_per_user: u32,
    pub max_in_flight: u32,
    pub send_buffer_bytes: usize,
    pub request_timeout: Duration,
    pub report_interval: Duration,
}

impl Settings {
    /// Checks the settings and builds the token verifier.
    pub fn validate(self) -> Result<(Config, DevVerifier), ConfigError> {
        let dev = DevConfig { issuer: self.dev_issuer, audience: None, leeway_seconds: DEFAULT_LEEWAY_SECONDS };
        let verifier = DevVerifier::new(self.dev_secret.as_bytes(), dev).map_err(ConfigError::Secret)?;
        if self.allocators.is_empty() {
            return Err(ConfigError::NoAllocators);
        }
        for (flag, value, min) in [
            ("max-frame-bytes", self.max_frame_bytes as u64, 1024),
            ("max-message-bytes", self.max_message_bytes as u64, 1),
            ("publish-rate", u64::from(self.publish_rate), 1),
            ("max-connections-per-user", u64::from(self.max_connections_per_user), 1),
            ("max-in-flight", u64::from(self.max_in_flight), 1),
            ("request-timeout", self.request_timeout.as_millis() as u64, 1),
        ] {
            if value < min {
                return Err(ConfigError::TooSmall { flag, min });
            }
        }
        if self.max_message_bytes > self.max_frame_bytes {
            return Err(ConfigError::MessageOverFrame { message: self.max_message_bytes, frame: self.max_frame_bytes });
        }
        // A frame always fits the send buffer, so one large delivery can
        // never wait for a budget that cannot exist.
        let send_buffer_bytes = self.send_buffer_bytes.max(2 * self.max_frame_bytes);
        let config = Config {
            public_url: self.public_url.unwrap_or_else(|| format!("ws://{}/v1/ws", self.listen)),
            listen: self.listen,
            allocators: self.allocators,
            id: self.id.unwrap_or_else(|| rand::random::<u64>() >> 1),
            max_frame_bytes: self.max_frame_bytes,
            max_message_bytes: self.max_message_bytes,
            publish_rate: self.publish_rate,
            publish_burst: self.publish_burst.unwrap_or(self.publish_rate).max(1),
            max_connections_per_user: self.max_connections_per_user,
            max_in_flight: self.max_in_flight,
            send_buffer_bytes,
            request_timeout: self.request_timeout,
            report_interval: self.report_interval,
        };
        Ok((config, verifier))
    }
}
