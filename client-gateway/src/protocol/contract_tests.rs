//! Every example frame of the contract (`/work/shared/protocol.md`, copied
//! into `docs/protocol.md`), with its `…` filled in: requests must parse to
//! the right body, responses must serialize with exactly the contract's
//! names. Response checks are "the contract's frame is contained in ours",
//! so the project's extra fields are allowed and a renamed field is not.

use serde_json::{json, Value};

use super::samples::{sample, topic, ts, T};
use super::*;

fn parse(frame: Value) -> Request {
    parse_request(&frame.to_string()).unwrap_or_else(|e| panic!("{frame}: {e}"))
}

/// `ours` contains `contract`: same keys with the same values, recursively
/// (extra keys in `ours` allowed).
fn assert_contains(ours: &Value, contract: &Value, path: &str) {
    match (ours, contract) {
        (Value::Object(o), Value::Object(c)) => {
            for (k, v) in c {
                let Some(ov) = o.get(k) else { panic!("{path}.{k} missing from {ours}") };
                assert_contains(ov, v, &format!("{path}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(c)) => {
            assert_eq!(o.len(), c.len(), "{path}: array length");
            for (i, (ov, cv)) in o.iter().zip(c).enumerate() {
                assert_contains(ov, cv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(ours, contract, "{path}"),
    }
}

/// Serializes `response` (as a reply to `r-1` when it is a direct reply),
/// checks it contains `contract`, and that it reads back unchanged.
fn check_response(response: Response, contract: Value) {
    let kind = response.kind();
    let reply = response.reply_to(kind.is_direct_reply().then(|| RequestId::new("r-1").expect("valid")));
    let frame = reply.to_frame();
    let ours: Value = serde_json::from_str(&frame).expect("a frame is JSON");
    assert_eq!(ours["kind"], kind.as_str());
    assert_contains(&ours, &contract, "");
    let back: Reply = serde_json::from_str(&frame).unwrap_or_else(|e| panic!("{frame}: {e}"));
    assert_eq!(back, reply, "{frame}");
}

fn placement_json() -> Value {
    json!([{"partition":0,"leader":"node-2","backups":["node-1","node-3"]}])
}

fn subscription_info_json() -> Value {
    json!({"topic":"orders","scope":"global","group":"laptop",
           "partitions":[{"partition":0,"committedOffset":42,"endOffset":50,"lag":8}]})
}

// ---- requests of the contract --------------------------------------------

#[test]
fn contract_login() {
    let r = parse(json!({"kind":"Login","userName":"alice","device":"laptop","timestamp":T,"token":"<JWT>"}));
    let RequestBody::Login(login) = &r.body else { panic!("{r:?}") };
    assert_eq!(login.token.expose(), "<JWT>");
    assert_eq!((r.meta.user_name.as_deref(), r.meta.device.as_deref()), (Some("alice"), Some("laptop")));
    assert_eq!(r.meta.timestamp, Some(ts(T)));
}

#[test]
fn contract_bodyless_requests() {
    assert_eq!(parse(json!({"kind":"Logout","userName":"alice","device":"laptop"})).body, RequestBody::Logout);
    assert_eq!(parse(json!({"kind":"Handshake"})).body, RequestBody::Handshake);
    assert_eq!(parse(json!({"kind":"AllTopics"})).body, RequestBody::AllTopics);
    assert_eq!(parse(json!({"kind":"Topics"})).body, RequestBody::Topics);
}

#[test]
fn contract_topic_requests() {
    let orders = TopicRef { topic: topic("orders"), scope: Scope::Global };
    let r = parse(json!({"kind":"ServiceBackupMap","topic":"orders","scope":"global"}));
    assert_eq!(r.body, RequestBody::ServiceBackupMap(orders.clone()));
    let r = parse(json!({"kind":"DeleteTopic","topic":"orders","scope":"global"}));
    assert_eq!(r.body, RequestBody::DeleteTopic(orders));
    let r = parse(json!({"kind":"CreateTopic","topic":"orders","scope":"global","partitions":1,
                         "replicationFactor":3,"pageSize":100,"audited":false}));
    let want = CreateTopic {
        topic: topic("orders"),
        scope: Scope::Global,
        partitions: 1,
        replication_factor: Some(3),
        page_size: 100,
        audited: false,
    };
    assert_eq!(r.body, RequestBody::CreateTopic(want));
}

#[test]
fn contract_publish_single_and_batch() {
    let r = parse(json!({"kind":"Publish","userName":"alice","device":"laptop","timestamp":T,
        "topic":"orders","scope":"global","messageId":"<unique>","messagePayload":"…",
        "key":"optional partition key","timeoutMs":5000}));
    let RequestBody::Publish(p) = r.body else { panic!("Publish expected") };
    let one =
        NewMessage { message_id: "<unique>".into(), payload: "…".into(), key: Some("optional partition key".into()) };
    assert_eq!(p.messages, Messages::One(one));
    assert_eq!(p.timeout_ms, Some(5000));

    let r = parse(json!({"kind":"Publish","topic":"orders","messages":[
        {"messageId":"a","messagePayload":"1","key":"k"},{"messageId":"b","messaggePayload":"2"}]}));
    let RequestBody::Publish(p) = r.body else { panic!("Publish expected") };
    let ids: Vec<&str> = p.messages.as_slice().iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn contract_subscribe_and_readers() {
    let r = parse(json!({"kind":"Subscribe","topic":"orders","scope":"global","reader":{"from":"Committed"},
        "batchSize":100,"commitRatio":0.5,"isolation":"committed","group":"optional"}));
    let RequestBody::Subscribe(s) = r.body else { panic!("Subscribe expected") };
    assert_eq!(s.reader, Reader::Committed);
    for (reader, want) in [
        (json!({"from":"Beginning"}), Reader::Beginning),
        (json!({"from":"Latest"}), Reader::Latest),
        (json!({"from":"Committed"}), Reader::Committed),
        (json!({"from":"MessageRange","start":3,"end":7}), Reader::MessageRange { partition: 0, start: 3, end: 7 }),
        (
            json!({"from":"MessageRange","start":3,"end":7,"partition":1}),
            Reader::MessageRange { partition: 1, start: 3, end: 7 },
        ),
        (json!({"from":"LastN","count":5}), Reader::LastN { count: 5 }),
    ] {
        let RequestBody::Subscribe(s) = parse(json!({"kind":"Subscribe","topic":"orders","reader":reader})).body else {
            panic!("Subscribe expected")
        };
        assert_eq!(s.reader, want);
    }
    let r = parse(json!({"kind":"Unsubscribe","subscriptionId":"sub-1"}));
    assert_eq!(r.body, RequestBody::Unsubscribe(Unsubscribe { subscription_id: "sub-1".into() }));
}

#[test]
fn contract_commit_forms() {
    let target = |frame: Value| match parse(frame).body {
        RequestBody::Commit(c) => c.target,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        target(json!({"kind":"Commit","userName":"alice","device":"laptop","topic":"orders","scope":"global",
                      "messageId":"m-1","timestamp":T})),
        CommitTarget::MessageId { message_id: "m-1".into(), partition: None }
    );
    assert_eq!(
        target(json!({"kind":"Commit","topic":"orders","partition":0,"offset":41})),
        CommitTarget::Offset { partition: 0, offset: 41 }
    );
    assert_eq!(
        target(json!({"kind":"Commit","topic":"orders","partition":0,"upTo":41})),
        CommitTarget::UpTo { partition: 0, up_to: 41 }
    );
}

#[test]
fn contract_transactions_and_audit() {
    let r = parse(json!({"kind":"BeginTransaction","timeoutMs":10000}));
    assert_eq!(r.body, RequestBody::BeginTransaction(BeginTransaction { timeout_ms: Some(10_000) }));
    let r =
        parse(json!({"kind":"Publish","topic":"orders","messageId":"m","messagePayload":"p","transactionId":"tx-1"}));
    let RequestBody::Publish(p) = r.body else { panic!("Publish expected") };
    assert_eq!(p.transaction_id.as_deref(), Some("tx-1"));
    let r = parse(json!({"kind":"Commit","topic":"orders","partition":0,"upTo":3,"transactionId":"tx-1"}));
    let RequestBody::Commit(c) = r.body else { panic!("Commit expected") };
    assert_eq!(c.transaction_id.as_deref(), Some("tx-1"));
    let tx = TransactionRef { transaction_id: "tx-1".into() };
    assert_eq!(
        parse(json!({"kind":"CommitTransaction","transactionId":"tx-1"})).body,
        RequestBody::CommitTransaction(tx.clone())
    );
    assert_eq!(
        parse(json!({"kind":"RollbackTransaction","transactionId":"tx-1"})).body,
        RequestBody::RollbackTransaction(tx)
    );
    let r = parse(json!({"kind":"AuditProof","topic":"ledger","partition":0,"from":0,"to":10}));
    let want = AuditRange { topic: topic("ledger"), scope: Scope::Global, partition: 0, from: 0, to: 10 };
    assert_eq!(r.body, RequestBody::AuditProof(want));
}

// ---- responses of the contract -------------------------------------------

#[test]
fn contract_session_logout_and_discovery() {
    check_response(
        sample(ResponseKind::Session),
        json!({"kind":"Session","requestId":"r-1","userName":"alice","device":"laptop","timestamp":T,
               "sessionId":"s-1","topics":[subscription_info_json()]}),
    );
    check_response(sample(ResponseKind::Logout), json!({"kind":"Logout","requestId":"r-1"}));
    check_response(
        sample(ResponseKind::ServiceMap),
        json!({"kind":"ServiceMap","services":{"gateway":["ws://h1:8080/v1/ws"],
               "allocator":["h2:7000"],"node":["h3:7100"]},"recommended":"ws://h1:8080/v1/ws"}),
    );
    check_response(
        sample(ResponseKind::ServiceBackupMap),
        json!({"kind":"ServiceBackupMap","topic":"orders","scope":"global","partitions":placement_json()}),
    );
}

#[test]
fn contract_topic_replies() {
    check_response(
        sample(ResponseKind::TopicCreated),
        json!({"kind":"TopicCreated","topic":"orders","scope":"global","partitions":placement_json()}),
    );
    check_response(
        sample(ResponseKind::TopicDeleted),
        json!({"kind":"TopicDeleted","topic":"orders","scope":"global"}),
    );
    check_response(
        sample(ResponseKind::AllTopics),
        json!({"kind":"AllTopics","topics":[{"topic":"orders","scope":"global","owner":"alice","partitions":1,
               "replicationFactor":3,"messageCount":42,"pageSize":100,"audited":false}]}),
    );
    check_response(sample(ResponseKind::Topics), json!({"kind":"Topics","topics":[subscription_info_json()]}));
}

#[test]
fn contract_published_single_and_batch() {
    check_response(
        sample(ResponseKind::Published),
        json!({"kind":"Published","topic":"orders","messageId":"m-1","partition":0,"offset":41,"duplicate":false}),
    );
    let batch = Response::Published(Published {
        topic: topic("orders"),
        scope: Scope::Global,
        outcome: PublishOutcome::Batch {
            message_ids: vec!["a".into(), "b".into()],
            partitions: vec![0, 1],
            offsets: vec![7, 3],
            duplicates: vec![false, true],
        },
        transaction_id: Some("tx-1".into()),
    });
    check_response(
        batch,
        json!({"kind":"Published","topic":"orders","offsets":[7,3],"partitions":[0,1],"duplicates":[false,true]}),
    );
}

#[test]
fn contract_subscription_frames() {
    check_response(
        sample(ResponseKind::Subscribed),
        json!({"kind":"Subscribed","subscriptionId":"sub-1","topic":"orders","scope":"global","group":"laptop",
               "partitions":[{"partition":0,"startOffset":40,"endOffset":50}]}),
    );
    let message = json!({"kind":"Message","subscriptionId":"sub-1","topic":"orders","scope":"global","partition":0,
        "offset":41,"messageId":"m-1","userName":"alice","device":"laptop","timestamp":T,"messagePayload":"hello",
        "appendedAt":"2024-05-01T12:00:00.250Z","redelivered":false,"deliveryCount":1});
    check_response(sample(ResponseKind::Message), message.clone());
    let pushed: Value = serde_json::from_str(&sample(ResponseKind::Message).to_frame()).expect("json");
    assert_eq!(pushed, message, "a plain Message has exactly the contract's fields");

    let Response::Message(mut m) = sample(ResponseKind::Message) else { panic!("Message expected") };
    (m.pending, m.hash, m.redelivered, m.delivery_count) = (true, Some("ab".repeat(32)), true, 2);
    check_response(
        Response::Message(m),
        json!({"kind":"Message","pending":true,"hash":"ab".repeat(32),"redelivered":true,"deliveryCount":2}),
    );
    check_response(sample(ResponseKind::SubscriptionEnd), json!({"kind":"SubscriptionEnd","subscriptionId":"sub-1"}));
    check_response(
        sample(ResponseKind::Committed),
        json!({"kind":"Committed","topic":"orders","partition":0,"committedOffset":42}),
    );
    check_response(sample(ResponseKind::Unsubscribed), json!({"kind":"Unsubscribed","subscriptionId":"sub-1"}));
}

#[test]
fn contract_transaction_audit_and_error_replies() {
    check_response(
        sample(ResponseKind::TransactionBegun),
        json!({"kind":"TransactionBegun","transactionId":"tx-1","expiresAt":"2024-05-01T12:00:10Z"}),
    );
    check_response(
        sample(ResponseKind::TransactionCommitted),
        json!({"kind":"TransactionCommitted","transactionId":"tx-1"}),
    );
    check_response(
        sample(ResponseKind::TransactionRolledBack),
        json!({"kind":"TransactionRolledBack","transactionId":"tx-1"}),
    );
    check_response(
        sample(ResponseKind::AuditProof),
        json!({"kind":"AuditProof","topic":"ledger","partition":0,"from":0,"to":1}),
    );
    check_response(
        sample(ResponseKind::Error),
        json!({"kind":"Error","requestId":"r-1","code":"TopicExists","message":"human-readable reason"}),
    );
}
