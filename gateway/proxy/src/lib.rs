//! The proxy: the agent-facing listener, CONNECT and TLS interception, the
//! request pipeline (identify → target → route → read → classify → authorize
//! → inject → forward) over one typed per-request context, the pooled
//! upstream client, and the single mapping from pipeline errors to responses.
//!
//! It reaches the connector host, the vault and the audit store only through
//! the ports of `tf-core` and the [`tf_core::Snapshot`] swapped in by the
//! composition root; it never depends on wasmtime, redb, axum or the vault,
//! makes no policy decision of its own, and never puts a credential in a log
//! line, an error, an audit entry or a response. Any failure before
//! forwarding is a deny. Every request that reaches the pipeline leaves
//! exactly one audit record (two for a mutation: write-ahead and
//! completion), whatever ends it, cancellation included.

mod body;
mod config;
mod pipeline;
mod record;
mod server;
mod upstream;

pub use body::ResponseBody;
pub use config::{ConnectTo, ConnectToError, ProxyConfig};
pub use record::AUDIT_POLICY;
pub use server::{NewProxyError, Proxy, serve};
pub use upstream::ConnectError;
