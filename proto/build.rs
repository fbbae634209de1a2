//! Compiles the protobuf definitions with protox (pure Rust), so building Zya
//! needs no system `protoc`.
//!
//! `zya/node.proto` is compiled twice: once for its messages and client, and
//! once for its server half alone, in which every type is the first build's
//! except `ReadReply`: the node streams it as a pre-encoded
//! `read_wire::ReadReplyWire` (see that module for why). Both are the same
//! bytes on the wire.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["zya/raft.proto", "zya/node.proto", "zya/catalogue.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let only = |names: &[&str]| {
        let mut set = fds.clone();
        set.file.retain(|f| names.contains(&f.name()));
        set
    };
    // Every service decodes with `codec::ContiguousCodec` (see there for why).
    let configure = || tonic_prost_build::configure().codec_path("crate::codec::ContiguousCodec");
    configure().compile_fds(only(&["zya/raft.proto", "zya/catalogue.proto"]))?;
    // A read message's payload is a slice of the received buffer, not a copy.
    configure()
        .build_server(false)
        .bytes(".zya.node.v1.StoredMessage.payload")
        .compile_fds(only(&["zya/node.proto"]))?;
    let server_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("node_server");
    std::fs::create_dir_all(&server_dir)?;
    configure()
        .build_client(false)
        .out_dir(&server_dir)
        .extern_path(".zya.node.v1", "crate::node")
        .extern_path(".zya.node.v1.ReadReply", "crate::read_wire::ReadReplyWire")
        .compile_fds(only(&["zya/node.proto"]))?;
    Ok(())
}
