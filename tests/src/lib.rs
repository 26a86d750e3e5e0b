//! The end-to-end harness: a test CA, HTTPS mock upstreams, and the real `tf`
//! binary started as a separate process in its own temporary data dir.
//!
//! Nothing here reaches into the gateway's crates: tests talk to `tf` the way
//! users do (its command line, its proxy port, its files), and every address
//! is on loopback.

mod client;
mod gateway;
mod setup;
mod upstream;

pub use client::{ClientError, ProxyClient, request, tls_client_config};
pub use gateway::{Gateway, GatewayBuilder, TfOutput, tf_bin};
pub use setup::{Changes, Configure};
pub use upstream::{MockUpstream, Seen, TestCa, UpstreamOptions};

use std::time::Duration;

/// Polls `check` until it returns `Some`, at most `within`; panics with `what` otherwise.
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
    }
}
