//! Node-level liveness instead of per-group heartbeats.
//!
//! Plain Raft has every leader heartbeat every follower of every group; a
//! node hosting thousands of partitions spends most of its idle CPU on those
//! RPCs (measured: ~30 % of a core for 1,000 idle groups with 500 ms
//! heartbeats). So groups are quiescent: openraft's own heartbeats and
//! election timers are switched off, and one task per node does their job
//! for all groups at once:
//!
//! ```text
//!  every tick ─┬─ ping each peer node (one RPC per node pair)
//!              │     reply: incarnation, version of the set of groups it leads
//!              ├─ fetch a peer's led groups when that version changed
//!              ├─ follower groups whose leader's node is down, restarted,
//!              │  or no longer leads them: start an election after a random delay
//!              └─ led groups with news for followers (new commits, a lagging
//!                 or returning follower): send one heartbeat
//! ```
//!
//! Before standing, a replica checks that no live voter has a newer log
//! (`prevote`). Safety stays with Raft (terms, votes, log matching); this
//! only decides *when* elections and heartbeats happen. A node that is paused or cut off
//! stops answering pings, so its groups fail over as they would with
//! per-group heartbeats. Idle groups send nothing at all.

mod activity;
mod decide;
mod driver;
mod local;
mod peers;
mod prevote;

pub use driver::{run, LivenessConfig};
pub use local::LocalLeaders;
