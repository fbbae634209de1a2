//! Keeps `schema/protocol.schema.json` and the Rust types from drifting:
//! every kind the enums know has a definition (and no other kind does),
//! the error codes and limits agree, every field a sample response writes
//! is declared, and every field the parser reads in a maximal request is
//! declared too.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::limits::*;
use super::samples::sample;
use super::*;

const SCHEMA: &str = include_str!("../../schema/protocol.schema.json");

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("the schema file is JSON")
}

fn def<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["$defs"].get(name).unwrap_or_else(|| panic!("schema has no $defs/{name}"))
}

fn names(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        _ => BTreeSet::new(),
    }
}

/// The properties a definition declares: its own and its `allOf` refs'.
fn declared(schema: &Value, d: &Value) -> BTreeSet<String> {
    let mut props = names(&d["properties"]);
    for part in d["allOf"].as_array().into_iter().flatten() {
        if let Some(target) = part["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            props.extend(names(&def(schema, target)["properties"]));
        }
    }
    props
}

/// The `$ref` targets of a frame union (`ClientFrame` or `ServerFrame`).
fn union(schema: &Value, name: &str) -> BTreeSet<String> {
    let alternatives = def(schema, name)["oneOf"].as_array().unwrap_or_else(|| panic!("{name} has no oneOf"));
    alternatives.iter().filter_map(|a| a["$ref"].as_str()?.strip_prefix("#/$defs/").map(str::to_owned)).collect()
}

/// Every kind has `<prefix>.<kind>` with a matching `kind` const, the union
/// lists exactly those, and no other `<prefix>.*` definition exists.
fn check_kinds(schema: &Value, prefix: &str, union_name: &str, kinds: &[&str]) {
    let want: BTreeSet<String> = kinds.iter().map(|k| format!("{prefix}.{k}")).collect();
    for kind in kinds {
        assert_eq!(def(schema, &format!("{prefix}.{kind}"))["properties"]["kind"]["const"], *kind);
    }
    assert_eq!(union(schema, union_name), want, "{union_name} lists exactly the known kinds");
    let defined: BTreeSet<String> =
        names(&schema["$defs"]).into_iter().filter(|n| n.starts_with(&format!("{prefix}."))).collect();
    assert_eq!(defined, want, "no {prefix} definition for a kind the code does not know");
}

#[test]
fn the_schema_is_draft_2020_12_and_accepts_either_direction() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["anyOf"], json!([{"$ref":"#/$defs/ClientFrame"},{"$ref":"#/$defs/ServerFrame"}]));
}

#[test]
fn every_request_kind_has_exactly_one_definition() {
    let kinds: Vec<&str> = RequestKind::ALL.iter().map(|k| k.as_str()).collect();
    check_kinds(&schema(), "request", "ClientFrame", &kinds);
}

#[test]
fn every_response_kind_has_exactly_one_definition() {
    let kinds: Vec<&str> = ResponseKind::ALL.iter().map(|k| k.as_str()).collect();
    check_kinds(&schema(), "response", "ServerFrame", &kinds);
}

#[test]
fn error_codes_and_limits_agree() {
    let s = schema();
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(def(&s, "ErrorCode")["enum"], json!(codes));
    assert_eq!(def(&s, "RequestId")["maxLength"], MAX_REQUEST_ID_CHARS);
    assert_eq!(def(&s, "TopicName")["pattern"], format!("^[A-Za-z0-9._-]{{1,{MAX_TOPIC_NAME_CHARS}}}$"));
    assert_eq!(def(&s, "Label")["maxLength"], MAX_LABEL_CHARS);
    assert_eq!(def(&s, "Id")["maxLength"], MAX_ID_CHARS);
    assert_eq!(def(&s, "Key")["maxLength"], MAX_KEY_CHARS);
    assert_eq!(def(&s, "Timestamp")["maxLength"], MAX_TIMESTAMP_CHARS);
    assert_eq!(def(&s, "TimeoutMs")["maximum"], MAX_TIMEOUT_MS);
    let create = &def(&s, "request.CreateTopic")["properties"];
    assert_eq!(create["partitions"]["maximum"], MAX_PARTITIONS);
    assert_eq!(create["replicationFactor"]["maximum"], MAX_REPLICATION_FACTOR);
    assert_eq!(create["pageSize"]["maximum"], MAX_BATCH_SIZE);
    assert_eq!(create["pageSize"]["default"], DEFAULT_PAGE_SIZE);
    let subscribe = &def(&s, "request.Subscribe")["properties"];
    assert_eq!(subscribe["batchSize"]["maximum"], MAX_BATCH_SIZE);
    assert_eq!(subscribe["commitRatio"]["default"], DEFAULT_COMMIT_RATIO);
    assert_eq!(def(&s, "request.Publish")["properties"]["messages"]["maxItems"], MAX_PUBLISH_BATCH);
    assert_eq!(def(&s, "response.AuditProof")["properties"]["hashVersion"]["const"], AUDIT_HASH_VERSION);
}

