//! Keeps this gateway in the catalogue's service map: register once, then
//! heartbeat every interval. The catalogue drops a silent gateway from the
//! map, so clients stop being sent to a dead one.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use zya_client::catalogue_pb as pb;

use super::Shared;

pub async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let config = &shared.config;
    let kind = pb::MemberKind::Gateway as i32;
    let member = pb::RegisterMemberRequest { id: config.id, kind, addr: config.public_url.clone() };
    let beat = || pb::HeartbeatRequest { id: config.id, kind, addr: config.public_url.clone(), ..Default::default() };
    shared.backend.catalogue.keep_registered(member, config.report_interval, cancel, beat).await;
}
