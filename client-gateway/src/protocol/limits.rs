//! The protocol's fixed limits, in one place so the parser, the reference
//! (`docs/protocol.md`) and the schema (`schema/protocol.schema.json`) agree.
//!
//! Every string and number a client sends is bounded here, so one frame can
//! never make the gateway allocate or loop without bound. Limits that an
//! operator tunes (frame size, message size, rates) are configuration, not
//! protocol, and live with the server; only their defaults are named here.

/// Longest `requestId`, in characters (the contract's limit).
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// Longest topic name, in characters (names are ASCII, so also bytes). The
/// catalogue checks the same rule again when it applies a `CreateTopic`.
pub const MAX_TOPIC_NAME_CHARS: usize = 200;

/// Longest `userName`, `device` or `group`. 255 because an OpenID Connect
/// subject (which `userName` must equal) may be that long.
pub const MAX_LABEL_CHARS: usize = 255;

/// Longest `messageId`, `subscriptionId` or `transactionId`.
pub const MAX_ID_CHARS: usize = 256;

/// Longest partition `key`.
pub const MAX_KEY_CHARS: usize = 1024;

/// Longest `timestamp` string; RFC 3339 needs at most 35 with nanoseconds.
pub const MAX_TIMESTAMP_CHARS: usize = 64;

/// Most partitions a topic may have; the catalogue's own limit (each
/// partition is a Raft group, so a typo must not create a million).
pub const MAX_PARTITIONS: u32 = 10_000;

/// Largest `replicationFactor`: a Raft group with more voters is slower,
/// not safer, and a typo must not ask for a thousand replicas.
pub const MAX_REPLICATION_FACTOR: u32 = 15;

/// Largest `pageSize` and `batchSize`: the most delivered-but-uncommitted
/// messages one subscription may hold. Equal to the session's flow-control
/// cap, because a topic's `pageSize` is the default `batchSize`.
pub const MAX_BATCH_SIZE: u32 = 10_000;

/// Default `pageSize` of a new topic, hence default `batchSize`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Default `commitRatio` of a subscription.
pub const DEFAULT_COMMIT_RATIO: f64 = 0.5;

/// Most messages in one `Publish` with `messages`: bounds the work and the
/// reply arrays of one frame.
pub const MAX_PUBLISH_BATCH: usize = 1000;

/// Longest `timeoutMs` of a `Publish` or `BeginTransaction` (10 minutes): a
/// transaction holds pending writes until it ends.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// Default frame-size limit of the server (1 MiB); a larger frame is closed
/// with WebSocket code 1009 and never parsed.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 20;

/// Longest piece of client input quoted back in an error message (an unknown
/// `kind`, a bad timestamp), so an error reply stays small.
pub const MAX_QUOTED_CHARS: usize = 64;
