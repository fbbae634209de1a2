//! Client of the allocators' catalogue service, following its Raft leader.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use prost::Message;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use zya_proto::catalogue::catalogue_client::CatalogueClient as Stub;
use zya_proto::catalogue::catalogue_error_detail::Code;
use zya_proto::catalogue::CatalogueErrorDetail;

/// One replica's answer timeout before the next is tried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The catalogue refused the request (exists, not found, rights, …).
    #[error("{message}")]
    Refused { code: Code, message: String },
    #[error("catalogue unavailable: {last}")]
    Unavailable { last: String },
}

pub struct CatalogueClient {
    addrs: Vec<String>,
    leader: Mutex<Option<String>>,
    channels: Mutex<std::collections::HashMap<String, Channel>>,
}

impl CatalogueClient {
    pub fn new(addrs: Vec<String>) -> Self {
        Self { addrs, leader: Mutex::new(None), channels: Mutex::new(Default::default()) }
    }

    fn stub(&self, addr: &str) -> Result<Stub<Channel>, CatalogueError> {
        let mut map = self.channels.lock().expect("lock is never poisoned");
        if let Some(c) = map.get(addr) {
            return Ok(Stub::new(c.clone()));
        }
        let c = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| CatalogueError::Unavailable { last: format!("bad address {addr}: {e}") })?
            .connect_timeout(Duration::from_millis(500))
            .connect_lazy();
        map.insert(addr.to_string(), c.clone());
        Ok(Stub::new(c))
    }

    /// Runs `call` on the catalogue leader, following `NOT_LEADER` hints and
    /// trying every allocator until `deadline`.
    pub async fn call<T, F, Fut>(&self, deadline: Duration, call: F) -> Result<T, CatalogueError>
    where
        F: Fn(Stub<Channel>) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let until = Instant::now() + deadline;
        let mut i = 0usize;
        let mut last = String::from("no allocator tried");
        loop {
            let target = match self.leader.lock().expect("lock is never poisoned").clone() {
                Some(l) => l,
                None => {
                    if self.addrs.is_empty() {
                        return Err(CatalogueError::Unavailable { last: "no allocators configured".into() });
                    }
                    i += 1;
                    self.addrs[i % self.addrs.len()].clone()
                }
            };
            let remaining = until.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(CatalogueError::Unavailable { last });
            }
            let stub = self.stub(&target)?;
            match tokio::time::timeout(remaining.min(ATTEMPT_TIMEOUT), call(stub)).await {
                Ok(Ok(v)) => {
                    *self.leader.lock().expect("lock is never poisoned") = Some(target);
                    return Ok(v);
                }
                Ok(Err(status)) => {
                    let detail = CatalogueErrorDetail::decode(status.details()).ok().filter(|d| d.code != 0);
                    *self.leader.lock().expect("lock is never poisoned") = None;
                    match detail.map(|d| (Code::try_from(d.code).unwrap_or(Code::Internal), d)) {
                        Some((Code::NotLeader, d)) => {
                            if let Some(l) = d.leader_addr.filter(|l| *l != target) {
                                *self.leader.lock().expect("lock is never poisoned") = Some(l);
                                continue;
                            }
                            last = format!("{target}: no catalogue leader yet");
                        }
                        Some((Code::Unavailable | Code::Timeout, d)) => last = format!("{target}: {}", d.message),
                        Some((code, d)) => return Err(CatalogueError::Refused { code, message: d.message }),
                        None => last = format!("{target}: {status}"),
                    }
                }
                Err(_) => {
                    *self.leader.lock().expect("lock is never poisoned") = None;
                    last = format!("{target}: no answer");
                }
            }
            tokio::time::sleep(BACKOFF.min(until.saturating_duration_since(Instant::now()))).await;
        }
    }
}
