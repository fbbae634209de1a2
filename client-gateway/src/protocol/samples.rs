//! A realistic frame of every response kind, shared by the contract tests
//! and the schema tests. [`sample`] matches on [`ResponseKind`] without a
//! wildcard, so a new kind cannot be added without a sample, and so without
//! being checked against the contract and the schema.

use super::*;

pub(super) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("valid timestamp")
}

pub(super) fn topic(s: &str) -> TopicName {
    TopicName::new(s).expect("valid topic name")
}

pub(super) fn placement() -> PartitionPlacement {
    PartitionPlacement { partition: 0, leader: Some("node-2".into()), backups: vec!["node-1".into(), "node-3".into()] }
}

pub(super) fn subscription_info() -> SubscriptionInfo {
    SubscriptionInfo {
        topic: topic("orders"),
        scope: Scope::Global,
        group: "laptop".into(),
        partitions: vec![PartitionOffsets::new(0, 42, 50)],
    }
}

pub(super) const T: &str = "2024-05-01T12:00:00Z";

/// A realistic frame of every response kind (exhaustive: a new kind must
/// get a sample, which the schema test then checks).
pub(super) fn sample(kind: ResponseKind) -> Response {
    match kind {
        ResponseKind::ServiceMap => Response::ServiceMap(ServiceMap {
            services: Services {
                gateway: vec!["ws://h1:8080/v1/ws".into()],
                allocator: vec!["h2:7000".into()],
                node: vec!["h3:7100".into()],
            },
            recommended: "ws://h1:8080/v1/ws".into(),
        }),
        ResponseKind::Session => Response::Session(Session {
            user_name: "alice".into(),
            device: "laptop".into(),
            timestamp: ts(T),
            session_id: "s-1".into(),
            topics: vec![subscription_info()],
        }),
        ResponseKind::Logout => Response::Logout(LoggedOut {
            user_name: "alice".into(),
            device: "laptop".into(),
            timestamp: ts(T),
            session_id: "s-1".into(),
        }),
        ResponseKind::TopicCreated => Response::TopicCreated(TopicCreated {
            topic: topic("orders"),
            scope: Scope::Global,
            partitions: vec![placement()],
        }),
        ResponseKind::TopicDeleted => {
            Response::TopicDeleted(TopicDeleted { topic: topic("orders"), scope: Scope::Global })
        }
        ResponseKind::AllTopics => Response::AllTopics(TopicList {
            topics: vec![TopicInfo {
                topic: topic("orders"),
                scope: Scope::Global,
                owner: "alice".into(),
                partitions: 1,
                replication_factor: 3,
                message_count: 42,
                page_size: 100,
                audited: false,
            }],
        }),
        ResponseKind::Topics => Response::Topics(SubscriptionList { topics: vec![subscription_info()] }),
        ResponseKind::ServiceBackupMap => Response::ServiceBackupMap(BackupMap {
            topic: topic("orders"),
            scope: Scope::Global,
            partitions: vec![placement()],
        }),
        ResponseKind::Published => Response::Published(Published {
            topic: topic("orders"),
            scope: Scope::Global,
            outcome: PublishOutcome::One { message_id: "m-1".into(), partition: 0, offset: 41, duplicate: false },
            transaction_id: None,
        }),
        ResponseKind::Subscribed => Response::Subscribed(Subscribed {
            subscription_id: "sub-1".into(),
            topic: topic("orders"),
            scope: Scope::Global,
            group: "laptop".into(),
            partitions: vec![PartitionRange { partition: 0, start_offset: 40, end_offset: 50 }],
            batch_size: 100,
            commit_ratio: 0.5,
            isolation: Isolation::Committed,
        }),
        ResponseKind::Message => Response::Message(Message {
            subscription_id: "sub-1".into(),
            topic: topic("orders"),
            scope: Scope::Global,
            partition: 0,
            offset: 41,
            message_id: "m-1".into(),
            user_name: "alice".into(),
            device: "laptop".into(),
            timestamp: ts(T),
            message_payload: "hello".into(),
            appended_at: ts("2024-05-01T12:00:00.250Z"),
            redelivered: false,
            delivery_count: 1,
            key: None,
            pending: false,
            hash: None,
        }),
        ResponseKind::SubscriptionEnd => Response::SubscriptionEnd(SubscriptionEnd {
            subscription_id: "sub-1".into(),
            topic: topic("orders"),
            scope: Scope::Global,
            partition: Some(0),
            reason: EndReason::RangeComplete,
        }),
        ResponseKind::Committed => Response::Committed(Committed {
            topic: topic("orders"),
            scope: Scope::Global,
            group: "laptop".into(),
            partition: 0,
            committed_offset: 42,
            message_id: None,
            transaction_id: None,
        }),
        ResponseKind::Unsubscribed => Response::Unsubscribed(Unsubscribed { subscription_id: "sub-1".into() }),
        ResponseKind::TransactionBegun => Response::TransactionBegun(TransactionBegun {
            transaction_id: "tx-1".into(),
            expires_at: ts("2024-05-01T12:00:10Z"),
        }),
        ResponseKind::TransactionCommitted => {
            Response::TransactionCommitted(TransactionCommitted { transaction_id: "tx-1".into() })
        }
        ResponseKind::TransactionRolledBack => {
            Response::TransactionRolledBack(TransactionRolledBack { transaction_id: "tx-1".into() })
        }
        ResponseKind::AuditProof => Response::AuditProof(AuditProof {
            topic: topic("ledger"),
            scope: Scope::Global,
            partition: 0,
            from: 0,
            to: 1,
            hash_version: AUDIT_HASH_VERSION,
            previous_hash: "0".repeat(64),
            entries: vec![AuditEntry {
                offset: 0,
                message_id: "m-1".into(),
                user_name: "alice".into(),
                device: "laptop".into(),
                timestamp: ts(T),
                appended_at: ts(T),
                key: None,
                message_payload: "hello".into(),
                hash: "ab".repeat(32),
            }],
            checkpoint: Some(Checkpoint {
                offset: 0,
                hash: "ab".repeat(32),
                signed_at: ts(T),
                signer: "cluster-key-1".into(),
                algorithm: "ed25519".into(),
                signature: "cd".repeat(64),
            }),
        }),
        ResponseKind::Error => Response::Error(ErrorReply::new(ErrorCode::TopicExists, "human-readable reason")),
    }
}

#[test]
fn every_sample_has_its_kind_and_round_trips() {
    for kind in ResponseKind::ALL {
        let response = sample(*kind);
        assert_eq!(response.kind(), *kind);
        let frame = response.to_frame();
        assert!(frame.starts_with(&format!(r#"{{"kind":"{kind}""#)), "{frame}");
        let back: Response = serde_json::from_str(&frame).expect("reads back");
        assert_eq!(back, response);
    }
}
