//! Tests of the catalogue's state machine (kept apart: the state is long enough).
use super::*;

const ROOT: &str = "root";

fn member(id: NodeId, kind: MemberKind) -> Member {
    Member { id, kind, addr: format!("10.0.0.{id}:7000"), registered_at_ms: 1_000, decommissioning: false }
}

/// Storage nodes 1..=4, cluster admin `root`, group ids 1..=20 reserved.
fn cluster() -> Catalogue {
    let mut cat = Catalogue::default();
    for id in 1..=4 {
        ok(cat.apply(&CatalogueCommand::RegisterMember { member: member(id, MemberKind::StorageNode) }));
    }
    ok(cat.apply(&CatalogueCommand::GrantClusterAdmin { user: ROOT.into() }));
    let reserved = cat.apply(&CatalogueCommand::ReserveGroupIds { count: 20 });
    assert_eq!(reserved, CatalogueResponse::GroupIds { first: 1, count: 20 });
    cat
}

fn ok(resp: CatalogueResponse) -> CatalogueResponse {
    resp.into_result().expect("command should be accepted")
}

fn rejected(resp: CatalogueResponse) -> Rejection {
    resp.into_result().expect_err("command should be rejected")
}

/// A topic with one partition per group id, replicas on nodes 1..=rf.
fn topic(key: TopicKey, owner: &str, groups: &[u64], rf: u64) -> Topic {
    let partitions = groups
        .iter()
        .enumerate()
        .map(|(i, &group_id)| PartitionPlacement { partition: i as u32, group_id, replicas: (1..=rf).collect() })
        .collect();
    Topic {
        key,
        owner: owner.into(),
        admins: BTreeSet::new(),
        partitions,
        replication_factor: rf as u32,
        page_size: 100,
        audited: false,
        retention_ms: 0,
        retention_bytes: 0,
        created_at_ms: 5,
    }
}

fn create(cat: &mut Catalogue, t: Topic) -> CatalogueResponse {
    cat.apply(&CatalogueCommand::CreateTopic { topic: t })
}

fn delete(cat: &mut Catalogue, key: &TopicKey, by: &str) -> CatalogueResponse {
    cat.apply(&CatalogueCommand::DeleteTopic { key: key.clone(), by: by.into() })
}

#[test]
fn create_then_exists_then_delete_then_not_found() {
    let mut cat = cluster();
    let key = TopicKey::global("orders");
    let CatalogueResponse::TopicCreated(created) = ok(create(&mut cat, topic(key.clone(), ROOT, &[1, 2], 3))) else {
        panic!("expected TopicCreated");
    };
    assert!(created.admins.contains(ROOT), "the creator becomes an admin");
    assert_eq!(cat.topic(&key), Some(&created));

    let again = rejected(create(&mut cat, topic(key.clone(), ROOT, &[3], 3)));
    assert_eq!(again, Rejection::TopicExists { key: key.clone() });

    assert_eq!(ok(delete(&mut cat, &key, ROOT)), CatalogueResponse::TopicDeleted(created));
    assert_eq!(cat.topic(&key), None);
    assert_eq!(rejected(delete(&mut cat, &key, ROOT)), Rejection::TopicNotFound { key });
}

#[test]
fn creating_global_topics_needs_the_right() {
    let mut cat = cluster();
    let t = topic(TopicKey::global("orders"), "alice", &[1], 1);
    let before = cat.clone();
    assert!(matches!(rejected(create(&mut cat, t.clone())), Rejection::NotAuthorized { user, .. } if user == "alice"));
    assert_eq!(cat, before, "a rejection changes nothing");

    ok(cat.apply(&CatalogueCommand::GrantCreateTopics { user: "alice".into() }));
    assert!(cat.can_create("alice", &Scope::Global));
    ok(create(&mut cat, t));

    ok(cat.apply(&CatalogueCommand::RevokeCreateTopics { user: "alice".into() }));
    let more = topic(TopicKey::global("more"), "alice", &[2], 1);
    assert!(matches!(rejected(create(&mut cat, more)), Rejection::NotAuthorized { .. }));
}

