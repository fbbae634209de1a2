//! Calls to the replicas of one partition, following its leader.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tonic::transport::Channel;
use zya_proto::node as pb;
use zya_proto::node::partition_client::PartitionClient as Stub;

use crate::error::{classify, ClientError, Next};
use crate::Channels;

/// Pause before trying the next replica when no leader is known (an
/// election is usually under way); doubles up to [`MAX_BACKOFF`]. The cap
/// is how late a caller may learn of a new leader after the election: at
/// 400 ms it was a fifth of the write unavailability after a leader kill;
/// at 200 ms a caller retries 5 times a second while no leader exists.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait for one replica's answer before trying another: a paused
/// or cut-off node accepts connections but never answers, and the caller's
/// deadline may be much longer than a failover. A write retried elsewhere
/// is safe: message ids make it idempotent.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for one answer to a membership change: adding a replica
/// waits until the new one has caught up (from a snapshot, possibly many
/// megabytes), and an attempt given up mid-way leaves the change running
/// on the leader, so the retry would only wait for it again.
const MEMBERSHIP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct PartitionClient {
    pub group: u64,
    replicas: Mutex<Vec<String>>,
    leader: Mutex<Option<String>>,
    channels: Channels,
}

impl PartitionClient {
    pub fn new(channels: Channels, group: u64, replicas: Vec<String>) -> Self {
        Self { group, replicas: Mutex::new(replicas), leader: Mutex::new(None), channels }
    }

    pub fn set_replicas(&self, replicas: Vec<String>) {
        *self.replicas.lock().expect("lock is never poisoned") = replicas;
    }

    pub fn replicas(&self) -> Vec<String> {
        self.replicas.lock().expect("lock is never poisoned").clone()
    }

    /// The leader as last learned, if any.
    pub fn known_leader(&self) -> Option<String> {
        self.leader.lock().expect("lock is never poisoned").clone()
    }

