//! Keeps this gateway in the catalogue's service map: register once, then
//! heartbeat every interval. The catalogue drops a silent gateway from the
//! map, so clients stop being sent to a dead one.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use zya_client::catalogue_pb as pb;

use super::Shared;

pub async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let config = &shared.config;
    let catalogue = &shared.backend.catalogue;
    let interval = config.report_interval;
    let mut registered = false;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !registered {
            let req = pb::RegisterMemberRequest {
                id: config.id,
                kind: pb::MemberKind::Gateway as i32,
                addr: config.public_url.clone(),
            };
            match catalogue
                .call(interval * 2, |mut s| {
                    let r = req.clone();
                    async move { s.register_member(r).await }
                })
                .await
            {
                Ok(_) => {
                    tracing::info!(id = config.id, "registered with the catalogue");
                    registered = true;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "catalogue registration not done yet");
                    continue;
                }
            }
        }
        let beat = pb::HeartbeatRequest {
            id: config.id,
            kind: pb::MemberKind::Gateway as i32,
            addr: config.public_url.clone(),
            ..Default::default()
        };
        if let Err(e) = catalogue
            .call(interval * 2, |mut s| {
                let r = beat.clone();
                async move { s.heartbeat(r).await }
            })
            .await
        {
            tracing::debug!(error = %e, "heartbeat to the catalogue failed");
        }
    }
}