#[test]
fn local_topics_are_isolated_per_user() {
    let mut cat = cluster();
    let alices = TopicKey::local("alice", "notes");
    let bobs = TopicKey::local("bob", "notes");
    ok(create(&mut cat, topic(alices.clone(), "alice", &[1], 1)));
    ok(create(&mut cat, topic(bobs.clone(), "bob", &[2], 1)));
    ok(create(&mut cat, topic(TopicKey::global("news"), ROOT, &[3], 1)));

    // Nobody creates in someone else's local scope, not even with the key spelled out.
    let intrusion = topic(TopicKey::local("alice", "spam"), "bob", &[4], 1);
    assert!(matches!(rejected(create(&mut cat, intrusion)), Rejection::NotAuthorized { .. }));

    let names = |user| cat.visible_topics(user).iter().map(|t| t.key.clone()).collect::<Vec<_>>();
    assert_eq!(names("alice"), vec![TopicKey::global("news"), alices.clone()]);
    assert_eq!(names("bob"), vec![TopicKey::global("news"), bobs.clone()]);

    // Bob may neither delete Alice's topic nor learn whether it exists.
    let refused = rejected(delete(&mut cat, &alices, "bob"));
    assert!(matches!(refused, Rejection::NotAuthorized { .. }));
    let missing = TopicKey::local("alice", "nothing");
    assert!(matches!(rejected(delete(&mut cat, &missing, "bob")), Rejection::NotAuthorized { .. }));
    ok(delete(&mut cat, &alices, "alice"));
    assert!(cat.topic(&bobs).is_some());
}

#[test]
fn deleting_needs_admin_rights() {
    let mut cat = cluster();
    ok(cat.apply(&CatalogueCommand::GrantCreateTopics { user: "alice".into() }));
    let key = TopicKey::global("orders");
    ok(create(&mut cat, topic(key.clone(), "alice", &[1], 1)));

    assert!(matches!(rejected(delete(&mut cat, &key, "bob")), Rejection::NotAuthorized { user, .. } if user == "bob"));
    let add =
        |user: &str, by: &str| CatalogueCommand::AddTopicAdmin { key: key.clone(), user: user.into(), by: by.into() };
    assert!(matches!(rejected(cat.apply(&add("bob", "bob"))), Rejection::NotAuthorized { .. }));
    ok(cat.apply(&add("carol", "alice")));
    assert!(cat.can_delete("carol", cat.topic(&key).expect("created")));
    assert!(!cat.can_delete("bob", cat.topic(&key).expect("created")));
    ok(delete(&mut cat, &key, ROOT)); // a cluster admin may delete any topic
}

#[test]
fn group_ids_are_never_reused() {
    let mut cat = cluster();
    let key = TopicKey::global("orders");
    ok(create(&mut cat, topic(key.clone(), ROOT, &[1, 2], 1)));
    let clash = rejected(create(&mut cat, topic(TopicKey::global("b"), ROOT, &[2], 1)));
    assert!(matches!(clash, Rejection::BadRequest { .. }), "group 2 is in use: {clash:?}");
    let unreserved = rejected(create(&mut cat, topic(TopicKey::global("c"), ROOT, &[21], 1)));
    assert!(matches!(unreserved, Rejection::BadRequest { .. }), "group 21 was not reserved");

    ok(delete(&mut cat, &key, ROOT));
    let reused = rejected(create(&mut cat, topic(TopicKey::global("d"), ROOT, &[1], 1)));
    assert!(matches!(reused, Rejection::BadRequest { .. }), "group 1 belonged to a deleted topic");
    let next = cat.apply(&CatalogueCommand::ReserveGroupIds { count: 3 });
    assert_eq!(next, CatalogueResponse::GroupIds { first: 21, count: 3 });
    assert!(matches!(
        rejected(cat.apply(&CatalogueCommand::ReserveGroupIds { count: 0 })),
        Rejection::BadRequest { .. }
    ));
}

#[test]
fn placements_are_checked_against_members() {
    let mut cat = cluster();
    let mut t = topic(TopicKey::global("orders"), ROOT, &[1], 2);
    t.partitions[0].replicas = vec![1, 9];
    assert_eq!(rejected(create(&mut cat, t.clone())), Rejection::UnknownMember { id: 9 });
    ok(cat.apply(&CatalogueCommand::SetDecommissioning { id: 2, on: true }));
    t.partitions[0].replicas = vec![1, 2];
    assert!(matches!(rejected(create(&mut cat, t.clone())), Rejection::BadRequest { .. }));
    t.replication_factor = 3;
    assert!(matches!(rejected(create(&mut cat, t)), Rejection::BadRequest { .. }), "rf mismatch");
}

