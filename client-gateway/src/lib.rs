//! Zya's client gateway: speaks the JSON WebSocket protocol
//! (`docs/protocol.md` in this crate's folder is the project's reference)
//! to browsers and apps, and gRPC to the allocators and storage nodes.
//!
//! - [`protocol`]: the JSON frames, their validation and error codes.
//! - [`auth`]: token verification behind one interface (development
//!   secret now; OpenID Connect later without touching the protocol code).
//! - [`session`]: per-connection state machines (flow control).
//! - [`backend`]: the catalogue and partitions, as the gateway sees them.
//! - [`conn`]: one WebSocket connection, its requests and subscriptions.
//! - [`server`]: the listener, the upgrade, and the catalogue registration.
//! - [`config`]: the command line.

pub mod auth;
pub mod backend;
pub mod config;
pub mod conn;
pub mod protocol;
pub mod server;
pub mod session;
