//! Per-connection session state of the gateway, as plain state machines
//! (the connection task does the IO).

pub mod flow;

pub use flow::{Flow, FlowError};