#[test]
fn replace_replica_keeps_positions() {
    let mut cat = cluster();
    ok(create(&mut cat, topic(TopicKey::global("orders"), ROOT, &[7, 8], 3)));
    ok(cat.apply(&CatalogueCommand::ReplaceReplica { group_id: 8, old: 1, new: 4 }));
    let (_, p) = cat.group(8).expect("group 8 exists");
    assert_eq!(p.replicas, vec![4, 2, 3], "the new node takes the old one's place, leader slot included");
    assert_eq!(cat.group(7).expect("group 7 exists").1.replicas, vec![1, 2, 3], "other partitions untouched");

    let replace = |group_id, old, new| CatalogueCommand::ReplaceReplica { group_id, old, new };
    assert_eq!(rejected(cat.apply(&replace(99, 1, 4))), Rejection::UnknownGroup { group_id: 99 });
    assert!(matches!(rejected(cat.apply(&replace(8, 1, 4))), Rejection::BadRequest { .. }), "1 is gone");
    assert!(matches!(rejected(cat.apply(&replace(8, 2, 3))), Rejection::BadRequest { .. }), "3 is there");
    assert_eq!(rejected(cat.apply(&replace(8, 2, 5))), Rejection::UnknownMember { id: 5 });
}

#[test]
fn register_member_updates_and_keeps_first_registration() {
    let mut cat = cluster();
    ok(cat.apply(&CatalogueCommand::SetDecommissioning { id: 3, on: true }));
    let mut again = member(3, MemberKind::StorageNode);
    again.addr = "10.0.9.9:7000".into();
    again.registered_at_ms = 9_999;
    ok(cat.apply(&CatalogueCommand::RegisterMember { member: again }));
    let m = &cat.members[&3];
    assert_eq!((m.addr.as_str(), m.registered_at_ms, m.decommissioning), ("10.0.9.9:7000", 1_000, true));

    ok(cat.apply(&CatalogueCommand::RegisterMember { member: member(10, MemberKind::Gateway) }));
    assert_eq!(cat.storage_nodes().count(), 4);
    assert_eq!(cat.members_of_kind(MemberKind::Gateway).map(|m| m.id).collect::<Vec<_>>(), vec![10]);
    let unknown = CatalogueCommand::SetDecommissioning { id: 77, on: true };
    assert_eq!(rejected(cat.apply(&unknown)), Rejection::UnknownMember { id: 77 });
}

#[test]
fn members_hosting_replicas_stay_storage_nodes() {
    let mut cat = cluster();
    ok(create(&mut cat, topic(TopicKey::global("orders"), ROOT, &[1], 2)));
    let remove = rejected(cat.apply(&CatalogueCommand::RemoveMember { id: 1 }));
    assert!(matches!(remove, Rejection::BadRequest { .. }));
    let demote = CatalogueCommand::RegisterMember { member: member(1, MemberKind::Gateway) };
    assert!(matches!(rejected(cat.apply(&demote)), Rejection::BadRequest { .. }));
    ok(cat.apply(&CatalogueCommand::RemoveMember { id: 4 }));
    assert_eq!(rejected(cat.apply(&CatalogueCommand::RemoveMember { id: 4 })), Rejection::UnknownMember { id: 4 });
}

#[test]
fn replicas_on_and_candidates_reflect_placements() {
    let mut cat = cluster();
    let key = TopicKey::global("orders");
    ok(create(&mut cat, topic(key.clone(), ROOT, &[5, 6], 2)));
    assert_eq!(cat.replicas_on(2), vec![(key.clone(), 0, 5), (key, 1, 6)]);
    assert!(cat.replicas_on(4).is_empty());

    ok(cat.apply(&CatalogueCommand::SetDecommissioning { id: 3, on: true }));
    let cands = cat.placement_candidates();
    let summary: Vec<_> = cands.iter().map(|c| (c.id, c.partitions, c.leaders)).collect();
    assert_eq!(summary, vec![(1, 2, 2), (2, 2, 0), (4, 0, 0)], "node 3 is draining");
}

#[test]
fn snapshot_round_trip_and_bad_versions() {
    let mut cat = cluster();
    ok(create(&mut cat, topic(TopicKey::local("alice", "notes"), "alice", &[1], 2)));
    ok(delete(&mut cat, &TopicKey::local("alice", "notes"), "alice"));
    ok(create(&mut cat, topic(TopicKey::global("orders"), ROOT, &[2, 3], 3)));
    ok(cat.apply(&subscribe("bob", TopicKey::global("orders"), "g")));
    let bytes = cat.encode();
    assert_eq!(bytes[0], CATALOGUE_FORMAT_V2);
    let back = Catalogue::decode(&bytes).expect("just encoded");
    assert_eq!(back, cat);
    assert_eq!(back.subscriptions_of("bob").count(), 1, "the registry travels in snapshots");

    let mut future = bytes.clone();
    future[0] = 3;
    assert!(matches!(Catalogue::decode(&future), Err(ModelError::UnknownFormatVersion { version: 3 })));
    assert!(matches!(Catalogue::decode(&[]), Err(ModelError::EmptySnapshot)));
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(Catalogue::decode(truncated), Err(ModelError::CorruptSnapshot { version: 2, .. })));
}

