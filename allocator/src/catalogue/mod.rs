//! The cluster catalogue: members (storage nodes, gateways, allocators),
//! topics in the global and per-user namespaces with their owners, admins
//! and placements, who may create global topics, and each user's durable
//! subscriptions.
//!
//! `state` holds the catalogue and its pure `apply`; `command` the commands
//! replicated through the catalogue's Raft group; `model` the types;
//! `subscriptions` the subscription registry. The Raft state machine adapter
//! (`store`) does the IO.

pub mod command;
pub mod model;
pub mod state;
pub mod store;
pub mod subscriptions;
