//! The running gateway, as a library: the binary `tf` parses arguments and
//! prints; everything that runs lives here.
//!
//! Owns the data dir (opened once as a capability, [`datadir`]), the
//! service behind the admin API ([`Service`], implementing
//! [`tf_admin::Control`], also used directly by the CLI when no gateway
//! runs), building and swapping the proxy's snapshot ([`snapshot`]),
//! hot-loading the components in `<data>/connectors/` (through a
//! [`ComponentLoader`]), and running a gateway in this process
//! ([`RunningGateway`]: proxy, admin API, audit writer, watcher).
//!
//! It never parses arguments, prints to stdout, or uses `anyhow`: every
//! fallible operation has its own error type, and the binary adds context.

pub mod datadir;
mod gateway;
mod loader;
mod service;
pub mod snapshot;

pub use datadir::DataDir;
pub use gateway::{
    GatewayOptions, OpenLocalError, ProxyOptions, RunningGateway, StartError, StopError, open_local,
};
pub use loader::{ComponentLoader, LoadFailure, LoadedComponent};
pub use service::{Refusal, Scan, Service};

/// An error and its sources, joined by `": "` (what `anyhow`'s `{:#}`
/// shows), for messages that cross the admin API as text.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // thiserror's `{0}` messages often already end with their source.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