#[test]
fn version_1_snapshots_load_without_subscriptions() {
    let mut cat = cluster();
    ok(create(&mut cat, topic(TopicKey::global("orders"), ROOT, &[2, 3], 3)));
    let c = cat.clone();
    let v1 = CatalogueV1 {
        members: c.members,
        topics: c.topics,
        cluster_admins: c.cluster_admins,
        topic_creators: c.topic_creators,
        next_group_id: c.next_group_id,
        retired_group_ids: c.retired_group_ids,
    };
    let mut bytes = vec![CATALOGUE_FORMAT_V1];
    bincode::serialize_into(&mut bytes, &v1).expect("serializing to a Vec cannot fail");
    assert_eq!(Catalogue::decode(&bytes).expect("version 1 still loads"), cat);
}

fn subscribe(user: &str, topic: TopicKey, group: &str) -> CatalogueCommand {
    CatalogueCommand::RecordSubscription {
        user: user.into(),
        subscription: Subscription { topic, group: group.into() },
    }
}

fn subscribed(cat: &Catalogue, user: &str) -> Vec<(String, String)> {
    cat.subscriptions_of(user).map(|(s, t)| (t.key.to_string(), s.group.clone())).collect()
}

#[test]
fn subscriptions_are_recorded_once_per_user_topic_and_group() {
    let mut cat = cluster();
    let news = TopicKey::global("news");
    ok(create(&mut cat, topic(news.clone(), ROOT, &[1], 1)));
    let created = |r: CatalogueResponse| match ok(r) {
        CatalogueResponse::SubscriptionRecorded { created } => created,
        other => panic!("expected SubscriptionRecorded, got {other:?}"),
    };
    assert!(created(cat.apply(&subscribe("alice", news.clone(), "g"))));
    let before = cat.clone();
    assert!(!created(cat.apply(&subscribe("alice", news.clone(), "g"))), "again: a no-op");
    assert_eq!(cat, before);
    assert!(created(cat.apply(&subscribe("alice", news.clone(), "h"))), "another group");
    assert!(created(cat.apply(&subscribe("bob", news.clone(), "g"))), "another user");
    assert_eq!(subscribed(&cat, "alice").len(), 2);
    let sub = Subscription { topic: news, group: "g".into() };
    assert_eq!(cat.check_subscription("alice", &sub), Ok(true), "the service answers repeats without a write");
    let long = subscribe("alice", TopicKey::global("news"), &"x".repeat(256));
    assert!(matches!(rejected(cat.apply(&long)), Rejection::BadRequest { .. }));
}

#[test]
fn subscriptions_need_a_visible_topic() {
    let mut cat = cluster();
    let alices = TopicKey::local("alice", "notes");
    ok(create(&mut cat, topic(alices.clone(), "alice", &[1], 1)));
    ok(cat.apply(&subscribe("alice", alices.clone(), "g")));
    let before = cat.clone();
    let missing = TopicKey::global("nothing");
    assert_eq!(
        rejected(cat.apply(&subscribe("alice", missing.clone(), "g"))),
        Rejection::TopicNotFound { key: missing }
    );
    assert_eq!(
        rejected(cat.apply(&subscribe("bob", alices.clone(), "g"))),
        Rejection::TopicNotFound { key: alices.clone() },
        "another user's local topic is not found, as if it did not exist"
    );
    assert_eq!(cat, before, "refusals change nothing");
    assert_eq!(subscribed(&cat, "bob"), Vec::<(String, String)>::new());
}

#[test]
fn deleting_a_topic_removes_its_subscriptions() {
    let mut cat = cluster();
    let news = TopicKey::global("news");
    ok(create(&mut cat, topic(news.clone(), ROOT, &[1], 1)));
    ok(create(&mut cat, topic(TopicKey::global("sport"), ROOT, &[2], 1)));
    ok(cat.apply(&subscribe("alice", news.clone(), "g")));
    ok(cat.apply(&subscribe("alice", TopicKey::global("sport"), "g")));
    ok(cat.apply(&subscribe("bob", news.clone(), "g")));
    ok(delete(&mut cat, &news, ROOT));
    assert_eq!(subscribed(&cat, "alice"), [(TopicKey::global("sport").to_string(), "g".to_string())]);
    assert!(subscribed(&cat, "bob").is_empty());
    ok(create(&mut cat, topic(news.clone(), ROOT, &[3], 1)));
    assert!(subscribed(&cat, "bob").is_empty(), "a recreated topic starts with no subscriptions");
}
