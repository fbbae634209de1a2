//! HTTP/2 settings of the storage nodes' gRPC (their server, the partition
//! clients, the Raft peer clients), so large messages (read batches,
//! appends, Raft entries) travel in few frames.
//!
//! Why: HTTP/2's default largest frame is 16 KiB, so a 1 MiB read batch
//! arrived as 64 DATA frames, and the receiving task was woken for each.
//! During a catch-up read of 1 KiB messages the client spent a fifth of its
//! samples in wakeups (`_raw_spin_unlock_irqrestore`). With 1 MiB frames
//! and windows that hold a read stream's buffered batches, the same read
//! went from 1.08–1.14 M to 1.67–1.89 M messages a second (three
//! alternated runs each, one node, 200,000 messages).
//!
//! A receiver announces the largest frame it accepts, so the setting is
//! applied on both sides: by clients for what servers send back (read
//! streams), by servers for what clients send (appends, Raft entries). On
//! the server too, 1 KiB pipelined publishes on three replicas went from
//! 51–59 k to 63–64 k messages a second (three alternated runs).

/// Largest DATA frame accepted (HTTP/2 allows up to 16 MiB − 1).
pub const MAX_FRAME: u32 = 1 << 20;
/// Flow-control window of one stream: a read stream buffers up to four
/// batches of about 1 MiB each.
pub const STREAM_WINDOW: u32 = 8 << 20;
/// Flow-control window of one connection (all its streams).
pub const CONNECTION_WINDOW: u32 = 16 << 20;
