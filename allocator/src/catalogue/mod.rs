//! The cluster catalogue: members (storage nodes, gateways, allocators),
//! topics in the global and per-user namespaces with their owners, admins
//! and placements, and who may create global topics.
//!
//! `state` holds the catalogue and its pure `apply`; `command` the commands
//! replicated through the catalogue's Raft group; `model` the types. The
//! Raft state machine adapter (`store`) does the IO.

pub mod command;
pub mod model;
pub mod state;
pub mod store;
