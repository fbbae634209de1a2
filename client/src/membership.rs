//! Staying in the catalogue's member table: register once, then heartbeat
//! every interval to the catalogue leader, which judges liveness from the
//! heartbeats. Storage nodes and gateways both do this; only what they
//! report differs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zya_proto::catalogue::{HeartbeatRequest, RegisterMemberRequest};

use crate::CatalogueClient;

impl CatalogueClient {
    /// Registers `member`, then sends `beat()` every `interval` until
    /// `cancel`. Failures are retried on the next tick.
    pub async fn keep_registered(
        &self,
        member: RegisterMemberRequest,
        interval: Duration,
        cancel: CancellationToken,
        mut beat: impl FnMut() -> HeartbeatRequest,
    ) {
        let mut registered = false;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !registered {
                let r = member.clone();
                match self
                    .call(interval * 2, |mut s| {
                        let r = r.clone();
                        async move { s.register_member(r).await }
                    })
                    .await
                {
                    Ok(_) => {
                        tracing::info!(id = member.id, "registered with the catalogue");
                        registered = true;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "catalogue registration not done yet");
                        continue;
                    }
                }
            }
            let report = beat();
            if let Err(e) = self
                .call(interval * 2, |mut s| {
                    let r = report.clone();
                    async move { s.heartbeat(r).await }
                })
                .await
            {
                tracing::debug!(error = %e, "heartbeat to the catalogue failed");
            }
        }
    }
}