    /// Runs `call` against the leader, following leader hints and retrying
    /// other replicas until it succeeds, fails definitely, or `deadline`
    /// passes.
    pub async fn on_leader<T, F, Fut>(&self, deadline: Duration, call: F) -> Result<T, ClientError>
    where
        F: Fn(Stub<Channel>) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        self.on_leader_within(ATTEMPT_TIMEOUT, deadline, call).await
    }

    /// [`Self::on_leader`] with each attempt bounded by `attempt_timeout`.
    ///
    /// A replica that did not answer in time is not tried again while
    /// others answer, unless a replica names it as the leader: then it is
    /// tried again after a backoff (the hint is what the others know; an
    /// election replaces a paused leader soon, and the hints follow).
    pub async fn on_leader_within<T, F, Fut>(
        &self,
        attempt_timeout: Duration,
        deadline: Duration,
        call: F,
    ) -> Result<T, ClientError>
    where
        F: Fn(Stub<Channel>) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let until = Instant::now() + deadline;
        let mut backoff = FIRST_BACKOFF;
        let mut next_replica = 0usize;
        let mut unknown = false;
        let mut last = String::from("no replica tried");
        // Replicas that did not answer in time during this call: tried
        // again only when every other one fails too.
        let mut silent: Vec<String> = Vec::new();
        loop {
            let target = match self.known_leader().filter(|l| !silent.contains(l)) {
                Some(l) => l,
                None => {
                    let replicas = self.replicas();
                    if replicas.is_empty() {
                        return Err(ClientError::Unavailable { last: "no replicas known".into() });
                    }
                    let answering: Vec<&String> = replicas.iter().filter(|r| !silent.contains(r)).collect();
                    next_replica = next_replica.wrapping_add(1);
                    match answering.is_empty() {
                        true => replicas[next_replica % replicas.len()].clone(),
                        false => answering[next_replica % answering.len()].clone(),
                    }
                }
            };
            let remaining = until.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(if unknown { ClientError::Timeout { last } } else { ClientError::Unavailable { last } });
            }
            let stub = self.channels.stub(&target)?;
            match tokio::time::timeout(remaining.min(attempt_timeout), call(stub)).await {
                Ok(Ok(v)) => {
                    *self.leader.lock().expect("lock is never poisoned") = Some(target);
                    return Ok(v);
                }
                Ok(Err(status)) => match classify(&status) {
                    Next::Leader(Some(addr)) if addr != target => {
                        // A hint to a replica that did not answer: try it
                        // again, but after a backoff, never in a tight loop.
                        let was_silent = silent.contains(&addr);
                        silent.retain(|s| *s != addr);
                        *self.leader.lock().expect("lock is never poisoned") = Some(addr);
                        last = format!("{target} is not the leader");
                        if !was_silent {
                            continue;
                        }
                    }
                    Next::Leader(_) => {
                        self.forget_leader();
                        last = format!("{target}: no leader known");
                    }
                    Next::Retry(why) => {
                        self.forget_leader();
                        last = format!("{target}: {why}");
                    }
                    Next::RetryUnknown(why) => {
                        self.forget_leader();
                        unknown = true;
                        last = format!("{target}: {why}");
                    }
                    Next::Fail(e) => return Err(e),
                },
                Err(_) => {
                    self.forget_leader();
                    silent.push(target.clone());
                    unknown = true;
                    last = format!("{target}: no answer within {:?}", remaining.min(attempt_timeout));
                    continue;
                }
            }
            let pause = backoff.min(until.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn forget_leader(&self) {
        self.set_leader(None);
    }

    /// Records what a caller learned of the leader (a hint, or that the
    /// one it used is gone).
    pub fn set_leader(&self, leader: Option<String>) {
        *self.leader.lock().expect("lock is never poisoned") = leader;
    }

    pub(crate) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Appends messages; Ok only once they are committed by a majority.
    pub async fn append(
        &self,
        messages: Vec<pb::NewMessage>,
        deadline: Duration,
    ) -> Result<Vec<pb::AppendResult>, ClientError> {
        let group = self.group;
        let timeout_ms = deadline.as_millis().min(u32::MAX as u128) as u32;
        self.on_leader(deadline, |mut stub| {
            let req = pb::AppendRequest { group_id: group, messages: messages.clone(), timeout_ms };
            async move { stub.append(req).await.map(|r| r.into_inner().results) }
        })
        .await
    }

    /// Commits a consumer position; returns the committed offset.
    pub async fn commit(
        &self,
        consumer: &str,
        position: pb::commit_offset_request::Position,
        deadline: Duration,
    ) -> Result<u64, ClientError> {
        let group = self.group;
        let timeout_ms = deadline.as_millis().min(u32::MAX as u128) as u32;
        self.on_leader(deadline, |mut stub| {
            let req = pb::CommitOffsetRequest {
                group_id: group,
                consumer: consumer.to_string(),
                position: Some(position),
                timeout_ms,
            };
            async move { stub.commit_offset(req).await.map(|r| r.into_inner().committed_offset) }
        })
        .await
    }

    /// Counts one more delivery of the offsets `[from, end)` to `consumer`
    /// (at most 10,000 offsets, `end` at most the log's next offset); returns
    /// the counts after it of the offsets not yet committed. A retry after a
    /// timeout may count a delivery twice: counts err towards "redelivered".
    pub async fn mark_delivered(
        &self,
        consumer: &str,
        from: u64,
        end: u64,
        deadline: Duration,
    ) -> Result<pb::MarkDeliveredReply, ClientError> {
        let group = self.group;
        let timeout_ms = deadline.as_millis().min(u32::MAX as u128) as u32;
        self.on_leader(deadline, |mut stub| {
            let req = pb::MarkDeliveredRequest {
                group_id: group,
                consumer: consumer.to_string(),
                from_offset: from,
                end_offset: end,
                timeout_ms,
            };
            async move { stub.mark_delivered(req).await.map(|r| r.into_inner()) }
        })
        .await
    }

    /// The offset of a message id in the partition, from the leader.
    pub async fn find_message(&self, message_id: &str, deadline: Duration) -> Result<Option<u64>, ClientError> {
        let group = self.group;
        self.on_leader(deadline, |mut stub| {
            let req = pb::FindMessageRequest { group_id: group, message_id: message_id.to_string() };
            async move { stub.find_message(req).await.map(|r| r.into_inner().offset) }
        })
        .await
    }

    /// Offsets and consumer positions, from the leader.
    pub async fn offsets(&self, consumer: &str, deadline: Duration) -> Result<pb::GetOffsetsReply, ClientError> {
        let group = self.group;
        self.on_leader(deadline, |mut stub| {
            let req = pb::GetOffsetsRequest { group_id: group, consumer: consumer.to_string(), allow_follower: false };
            async move { stub.get_offsets(req).await.map(|r| r.into_inner()) }
        })
        .await
    }

    /// Opens a read stream on the leader.
    pub async fn read(
        &self,
        req: pb::ReadRequest,
        deadline: Duration,
    ) -> Result<tonic::Streaming<pb::ReadReply>, ClientError> {
        self.on_leader(deadline, |mut stub| {
            let req = pb::ReadRequest { group_id: self.group, allow_follower: false, ..req };
            async move { stub.read(req).await.map(|r| r.into_inner()) }
        })
        .await
    }

    /// Reads `[from, end)` from one given replica (leader or not).
    pub async fn read_replica(
        &self,
        addr: &str,
        from: u64,
        end: Option<u64>,
    ) -> Result<Vec<pb::StoredMessage>, ClientError> {
        let mut stub = self.channels.stub(addr)?;
        let req = pb::ReadRequest {
            group_id: self.group,
            from_offset: from,
            end_offset: end,
            max_batch: 0,
            follow: false,
            allow_follower: true,
        };
        let to_err = |s: tonic::Status| ClientError::Unavailable { last: format!("{addr}: {s}") };
        let mut stream = stub.read(req).await.map_err(to_err)?.into_inner();
        let mut out = Vec::new();
        while let Some(batch) = stream.message().await.map_err(to_err)? {
            out.extend(batch.messages);
        }
        Ok(out)
    }

    /// Status of the group as one replica sees it.
    pub async fn status(&self, addr: &str) -> Result<pb::StatusReply, ClientError> {
        let mut stub = self.channels.stub(addr)?;
        stub.status(pb::StatusRequest { group_id: self.group })
            .await
            .map(|r| r.into_inner())
            .map_err(|s| ClientError::Unavailable { last: format!("{addr}: {s}") })
    }

    /// Adds a replica (learner, caught up, then voter), through the leader.
    pub async fn add_replica(
        &self,
        node_id: u64,
        addr: &str,
        deadline: Duration,
    ) -> Result<Vec<pb::Replica>, ClientError> {
        let group = self.group;
        self.on_leader_within(MEMBERSHIP_ATTEMPT_TIMEOUT, deadline, |mut stub| {
            let req = pb::AddReplicaRequest {
                group_id: group,
                replica: Some(pb::Replica { node_id, addr: addr.to_string() }),
            };
            async move { stub.add_replica(req).await.map(|r| r.into_inner().voters) }
        })
        .await
    }

    /// Removes a replica from the voters, through the leader.
    pub async fn remove_replica(&self, node_id: u64, deadline: Duration) -> Result<Vec<pb::Replica>, ClientError> {
        let group = self.group;
        self.on_leader_within(MEMBERSHIP_ATTEMPT_TIMEOUT, deadline, |mut stub| {
            let req = pb::RemoveReplicaRequest { group_id: group, node_id };
            async move { stub.remove_replica(req).await.map(|r| r.into_inner().voters) }
        })
        .await
    }
}
