//! The MCP connector: Model Context Protocol servers over Streamable HTTP.
//! Every JSON-RPC method a client can send is an action (`tools/list` →
//! `mcp.tools.list`), each tool call is `mcp.tools.<tool name>`, and the
//! HTTP-level operations are `mcp.stream.open` (GET) and
//! `mcp.session.delete` (DELETE).
//!
//! Owns the method table (generated from `specs/mcp.methods.jsonl` into
//! `routes.rs`, see `naming.rs`), classification of one request (JSON
//! read with the SDK's validating reader, `tameflare_sdk::json`), and
//! the default credential placement (`authorization: Bearer {secret}`).
//! Claims no domains: each instance's MCP servers are host configuration.
//! Never sees a credential, never keeps state between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Mcp;

impl Connector for Mcp {
    fn describe() -> Descriptor {
        Descriptor {
            name: "mcp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: Vec::new(),
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        actions::classify(req)
    }
}

tameflare_sdk::export_connector!(Mcp);