/// Every top-level field of `frame` is declared by its definition, and
/// every field the definition requires is present.
fn check_frame(schema: &Value, prefix: &str, frame: &Value) {
    let kind = frame["kind"].as_str().unwrap_or_else(|| panic!("no kind in {frame}"));
    let d = def(schema, &format!("{prefix}.{kind}"));
    let keys = names(frame);
    let known = declared(schema, d);
    let undeclared: Vec<_> = keys.difference(&known).collect();
    assert!(undeclared.is_empty(), "{prefix}.{kind} does not declare {undeclared:?}");
    let missing: Vec<_> = names(&d["required"]).into_iter().filter(|r| !keys.contains(r)).collect();
    assert!(missing.is_empty(), "{frame} lacks required {missing:?}");
}

#[test]
fn response_frames_use_only_declared_fields() {
    let s = schema();
    let mut frames: Vec<Response> = ResponseKind::ALL.iter().map(|k| sample(*k)).collect();
    let Response::Message(mut m) = sample(ResponseKind::Message) else { panic!("Message expected") };
    (m.key, m.pending, m.hash) = (Some("k".into()), true, Some("ab".repeat(32)));
    frames.push(Response::Message(m));
    frames.push(Response::Published(Published {
        topic: TopicName::new("orders").expect("valid"),
        scope: Scope::Local,
        outcome: PublishOutcome::Batch {
            message_ids: vec!["a".into()],
            partitions: vec![0],
            offsets: vec![1],
            duplicates: vec![false],
        },
        transaction_id: Some("tx".into()),
    }));
    for response in frames {
        let id = response.kind().is_direct_reply().then(|| RequestId::new("r").expect("valid"));
        let frame: Value = serde_json::from_str(&response.reply_to(id).to_frame()).expect("json");
        check_frame(&s, "response", &frame);
    }
}

/// One frame per request kind (two for Publish, three for Commit) carrying
/// every field the parser reads.
pub(super) fn maximal_requests() -> Vec<Value> {
    let common = json!({"requestId":"r-1","userName":"alice","device":"laptop","timestamp":"2024-05-01T12:00:00Z"});
    let t = json!({"topic":"orders","scope":"global"});
    let bodies = [
        json!({"kind":"Handshake"}),
        json!({"kind":"Login","token":"<JWT>"}),
        json!({"kind":"Logout"}),
        json!({"kind":"CreateTopic","partitions":2,"replicationFactor":3,"pageSize":100,"audited":true}),
        json!({"kind":"DeleteTopic"}),
        json!({"kind":"AllTopics"}),
        json!({"kind":"Topics"}),
        json!({"kind":"ServiceBackupMap"}),
        json!({"kind":"Publish","messageId":"m","messagePayload":"p","key":"k","timeoutMs":5000,"transactionId":"tx"}),
        json!({"kind":"Publish","key":"k","timeoutMs":5000,"transactionId":"tx","messages":[
            {"messageId":"a","messagePayload":"1","key":"k1"},{"messageId":"b","messaggePayload":"2"}]}),
        json!({"kind":"Subscribe","reader":{"from":"MessageRange","start":0,"end":10,"partition":0},
               "batchSize":100,"commitRatio":0.5,"isolation":"uncommitted","group":"shared"}),
        json!({"kind":"Commit","messageId":"m","partition":0,"group":"shared","transactionId":"tx"}),
        json!({"kind":"Commit","partition":0,"offset":41,"group":"shared","transactionId":"tx"}),
        json!({"kind":"Commit","partition":0,"upTo":41,"group":"shared","transactionId":"tx"}),
        json!({"kind":"Unsubscribe","subscriptionId":"sub-1"}),
        json!({"kind":"BeginTransaction","timeoutMs":10000}),
        json!({"kind":"CommitTransaction","transactionId":"tx"}),
        json!({"kind":"RollbackTransaction","transactionId":"tx"}),
        json!({"kind":"AuditProof","partition":0,"from":0,"to":10}),
    ];
    let topical = ["CreateTopic", "DeleteTopic", "ServiceBackupMap", "Publish", "Subscribe", "Commit", "AuditProof"];
    bodies
        .into_iter()
        .map(|mut body| {
            let obj = body.as_object_mut().expect("literal object");
            let extra = if topical.contains(&obj["kind"].as_str().unwrap_or_default()) { t.clone() } else { json!({}) };
            for (k, v) in common.as_object().into_iter().flatten().chain(extra.as_object().into_iter().flatten()) {
                obj.insert(k.clone(), v.clone());
            }
            body
        })
        .collect()
}

#[test]
fn maximal_requests_parse_and_use_only_declared_fields() {
    let s = schema();
    let frames = maximal_requests();
    let mut seen = BTreeSet::new();
    for frame in &frames {
        let request = parse_request(&frame.to_string()).unwrap_or_else(|e| panic!("{frame}: {e}"));
        assert_eq!(frame["kind"], request.kind().as_str());
        seen.insert(request.kind());
        check_frame(&s, "request", frame);
    }
    assert_eq!(seen.len(), RequestKind::ALL.len(), "a maximal frame for every request kind");
}
